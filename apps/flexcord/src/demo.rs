//! `flexcord demo`: the whole product on embedded defaults, with no tokens and no network.
//!
//! Starts the Discord and Twilio emulators in-process, the bridge on `SQLite` (a temporary file
//! unless `--db` is given), the built-in knowledge base and embedded cases, and a blog feed
//! served on loopback, then plays a customer journey through the real wire protocols, prints
//! both sides and the final case, and shows the blog's new post relayed into #announcements.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use flexcord_cases::{CaseStore, TimelineEvent};
use flexcord_testkit::Emulators;
use flexcord_testkit::discord::{DiscordConfig, DiscordEmulator, StoredMessage};
use flexcord_testkit::twilio::{TaskEnd, TwilioConfig, TwilioEmulator};
use tokio_util::sync::CancellationToken;

use crate::app::{App, RunError};
use crate::config::Config;

const WAIT: Duration = Duration::from_secs(30);

struct Style {
    colour: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn user(&self, text: &str) {
        println!("{} {text}", self.paint("1;36", "customer ▸"));
    }
    fn bot(&self, m: &StoredMessage) {
        if m.content.is_empty() && m.embeds.is_empty() && m.components.is_empty() {
            return; // an interaction's deferred acknowledgement
        }
        println!(
            "{} {}",
            self.paint("1;35", "  discord ◂"),
            m.content.replace('\n', "\n             ")
        );
        for e in &m.embeds {
            let title = e["title"].as_str().unwrap_or("");
            let url = e["url"].as_str().unwrap_or("");
            println!(
                "             {} {title} {}",
                self.paint("35", "▣"),
                self.paint("4", url)
            );
        }
        for row in &m.components {
            let labels: Vec<String> = row["components"]
                .as_array()
                .map(|b| {
                    b.iter()
                        .filter_map(|b| b["label"].as_str().map(|l| format!("[{l}]")))
                        .collect()
                })
                .unwrap_or_default();
            if !labels.is_empty() {
                println!("             {}", self.paint("33", &labels.join(" ")));
            }
        }
    }
    fn agent(&self, text: &str) {
        println!("{} {text}", self.paint("1;32", "   agent ▸"));
    }
    fn note(&self, text: &str) {
        println!("{}", self.paint("2", &format!("           · {text}")));
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Everything the demo runs.
struct Demo {
    discord: DiscordEmulator,
    twilio: TwilioEmulator,
    cases: std::sync::Arc<dyn CaseStore>,
    shutdown: CancellationToken,
    app: tokio::task::JoinHandle<Result<(), RunError>>,
    public: String,
    cases_token: String,
    /// The password of the demo agent (`demo`) on the case pages.
    agent_password: String,
    _temp: Option<tempfile::TempDir>,
}

/// The demo's blog feed: one post published now, served at `http://127.0.0.1:<port>/blog.xml`
/// until the process ends. Returns the feed's URL.
async fn serve_blog() -> Result<String, String> {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc2822)
        .map_err(|e| e.to_string())?;
    let feed = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Example blog</title>\
         <link>https://example.com/blog</link><description>News</description>\
         <item><title>Dark mode is here</title><link>https://example.com/blog/dark-mode</link>\
         <guid>dark-mode</guid><pubDate>{now}</pubDate>\
         <description>&lt;p&gt;Turn it on in &lt;b&gt;Settings&lt;/b&gt;.&lt;/p&gt;</description>\
         </item></channel></rss>"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot serve the demo feed: {e}"))?;
    let url = format!(
        "http://{}/blog.xml",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let router = axum::Router::new().route(
        "/blog.xml",
        axum::routing::get(move || {
            let feed = feed.clone();
            async move { ([("content-type", "application/rss+xml")], feed) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(url)
}

async fn start(db: Option<PathBuf>) -> Result<Demo, String> {
    crate::install_crypto_provider();
    let blog = serve_blog().await?;
    let port = free_port().map_err(|e| format!("no free port: {e}"))?;
    let public = format!("http://127.0.0.1:{port}");
    let Emulators { discord, twilio } = Emulators::start(
        DiscordConfig::default().heartbeat_interval(Duration::from_secs(5)),
        TwilioConfig::default().webhook_base_url(public.clone()),
    )
    .await
    .map_err(|e| format!("cannot start the emulators: {e}"))?;
    let (db, temp) = if let Some(path) = db {
        (path, None)
    } else {
        let dir = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
        (dir.path().join("flexcord-demo.db"), Some(dir))
    };
    let cases_token = format!("demo-{port}");
    let announcements = discord
        .channel_id("announcements")
        .ok_or("the emulator has no #announcements")?;
    let emulators = Emulators { discord, twilio };
    let env: Vec<(String, String)> = emulators
        .app_env()
        .into_iter()
        .chain(
            [
                ("FLEXCORD_SERVER__LISTEN", format!("127.0.0.1:{port}")),
                ("FLEXCORD_SERVER__SHUTDOWN_GRACE", "1s".to_owned()),
                ("FLEXCORD_STORE__URL", format!("sqlite://{}", db.display())),
                ("FLEXCORD_CASES__TOKEN", cases_token.clone()),
                (
                    "FLEXCORD_COMMUNITY__ANNOUNCEMENTS_CHANNEL_ID",
                    announcements.to_string(),
                ),
                ("FLEXCORD_FEEDS__BLOG__URL", blog),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        )
        .collect();
    let Emulators { discord, twilio } = emulators;
    let config = Config::load("", env).map_err(|e| e.to_string())?;
    let app = App::build(config).await.map_err(|e| e.to_string())?;
    let cases = app.cases();
    // An agent account to look at the case pages with (a password of this run).
    let agent_password = format!("demo-password-{port}");
    if let Some(accounts) = app.accounts() {
        accounts
            .set_agent("demo", "Demo Agent", &agent_password)
            .await
            .map_err(|e| format!("cannot add the demo agent: {e}"))?;
    }
    let shutdown = CancellationToken::new();
    let app = tokio::spawn(app.run(shutdown.clone()));
    discord
        .wait_for(|s| s.shard_connected(0), WAIT)
        .await
        .map_err(|_| "the bridge did not connect to the Discord emulator".to_owned())?;
    Ok(Demo {
        discord,
        twilio,
        cases,
        shutdown,
        app,
        public,
        cases_token,
        agent_password,
        _temp: temp,
    })
}

impl Demo {
    /// Waits for the next bot DM after the first `seen` ones.
    async fn next_dm(&self, user: u64, seen: &mut usize) -> Result<StoredMessage, String> {
        let n = *seen + 1;
        let m = self
            .discord
            .wait_for_dm(user, n, WAIT)
            .await
            .map_err(|_| "no answer from the bridge in time".to_owned())?;
        *seen = n;
        Ok(m)
    }

    async fn dm_until(
        &self,
        style: &Style,
        user: u64,
        seen: &mut usize,
        done: impl Fn(&StoredMessage) -> bool,
    ) -> Result<StoredMessage, String> {
        loop {
            let m = self.next_dm(user, seen).await?;
            style.bot(&m);
            if done(&m) {
                return Ok(m);
            }
        }
    }

    async fn stop(self) -> ExitCode {
        self.shutdown.cancel();
        let stopped = tokio::time::timeout(WAIT, self.app).await;
        self.discord.shutdown();
        match stopped {
            Ok(Ok(Ok(()))) => ExitCode::SUCCESS,
            _ => ExitCode::FAILURE,
        }
    }
}

fn custom_id(m: &StoredMessage, prefix: &str) -> Option<String> {
    let json = serde_json::to_string(&m.components).ok()?;
    let start = json.find(prefix)?;
    json[start..].split('"').next().map(str::to_owned)
}

/// Runs `flexcord demo`.
pub async fn run(db: Option<PathBuf>, interactive: bool) -> ExitCode {
    let style = Style {
        colour: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let demo = match start(db).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = if interactive {
        interactive_session(&demo, &style).await
    } else {
        journey(&demo, &style).await
    };
    let code = demo.stop().await;
    match result {
        Ok(()) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn journey(demo: &Demo, style: &Style) -> Result<(), String> {
    let alice = demo.discord.user_id("alice").ok_or("no demo user")?;
    let mut seen = 0;
    println!(
        "{}",
        style.paint(
            "1",
            "flexcord demo: a customer journey, Discord ⇄ bridge ⇄ Twilio Flex (all local)"
        )
    );
    let question = "I forgot my password";
    style.user(question);
    demo.discord
        .inject_dm(alice, question)
        .map_err(|e| e.to_string())?;
    let answer = demo
        .dm_until(style, alice, &mut seen, |m| {
            custom_id(m, "fc:agent:").is_some()
        })
        .await?;
    let agent_button = custom_id(&answer, "fc:agent:").ok_or("no live-agent button")?;
    style.user("[Talk to a live agent]");
    demo.discord
        .inject_button(alice, &agent_button)
        .map_err(|e| e.to_string())?;
    demo.dm_until(style, alice, &mut seen, |m| m.content.contains("CASE-"))
        .await?;
    let agent = demo.twilio.agent("agent:sam");
    let task = agent
        .accept_next(WAIT)
        .await
        .map_err(|e| format!("no task reached the agent: {e}"))?;
    style.note("agent sam accepted the task in Flex");
    demo.dm_until(style, alice, &mut seen, |m| {
        m.content.to_lowercase().contains("joined")
    })
    .await?;
    let conversation = task
        .conversation_sid
        .clone()
        .ok_or("the task has no conversation")?;
    let reply = "Hi Alice, I have sent you a reset link by e-mail. Anything else?";
    style.agent(reply);
    agent
        .send(&conversation, reply)
        .map_err(|e| e.to_string())?;
    demo.dm_until(style, alice, &mut seen, |m| {
        m.content.contains("reset link")
    })
    .await?;
    style.note("the agent closes the task");
    agent
        .end_task(&task.sid, TaskEnd::Completed)
        .map_err(|e| e.to_string())?;
    let rating = demo
        .dm_until(style, alice, &mut seen, |m| {
            custom_id(m, "fc:rate5:").is_some()
        })
        .await?;
    style.user("[★★★★★]");
    demo.discord
        .inject_button(
            alice,
            &custom_id(&rating, "fc:rate5:").ok_or("no rating button")?,
        )
        .map_err(|e| e.to_string())?;
    let number = "CASE-000001"
        .parse()
        .map_err(|e: flexcord_cases::Error| e.to_string())?;
    let mut case = demo.cases.get(number).await.map_err(|e| e.to_string())?;
    for _ in 0..300 {
        if case.rating.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        case = demo.cases.get(number).await.map_err(|e| e.to_string())?;
    }
    println!();
    println!("{}", style.paint("1", "The case:"));
    print!(
        "{}",
        crate::cases::show(demo.cases.as_ref(), &number.to_string()).await?
    );
    if case.rating.is_none() {
        return Err("the rating did not reach the case".into());
    }
    let has_messages = demo
        .cases
        .timeline(number)
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .any(|e| matches!(e.event, TimelineEvent::Message { .. }));
    if !has_messages {
        return Err("the case has no transcript".into());
    }
    println!();
    relayed_announcement(demo, style).await
}

/// Shows the blog's post the bridge relayed into #announcements.
async fn relayed_announcement(demo: &Demo, style: &Style) -> Result<(), String> {
    let channel = demo
        .discord
        .channel_id("announcements")
        .ok_or("no #announcements")?;
    let post = demo
        .discord
        .wait_for_value(
            |s| s.bot_messages_in(channel).first().map(|m| (*m).clone()),
            WAIT,
        )
        .await
        .map_err(|_| "the blog's post did not reach #announcements".to_owned())?;
    println!(
        "{}",
        style.paint(
            "1",
            "#announcements: the blog's new post, relayed from its feed:"
        )
    );
    style.bot(&post);
    if let Some(text) = post.embeds.first().and_then(|e| e["description"].as_str()) {
        println!("             {text}");
    }
    Ok(())
}

/// The first `CASE-` number in `text`.
fn case_number_in(text: &str) -> Option<&str> {
    let start = text.find("CASE-")?;
    let number = text.get(start..start + 11)?;
    number[5..]
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then_some(number)
}

async fn interactive_session(demo: &Demo, style: &Style) -> Result<(), String> {
    use tokio::io::AsyncBufReadExt as _;
    let alice = demo.discord.user_id("alice").ok_or("no demo user")?;
    // Typed lines are on the screen already; piped ones are echoed so the transcript is whole.
    let echo = !std::io::stdin().is_terminal();
    println!("{}", style.paint("1", "flexcord demo --interactive"));
    println!(
        "Type a line to DM the bot as the customer; start it with /agent to answer as the agent"
    );
    println!("(the agent accepts the next task by itself); Ctrl-D ends.");
    println!(
        "Case pages: {}/cases (login: demo, password: {}; API token: {})",
        demo.public, demo.agent_password, demo.cases_token
    );
    let mut seen = 0usize;
    let mut conversation: Option<String> = None;
    let mut shown_cases: Vec<String> = Vec::new();
    let agent = demo.twilio.agent("agent:sam");
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let line = match line {
                    Ok(Some(line)) => line,
                    Ok(None) => return Ok(()),
                    Err(e) => return Err(format!("cannot read stdin: {e}")),
                };
                let line = line.trim();
                if line.is_empty() { continue; }
                if let Some(text) = line.strip_prefix("/agent") {
                    let text = text.trim();
                    if echo { style.agent(text); }
                    if conversation.is_none() {
                        if let Ok(task) = agent.accept_next(Duration::from_secs(2)).await {
                            style.note("agent sam accepted the task in Flex");
                            conversation = task.conversation_sid;
                        } else {
                            style.note("no conversation is waiting for an agent yet");
                            continue;
                        }
                    }
                    if let Some(c) = &conversation {
                        agent.send(c, text).map_err(|e| e.to_string())?;
                    }
                } else {
                    if echo { style.user(line); }
                    demo.discord.inject_dm(alice, line).map_err(|e| e.to_string())?;
                }
            }
            m = demo.discord.wait_for_dm(alice, seen + 1, Duration::from_secs(3600)) => {
                if let Ok(m) = m {
                    seen += 1;
                    style.bot(&m);
                    if let Some(number) = case_number_in(&m.content)
                        && !shown_cases.iter().any(|n| n == number)
                    {
                        style.note(&format!("case page: {}/cases/{number}", demo.public));
                        shown_cases.push(number.to_owned());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_numbers_are_found_in_text() {
        assert_eq!(
            case_number_in("Your case number is CASE-000012."),
            Some("CASE-000012")
        );
        assert_eq!(case_number_in("CASE-12"), None);
        assert_eq!(case_number_in("CASE-00001x"), None);
        assert_eq!(case_number_in("no case"), None);
    }
}
