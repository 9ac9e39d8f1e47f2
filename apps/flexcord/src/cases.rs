//! Opening the case store the configuration names, and the `flexcord cases` commands.

use std::fmt::Write as _;
use std::sync::Arc;

use flexcord_cases::{
    Accounts, Case, CaseClient, CaseFilter, CaseNumber, CaseStatus, CaseStore, PageRequest,
    TimelineEntry, TimelineEvent,
};

use crate::config::{CasesBackend, CasesConfig};

/// The file writers' turns a `SQLite` case store at `cases` shares with the conversation store
/// at `store_url` (`Store::write_turns`): when both name the one database (the default), the
/// case store's writes queue with the conversation store's batches instead of polling
/// `SQLite`'s lock, which under a steady stream of batches could hold a transcript line back for
/// seconds.
pub fn shared_turns(
    cases: &CasesConfig,
    store_url: &str,
    store: &flexcord_store::Store,
) -> Option<Arc<tokio::sync::Mutex<()>>> {
    (cases.backend != CasesBackend::Remote
        && cases.store_url == store_url
        && cases.store_url.starts_with("sqlite:"))
    .then(|| store.write_turns())
    .flatten()
}

/// Opens the embedded store (`cases.store_url`) with its agent accounts, or a client of the
/// remote one (`cases.url`, which keeps its own accounts). An embedded `SQLite` store shares
/// the conversation store's write turns when `turns` is given ([`shared_turns`]).
///
/// # Errors
/// The cases crate's error when the database cannot be opened or migrated, or the remote URL is
/// unusable.
pub async fn open(
    config: &CasesConfig,
    turns: Option<Arc<tokio::sync::Mutex<()>>>,
) -> Result<(Arc<dyn CaseStore>, Option<Arc<dyn Accounts>>), flexcord_cases::Error> {
    if let (CasesBackend::Remote, Some(url)) = (config.backend, &config.url) {
        let token = config
            .token
            .as_ref()
            .map(|t| t.expose().to_owned())
            .unwrap_or_default();
        return Ok((Arc::new(CaseClient::new(url.as_str(), token)?), None));
    }
    if let Some(turns) = turns.filter(|_| config.store_url.starts_with("sqlite:")) {
        let store = Arc::new(
            flexcord_cases::SqliteCaseStore::connect_sharing(&config.store_url, turns).await?,
        );
        return Ok((store.clone(), Some(store)));
    }
    let (store, accounts) = flexcord_cases::open_with_accounts(&config.store_url).await?;
    Ok((store, Some(accounts)))
}

/// The cases API and agent pages of the embedded store: the configured token as the
/// integration `default`, agent accounts and sessions in the case database, single sign-on
/// when `cases.oidc_*` is set (its callback under `public_url`).
pub fn service(
    config: &CasesConfig,
    store: Arc<dyn CaseStore>,
    accounts: Arc<dyn Accounts>,
    public_url: &url::Url,
    max_body_bytes: usize,
) -> flexcord_cases::CasesService {
    let token = config
        .token
        .as_ref()
        .map(|t| t.expose().to_owned())
        .unwrap_or_default();
    let mut service = flexcord_cases::CasesService::new(store, token)
        .accounts(accounts)
        .max_body_bytes(max_body_bytes)
        .secure_cookies(public_url.scheme() == "https")
        .session_ttl(config.session_ttl)
        .client_ip_header(config.client_ip_header.clone());
    if let Some(oidc) = &config.oidc {
        service = service.oidc(flexcord_cases::OidcConfig {
            issuer: oidc.issuer.as_str().trim_end_matches('/').to_owned(),
            client_id: oidc.client_id.clone(),
            client_secret: oidc.client_secret.expose().to_owned(),
            redirect_url: format!(
                "{}/cases/oidc/callback",
                public_url.as_str().trim_end_matches('/')
            ),
        });
    }
    service
}

fn one_line(case: &Case) -> String {
    let assignee = case.assignee.as_deref().unwrap_or("-");
    format!(
        "{}  {:<8}  {:<8}  {:<20}  {}",
        case.number,
        case.status.as_str(),
        case.kind.as_str(),
        truncate(&case.requester.name, 20),
        truncate(&case.subject, 60)
    ) + &format!("  (assignee: {assignee})")
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        s.chars()
            .take(max.saturating_sub(1))
            .chain(std::iter::once('…'))
            .collect()
    }
}

/// `flexcord cases list`: newest first, optionally of one status.
/// With `json`, the cases as one JSON array, each as the REST API shows it.
///
/// # Errors
/// An unknown status, or the store's error.
pub async fn list(
    store: &dyn CaseStore,
    status: Option<&str>,
    limit: usize,
    json: bool,
) -> Result<String, String> {
    let statuses = match status {
        Some(s) => vec![s.parse::<CaseStatus>().map_err(|e| e.to_string())?],
        None => Vec::new(),
    };
    let filter = CaseFilter {
        statuses,
        ..CaseFilter::default()
    };
    let limit = u32::try_from(limit.clamp(1, PageRequest::MAX_LIMIT as usize))
        .unwrap_or(PageRequest::MAX_LIMIT);
    let page = store
        .list(&filter, &PageRequest::first(limit))
        .await
        .map_err(|e| e.to_string())?;
    if json {
        let mut out = serde_json::to_string(&page.cases).map_err(|e| e.to_string())?;
        out.push('\n');
        return Ok(out);
    }
    if page.cases.is_empty() {
        return Ok("no cases\n".to_owned());
    }
    let mut out = String::new();
    for case in &page.cases {
        out.push_str(&one_line(case));
        out.push('\n');
    }
    Ok(out)
}

fn timeline_line(entry: &TimelineEntry) -> String {
    let what = match &entry.event {
        TimelineEvent::Created { kind, subject } => format!("opened {kind}: {subject}"),
        TimelineEvent::StatusChanged { from, to, reason } => match reason {
            Some(r) => format!("status {from} -> {to} ({r})"),
            None => format!("status {from} -> {to}"),
        },
        TimelineEvent::Assigned {
            assignee,
            assignee_name,
        } => format!(
            "assigned to {}",
            assignee_name
                .as_deref()
                .or(assignee.as_deref())
                .unwrap_or("nobody")
        ),
        TimelineEvent::PriorityChanged { from, to } => format!("priority {from} -> {to}"),
        TimelineEvent::Note { text } => format!("note: {text}"),
        TimelineEvent::Message { text } => format!("says: {text}"),
        TimelineEvent::Linked { url, title } => {
            format!("linked {} {url}", title.as_deref().unwrap_or(""))
        }
        TimelineEvent::Rated { score, comment } => match comment {
            Some(c) => format!("rated {score}/5: {c}"),
            None => format!("rated {score}/5"),
        },
    };
    format!(
        "  {}  {:<24} {what}",
        clock(entry.at),
        truncate(entry.actor_name.as_deref().unwrap_or(&entry.actor), 24)
    )
}

/// A timeline time as `2026-11-25 09:40:50Z`, in UTC to the second.
pub(crate) fn clock(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// `flexcord cases show <number>`: the case and its timeline.
///
/// # Errors
/// A malformed number, or the store's error (e.g. no such case).
pub async fn show(store: &dyn CaseStore, number: &str) -> Result<String, String> {
    let number: CaseNumber = number
        .parse()
        .map_err(|e: flexcord_cases::Error| e.to_string())?;
    let case = store.get(number).await.map_err(|e| e.to_string())?;
    let timeline = store.timeline(number).await.map_err(|e| e.to_string())?;
    let mut out = String::new();
    let _ = writeln!(out, "{}  {}", case.number, case.subject);
    let _ = writeln!(
        out,
        "  kind: {}   status: {}   priority: {}",
        case.kind, case.status, case.priority
    );
    let _ = writeln!(
        out,
        "  requester: {} (discord {})",
        case.requester.name, case.requester.discord_id
    );
    if let Some(a) = &case.assignee {
        let _ = writeln!(out, "  assignee: {a}");
    }
    if let Some(r) = &case.rating {
        let _ = writeln!(
            out,
            "  rating: {}/5{}",
            r.score,
            r.comment
                .as_deref()
                .map(|c| format!(" \"{c}\""))
                .unwrap_or_default()
        );
    }
    if !case.description.is_empty() {
        let _ = writeln!(
            out,
            "  description:\n    {}",
            case.description.replace('\n', "\n    ")
        );
    }
    let _ = writeln!(out, "timeline:");
    for entry in &timeline {
        out.push_str(&timeline_line(entry));
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flexcord_cases::{CaseKind, MessageBatch, NewCase, NewMessage, Rating, Requester};

    #[tokio::test]
    async fn an_embedded_store_in_the_app_database_takes_turns_with_the_conversations() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("flexcord.db").display());
        let conversations = flexcord_store::Store::connect(&url).await.unwrap();
        let config = CasesConfig {
            backend: CasesBackend::Embedded,
            store_url: url.clone(),
            url: None,
            token: None,
            session_ttl: std::time::Duration::from_secs(3600),
            close_after: std::time::Duration::from_secs(3600),
            client_ip_header: None,
            oidc: None,
        };
        let turns = shared_turns(&config, &url, &conversations).expect("one file, one queue");
        assert!(Arc::ptr_eq(
            &turns,
            &conversations.write_turns().expect("sqlite")
        ));
        let elsewhere = CasesConfig {
            store_url: format!("sqlite://{}", dir.path().join("cases.db").display()),
            ..config.clone()
        };
        assert!(shared_turns(&elsewhere, &url, &conversations).is_none());
        let (cases, accounts) = open(&config, Some(turns.clone())).await.unwrap();
        assert!(accounts.is_some());
        let held = turns.clone().lock_owned().await;
        let writing = tokio::spawn(async move {
            cases
                .create(NewCase::new(
                    CaseKind::Bug,
                    "Crash on start",
                    Requester {
                        discord_id: "500".into(),
                        name: "alice".into(),
                    },
                ))
                .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(!writing.is_finished(), "the case write waits for its turn");
        drop(held);
        assert_eq!(writing.await.unwrap().unwrap().subject, "Crash on start");
    }

    #[tokio::test]
    async fn list_and_show_an_embedded_store() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("cases.db").display());
        let store = flexcord_cases::open(&url).await.unwrap();
        assert_eq!(
            list(store.as_ref(), None, 20, false).await.unwrap(),
            "no cases\n"
        );
        let requester = Requester {
            discord_id: "500".into(),
            name: "alice".into(),
        };
        let case = store
            .create(
                NewCase::new(CaseKind::Support, "Cannot log in", requester)
                    .description("since Monday"),
            )
            .await
            .unwrap();
        let _ = store
            .append_messages(
                case.number,
                MessageBatch::new(vec![NewMessage::new(
                    "discord:500",
                    "help me",
                    time::OffsetDateTime::now_utc(),
                )]),
            )
            .await
            .unwrap();
        let _ = store
            .rate(
                case.number,
                Rating {
                    score: 5,
                    comment: Some("great".into()),
                },
            )
            .await
            .unwrap();
        let listed = list(store.as_ref(), Some("new"), 20, false).await.unwrap();
        assert!(listed.starts_with("CASE-000001  new"), "{listed}");
        assert!(listed.contains("Cannot log in"), "{listed}");
        assert_eq!(
            list(store.as_ref(), Some("resolved"), 20, false)
                .await
                .unwrap(),
            "no cases\n"
        );
        assert!(
            list(store.as_ref(), Some("bogus"), 20, false)
                .await
                .is_err()
        );
        let json = list(store.as_ref(), None, 20, true).await.unwrap();
        let cases: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(cases.as_array().map(Vec::len), Some(1), "{json}");
        assert_eq!(cases[0]["number"], "CASE-000001", "{json}");
        assert_eq!(cases[0]["subject"], "Cannot log in", "{json}");
        assert_eq!(
            list(store.as_ref(), Some("resolved"), 20, true)
                .await
                .unwrap(),
            "[]\n"
        );
        let shown = show(store.as_ref(), "CASE-000001").await.unwrap();
        for needle in [
            "Cannot log in",
            "requester: alice",
            "rating: 5/5 \"great\"",
            "says: help me",
            "since Monday",
        ] {
            assert!(shown.contains(needle), "{needle} in {shown}");
        }
        let stamp = |line: &str| {
            line.get(2..22)
                .is_some_and(|t| t.ends_with('Z') && t.as_bytes().get(10) == Some(&b' '))
        };
        let entries: Vec<&str> = shown
            .lines()
            .skip_while(|l| *l != "timeline:")
            .skip(1)
            .collect();
        assert!(!entries.is_empty(), "{shown}");
        assert!(
            entries.iter().all(|l| stamp(l)),
            "timeline times are printed to the second in UTC: {shown}"
        );
        assert!(show(store.as_ref(), "CASE-000009").await.is_err());
        assert!(show(store.as_ref(), "nope").await.is_err());
    }
}
