//! The `CaseStore` behaviour suite, run against SQLite, Postgres and `CaseClient` over HTTP.

use flexcord_cases::{
    Assignment, CaseFilter, CaseKind, CaseNumber, CaseSource, CaseStatus, CaseStore, ErrorKind,
    MessageBatch, NewCase, NewLink, NewMessage, NewNote, PageRequest, Priority, PriorityChange,
    Rating, StatusChange, TimelineEvent,
};
use time::macros::datetime;

use crate::common::{new_case, requester};

fn num(n: u32) -> CaseNumber {
    CaseNumber::new(n).expect("non-zero")
}

async fn create_numbers_cases_in_order(store: &dyn CaseStore) {
    let first = store
        .create(
            new_case(CaseKind::Support, "Cannot log in")
                .description("The login page spins forever")
                .source(CaseSource {
                    guild_id: Some("111".into()),
                    channel_id: Some("222".into()),
                    message_id: None,
                    twilio_sid: Some("CH00000000000000000000000000000001".into()),
                }),
        )
        .await
        .expect("create");
    let second = store
        .create(new_case(CaseKind::Bug, "Crash"))
        .await
        .expect("create");
    assert_eq!(first.number.to_string(), "CASE-000001");
    assert_eq!(second.number.to_string(), "CASE-000002");
    assert_eq!(first.status, CaseStatus::New);
    assert_eq!(first.priority, Priority::Normal);
    assert_eq!(first.resolved_at, None);
    let stored = store.get(first.number).await.expect("get");
    assert_eq!(stored, first, "what create returns is what get reads back");
    assert_eq!(
        stored.source.twilio_sid.as_deref(),
        Some("CH00000000000000000000000000000001")
    );
    let timeline = store.timeline(first.number).await.expect("timeline");
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0].actor, "discord:1001");
    assert_eq!(
        timeline[0].event,
        TimelineEvent::Created {
            kind: CaseKind::Support,
            subject: "Cannot log in".into()
        }
    );
}

async fn unknown_case_is_not_found(store: &dyn CaseStore) {
    let err = store.get(num(42)).await.expect_err("no case 42");
    assert_eq!(err.kind(), &ErrorKind::NotFound { number: num(42) });
    let err = store
        .transition(num(42), StatusChange::new(CaseStatus::Open, "agent"))
        .await
        .expect_err("no case 42");
    assert_eq!(err.kind(), &ErrorKind::NotFound { number: num(42) });
    let err = store
        .add_note(
            num(42),
            NewNote {
                author: "agent".into(),
                text: "hi".into(),
                author_name: None,
                via: None,
            },
        )
        .await
        .expect_err("no case 42");
    assert_eq!(err.kind(), &ErrorKind::NotFound { number: num(42) });
    let err = store.timeline(num(42)).await.expect_err("no case 42");
    assert_eq!(err.kind(), &ErrorKind::NotFound { number: num(42) });
}

async fn bad_input_is_refused_and_loses_nothing(store: &dyn CaseStore) {
    let err = store
        .create(new_case(CaseKind::Bug, "   "))
        .await
        .expect_err("blank subject");
    assert!(
        matches!(err.kind(), ErrorKind::Invalid { message } if message.contains("subject")),
        "{err}"
    );
    let long = "x".repeat(201);
    assert!(matches!(
        store
            .create(new_case(CaseKind::Bug, &long))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Invalid { .. }
    ));
    let case = store
        .create(new_case(CaseKind::Bug, "Real one"))
        .await
        .expect("create");
    assert_eq!(case.number, num(1), "refused creations take no number");
    let err = store
        .rate(
            case.number,
            Rating {
                score: 6,
                comment: None,
            },
        )
        .await
        .expect_err("score 6");
    assert!(matches!(err.kind(), ErrorKind::Invalid { .. }), "{err}");
    let err = store
        .append_messages(
            case.number,
            MessageBatch {
                via: None,
                messages: Vec::new(),
            },
        )
        .await
        .expect_err("empty batch");
    assert!(matches!(err.kind(), ErrorKind::Invalid { .. }), "{err}");
    let err = store
        .list(
            &CaseFilter::default(),
            &PageRequest {
                cursor: Some("garbage".into()),
                limit: None,
            },
        )
        .await
        .expect_err("bad cursor");
    assert!(matches!(err.kind(), ErrorKind::Invalid { .. }), "{err}");
    let err = store
        .list(&CaseFilter::default(), &PageRequest::first(0))
        .await
        .expect_err("limit 0");
    assert!(matches!(err.kind(), ErrorKind::Invalid { .. }), "{err}");
    assert_eq!(
        store.timeline(case.number).await.expect("timeline").len(),
        1
    );
}

async fn status_follows_the_lifecycle(store: &dyn CaseStore) {
    let case = store
        .create(new_case(CaseKind::Support, "Refund"))
        .await
        .expect("create");
    let n = case.number;
    let open = store
        .transition(n, StatusChange::new(CaseStatus::Open, "agent:alice"))
        .await
        .expect("open");
    assert_eq!(open.status, CaseStatus::Open);
    assert!(open.updated_at >= case.updated_at);
    store
        .transition(n, StatusChange::new(CaseStatus::Pending, "agent:alice"))
        .await
        .expect("pending");
    let resolved = store
        .transition(
            n,
            StatusChange::new(CaseStatus::Resolved, "system").reason("idle"),
        )
        .await
        .expect("resolved");
    assert!(
        resolved.resolved_at.is_some(),
        "resolving stamps resolved_at"
    );
    let again = store
        .transition(n, StatusChange::new(CaseStatus::Resolved, "system"))
        .await
        .expect("same status");
    assert_eq!(
        again, resolved,
        "asking for the current status changes nothing"
    );
    let reopened = store
        .transition(n, StatusChange::new(CaseStatus::Open, "discord:1001"))
        .await
        .expect("reopen");
    assert_eq!(reopened.resolved_at, None, "reopening clears resolved_at");
    store
        .transition(n, StatusChange::new(CaseStatus::Resolved, "agent:alice"))
        .await
        .expect("resolve");
    let closed = store
        .transition(n, StatusChange::new(CaseStatus::Closed, "system"))
        .await
        .expect("close");
    assert_eq!(closed.status, CaseStatus::Closed);
    assert!(closed.resolved_at.is_some(), "closing keeps resolved_at");
    assert_eq!(store.get(n).await.expect("get"), closed);

    let err = store
        .transition(n, StatusChange::new(CaseStatus::Open, "agent"))
        .await
        .expect_err("closed is final");
    assert_eq!(
        err.kind(),
        &ErrorKind::IllegalTransition {
            number: n,
            from: CaseStatus::Closed,
            to: CaseStatus::Open
        }
    );
    assert!(!err.is_retryable());

    let changes: Vec<_> = store
        .timeline(n)
        .await
        .expect("timeline")
        .into_iter()
        .filter_map(|e| match e.event {
            TimelineEvent::StatusChanged { from, to, reason } => Some((e.actor, from, to, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(changes.len(), 6, "{changes:?}");
    assert_eq!(
        changes[2],
        (
            "system".into(),
            CaseStatus::Pending,
            CaseStatus::Resolved,
            Some("idle".into())
        )
    );
    assert_eq!(changes[3].0, "discord:1001");
}

async fn illegal_transition_changes_nothing(store: &dyn CaseStore) {
    let case = store
        .create(new_case(CaseKind::Feature, "Dark mode"))
        .await
        .expect("create");
    let err = store
        .transition(case.number, StatusChange::new(CaseStatus::Closed, "agent"))
        .await
        .expect_err("new cannot close");
    assert_eq!(
        err.kind(),
        &ErrorKind::IllegalTransition {
            number: case.number,
            from: CaseStatus::New,
            to: CaseStatus::Closed
        }
    );
    assert_eq!(store.get(case.number).await.expect("get"), case);
    assert_eq!(
        store.timeline(case.number).await.expect("timeline").len(),
        1
    );
}

async fn assign_prioritise_note_link_rate(store: &dyn CaseStore) {
    let case = store
        .create(new_case(CaseKind::Support, "Billing"))
        .await
        .expect("create");
    let n = case.number;
    let assigned = store
        .assign(
            n,
            Assignment {
                assignee: Some("agent:bob".into()),
                actor: "agent:bob".into(),
                assignee_name: None,
                actor_name: None,
                via: None,
            },
        )
        .await
        .expect("assign");
    assert_eq!(assigned.assignee.as_deref(), Some("agent:bob"));
    let same = store
        .assign(
            n,
            Assignment {
                assignee: Some("agent:bob".into()),
                actor: "agent:bob".into(),
                assignee_name: None,
                actor_name: None,
                via: None,
            },
        )
        .await
        .expect("assign again");
    assert_eq!(same, assigned);
    let urgent = store
        .set_priority(
            n,
            PriorityChange {
                priority: Priority::Urgent,
                actor: "agent:bob".into(),
                actor_name: None,
                via: None,
            },
        )
        .await
        .expect("priority");
    assert_eq!(urgent.priority, Priority::Urgent);
    let note = store
        .add_note(
            n,
            NewNote {
                author: "agent:bob".into(),
                text: "Called the bank".into(),
                author_name: None,
                via: None,
            },
        )
        .await
        .expect("note");
    assert_eq!(
        note.event,
        TimelineEvent::Note {
            text: "Called the bank".into()
        }
    );
    let link = store
        .add_link(
            n,
            NewLink {
                url: "https://example.com/t/1".into(),
                title: Some("ticket".into()),
                actor: "agent:bob".into(),
                actor_name: None,
                via: None,
            },
        )
        .await
        .expect("link");
    assert_eq!(link.actor, "agent:bob");
    let rated = store
        .rate(
            n,
            Rating {
                score: 4,
                comment: Some("quick".into()),
            },
        )
        .await
        .expect("rate");
    assert_eq!(
        rated.rating,
        Some(Rating {
            score: 4,
            comment: Some("quick".into())
        })
    );
    let unassigned = store
        .assign(
            n,
            Assignment {
                assignee: None,
                actor: "agent:bob".into(),
                assignee_name: None,
                actor_name: None,
                via: None,
            },
        )
        .await
        .expect("unassign");
    assert_eq!(unassigned.assignee, None);

    let stored = store.get(n).await.expect("get");
    assert_eq!(stored.priority, Priority::Urgent);
    assert_eq!(stored.rating.as_ref().map(|r| r.score), Some(4));
    let names: Vec<_> = store
        .timeline(n)
        .await
        .expect("timeline")
        .iter()
        .map(|e| e.event.name())
        .collect();
    assert_eq!(
        names,
        [
            "created",
            "assigned",
            "priority_changed",
            "note",
            "linked",
            "rated",
            "assigned"
        ]
    );
}

async fn transcript_is_kept_in_time_order(store: &dyn CaseStore) {
    let case = store
        .create(new_case(CaseKind::Support, "Order missing"))
        .await
        .expect("create");
    let n = case.number;
    // Back-filled bot-phase messages from before the case existed, then a live one.
    let batch = MessageBatch {
        via: None,
        messages: vec![
            NewMessage {
                external_id: None,
                author: "discord:1001".into(),
                text: "Where is my order?".into(),
                sent_at: datetime!(2024-01-02 10:00:00 UTC),
                author_name: None,
            },
            NewMessage {
                external_id: None,
                author: "flexcord-bot".into(),
                text: "Let me get an agent.".into(),
                sent_at: datetime!(2024-01-02 10:00:01.25 UTC),
                author_name: None,
            },
        ],
    };
    let entries = store.append_messages(n, batch).await.expect("append");
    assert_eq!(entries.len(), 2);
    assert!(entries[0].id < entries[1].id);
    store
        .append_messages(
            n,
            MessageBatch {
                via: None,
                messages: vec![NewMessage {
                    external_id: None,
                    author: "agent:carol".into(),
                    text: "Hi, I'm Carol 👋 <b>not bold</b>".into(),
                    sent_at: time::OffsetDateTime::now_utc(),
                    author_name: None,
                }],
            },
        )
        .await
        .expect("append live");
    let timeline = store.timeline(n).await.expect("timeline");
    let summary: Vec<_> = timeline
        .iter()
        .map(|e| match &e.event {
            TimelineEvent::Message { text } => format!("{}: {text}", e.actor),
            other => other.name().to_owned(),
        })
        .collect();
    assert_eq!(
        summary,
        [
            "discord:1001: Where is my order?",
            "flexcord-bot: Let me get an agent.",
            "created",
            "agent:carol: Hi, I'm Carol 👋 <b>not bold</b>",
        ]
    );
    assert_eq!(timeline[1].at, datetime!(2024-01-02 10:00:01.25 UTC));
    let err = store
        .append_messages(
            num(999),
            MessageBatch {
                via: None,
                messages: vec![NewMessage {
                    external_id: None,
                    author: "a".into(),
                    text: "b".into(),
                    sent_at: time::OffsetDateTime::now_utc(),
                    author_name: None,
                }],
            },
        )
        .await
        .expect_err("unknown case");
    assert!(matches!(err.kind(), ErrorKind::NotFound { .. }));
}

/// Several cases' lines in one call: each answered on its own (an unknown case and an empty
/// batch refused without losing the others), one case's lines kept in order, a repeated
/// external id skipped.
async fn lines_of_many_cases_are_appended_at_once(store: &dyn CaseStore) {
    let a = store
        .create(new_case(CaseKind::Support, "First"))
        .await
        .expect("create")
        .number;
    let b = store
        .create(new_case(CaseKind::Support, "Second"))
        .await
        .expect("create")
        .number;
    let line = |text: &str, id: &str| MessageBatch {
        via: None,
        messages: vec![NewMessage {
            external_id: Some(id.into()),
            author: "discord:1001".into(),
            text: text.into(),
            sent_at: time::OffsetDateTime::now_utc(),
            author_name: None,
        }],
    };
    let results = store
        .append_messages_many(vec![
            (a, line("a one", "x1")),
            (num(999), line("nowhere", "x2")),
            (b, line("b one", "x3")),
            (a, line("a two", "x4")),
            (
                b,
                MessageBatch {
                    via: None,
                    messages: Vec::new(),
                },
            ),
            (a, line("a one again", "x1")),
        ])
        .await;
    assert_eq!(results.len(), 6);
    assert_eq!(results[0].as_ref().expect("a one").len(), 1);
    assert!(matches!(
        results[1].as_ref().expect_err("unknown case").kind(),
        ErrorKind::NotFound { .. }
    ));
    assert_eq!(results[2].as_ref().expect("b one").len(), 1);
    assert_eq!(results[3].as_ref().expect("a two").len(), 1);
    assert!(matches!(
        results[4].as_ref().expect_err("empty batch").kind(),
        ErrorKind::Invalid { .. }
    ));
    assert!(
        results[5].as_ref().expect("repeat").is_empty(),
        "x1 is there already"
    );
    let texts = |timeline: Vec<flexcord_cases::TimelineEntry>| -> Vec<String> {
        timeline
            .into_iter()
            .filter_map(|e| match e.event {
                TimelineEvent::Message { text } => Some(text),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        texts(store.timeline(a).await.expect("timeline")),
        ["a one", "a two"]
    );
    assert_eq!(texts(store.timeline(b).await.expect("timeline")), ["b one"]);
}

async fn list_filters_and_pages(store: &dyn CaseStore) {
    let specs = [
        (CaseKind::Support, "one", "1"),
        (CaseKind::Bug, "two", "2"),
        (CaseKind::Bug, "three", "1"),
        (CaseKind::Feature, "four", "3"),
        (CaseKind::Support, "five", "2"),
        (CaseKind::Bug, "six", "1"),
        (CaseKind::Support, "seven", "1"),
    ];
    for (kind, subject, who) in specs {
        store
            .create(NewCase::new(kind, subject, requester(who)))
            .await
            .expect("create");
    }
    store
        .transition(num(3), StatusChange::new(CaseStatus::Open, "a"))
        .await
        .expect("open");
    store
        .transition(num(5), StatusChange::new(CaseStatus::Resolved, "a"))
        .await
        .expect("resolve");

    let mut seen = Vec::new();
    let mut page = PageRequest::first(3);
    loop {
        let got = store
            .list(&CaseFilter::default(), &page)
            .await
            .expect("list");
        assert!(got.cases.len() <= 3);
        seen.extend(got.cases.iter().map(|c| c.number.get()));
        match got.next_cursor {
            Some(cursor) => {
                page = PageRequest {
                    cursor: Some(cursor),
                    limit: Some(3),
                }
            }
            None => break,
        }
    }
    assert_eq!(seen, [7, 6, 5, 4, 3, 2, 1], "newest first, every case once");

    let numbers = |filter: CaseFilter| async move {
        store
            .list(&filter, &PageRequest::default())
            .await
            .expect("list")
            .cases
            .iter()
            .map(|c| c.number.get())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        numbers(CaseFilter {
            kind: Some(CaseKind::Bug),
            ..Default::default()
        })
        .await,
        [6, 3, 2]
    );
    assert_eq!(
        numbers(CaseFilter {
            requester: Some("1".into()),
            ..Default::default()
        })
        .await,
        [7, 6, 3, 1]
    );
    assert_eq!(
        numbers(CaseFilter {
            statuses: vec![CaseStatus::Open, CaseStatus::Resolved],
            ..Default::default()
        })
        .await,
        [5, 3]
    );
    assert_eq!(
        numbers(CaseFilter {
            statuses: vec![CaseStatus::New],
            kind: Some(CaseKind::Bug),
            requester: Some("1".into()),
            ..Default::default()
        })
        .await,
        [6]
    );
    let open: Vec<_> = store
        .open_cases_for("2")
        .await
        .expect("open cases")
        .iter()
        .map(|c| c.number.get())
        .collect();
    assert_eq!(open, [2], "case 5 is resolved");
    assert!(
        store
            .open_cases_for("nobody")
            .await
            .expect("open cases")
            .is_empty()
    );
}

async fn text_search_matches_words(store: &dyn CaseStore) {
    store
        .create(
            new_case(CaseKind::Bug, "Voice channel audio drops")
                .description("Audio cuts out every minute"),
        )
        .await
        .expect("create");
    store
        .create(new_case(CaseKind::Support, "Refund for double charge"))
        .await
        .expect("create");
    store
        .create(new_case(CaseKind::Bug, "Audio settings reset"))
        .await
        .expect("create");
    let search = |text: &'static str| async move {
        let filter = CaseFilter {
            text: Some(text.into()),
            ..Default::default()
        };
        store
            .list(&filter, &PageRequest::default())
            .await
            .expect("list")
            .cases
            .iter()
            .map(|c| c.number.get())
            .collect::<Vec<_>>()
    };
    assert_eq!(search("audio").await, [3, 1]);
    assert_eq!(
        search("AUDIO drops").await,
        [1],
        "all words must match, case-insensitively"
    );
    assert_eq!(search("charge").await, [2]);
    assert_eq!(
        search("minute").await,
        [1],
        "the description is searched too"
    );
    assert_eq!(
        search("\"* OR ) NEAR(").await,
        Vec::<u32>::new(),
        "operators in user text are plain words"
    );
    assert!(search("zebra").await.is_empty());
    assert_eq!(search("  ").await, [3, 2, 1], "blank text does not filter");
}

async fn similar_lists_open_bugs_best_first(store: &dyn CaseStore) {
    let bug = |subject: &str, description: &str| {
        new_case(CaseKind::Bug, subject).description(description)
    };
    store
        .create(bug(
            "App crashes when uploading an avatar",
            "Uploading a PNG avatar crashes the app",
        ))
        .await
        .expect("1");
    store
        .create(bug(
            "Login button misaligned",
            "On small screens the login button overlaps",
        ))
        .await
        .expect("2");
    store
        .create(bug("Crash on upload", "The upload of large files fails"))
        .await
        .expect("3");
    store
        .create(
            new_case(CaseKind::Feature, "Upload avatars in bulk")
                .description("avatar upload crash"),
        )
        .await
        .expect("4");
    store
        .create(bug("Avatar upload crash", "crashes on avatar upload"))
        .await
        .expect("5");
    store
        .transition(num(5), StatusChange::new(CaseStatus::Resolved, "a"))
        .await
        .expect("resolve 5");
    let new = store
        .create(bug("Crash while uploading my avatar", "the app crashes"))
        .await
        .expect("6");

    let similar = store
        .similar(
            "Crash while uploading my avatar the app crashes",
            Some(new.number),
            10,
        )
        .await
        .expect("similar");
    let numbers: Vec<_> = similar.iter().map(|s| s.case.number.get()).collect();
    assert_eq!(
        numbers,
        [1, 3],
        "open bugs only, best first, without the new case: {similar:?}"
    );
    assert!(similar[0].score >= similar[1].score);
    assert_eq!(
        store
            .similar("avatar", None, 1)
            .await
            .expect("similar")
            .len(),
        1
    );
    assert!(
        store
            .similar("!!!", None, 5)
            .await
            .expect("no words")
            .is_empty()
    );
    let err = store.similar("avatar", None, 0).await.expect_err("limit 0");
    assert!(matches!(err.kind(), ErrorKind::Invalid { .. }));
}

async fn user_text_is_stored_verbatim(store: &dyn CaseStore) {
    let subject = "<script>alert(1)</script> & 'quotes' \"double\" — ünïcödé 🚀";
    let mut new = new_case(CaseKind::Support, subject)
        .description("line 1\nline 2\t\\ % _ ;DROP TABLE cases;--");
    new.tags = vec!["vip".into(), "über".into()];
    let case = store.create(new.clone()).await.expect("create");
    let stored = store.get(case.number).await.expect("get");
    assert_eq!(stored.subject, subject);
    assert_eq!(stored.description, new.description);
    assert_eq!(stored.tags, ["vip", "über"]);
    let filter = CaseFilter {
        text: Some("über".into()),
        ..Default::default()
    };
    assert_eq!(
        store
            .list(&filter, &PageRequest::default())
            .await
            .expect("list")
            .cases
            .len(),
        1,
        "tags are searchable"
    );
}

async fn retries_are_idempotent(store: &dyn CaseStore) {
    let first = store
        .create(new_case(CaseKind::Support, "Hand-off").idempotency_key("action-17"))
        .await
        .expect("create");
    let again = store
        .create(new_case(CaseKind::Support, "Hand-off (retried)").idempotency_key("action-17"))
        .await
        .expect("retry");
    assert_eq!(again, first, "the same key returns the first case");
    let other = store
        .create(new_case(CaseKind::Support, "Other").idempotency_key("action-18"))
        .await
        .expect("create");
    assert_eq!(other.number, num(2), "no number was used up by the retry");

    let t0 = datetime!(2024-05-01 12:00:00 UTC);
    let batch = MessageBatch {
        via: None,
        messages: vec![
            NewMessage::new("discord:1001", "first", t0).external_id("m1"),
            NewMessage::new("discord:1001", "second", t0).external_id("m2"),
        ],
    };
    assert_eq!(
        store
            .append_messages(first.number, batch.clone())
            .await
            .expect("append")
            .len(),
        2
    );
    let mut retried = batch;
    retried
        .messages
        .push(NewMessage::new("agent:zoe", "third", t0).external_id("m3"));
    let added = store
        .append_messages(first.number, retried)
        .await
        .expect("retry");
    assert_eq!(added.len(), 1, "only the new message is added");
    assert_eq!(
        added[0].event,
        TimelineEvent::Message {
            text: "third".into()
        }
    );
    // The same external id on another case is another message.
    let batch = MessageBatch {
        via: None,
        messages: vec![NewMessage::new("discord:1001", "first", t0).external_id("m1")],
    };
    assert_eq!(
        store
            .append_messages(other.number, batch)
            .await
            .expect("append")
            .len(),
        1
    );
    let messages = store
        .timeline(first.number)
        .await
        .expect("timeline")
        .into_iter()
        .filter(|e| e.event.name() == "message")
        .count();
    assert_eq!(messages, 3);
}

async fn quiet_resolved_cases_are_closed(store: &dyn CaseStore) {
    let mut resolved = Vec::new();
    for subject in ["First", "Second", "Third"] {
        let case = store
            .create(new_case(CaseKind::Support, subject))
            .await
            .expect("create");
        let case = store
            .transition(
                case.number,
                StatusChange::new(CaseStatus::Resolved, "agent"),
            )
            .await
            .expect("resolve");
        resolved.push(case);
    }
    let open = store
        .create(new_case(CaseKind::Support, "Still open"))
        .await
        .expect("create");
    let cutoff = resolved[1].resolved_at.expect("resolved_at");
    let expected: Vec<CaseNumber> = resolved
        .iter()
        .filter(|c| c.resolved_at.is_some_and(|at| at <= cutoff))
        .map(|c| c.number)
        .collect();
    assert!(expected.contains(&resolved[0].number) && expected.contains(&resolved[1].number));

    let closed = store.close_quiet(cutoff, "sweeper").await.expect("close");
    assert_eq!(closed, expected);
    for case in &resolved {
        let now = store.get(case.number).await.expect("get");
        let want = if expected.contains(&case.number) {
            CaseStatus::Closed
        } else {
            CaseStatus::Resolved
        };
        assert_eq!(now.status, want, "{}", case.number);
    }
    assert_eq!(
        store.get(open.number).await.expect("get").status,
        CaseStatus::New
    );
    let last = store.timeline(resolved[0].number).await.expect("timeline");
    assert_eq!(last.last().map(|e| e.actor.as_str()), Some("sweeper"));
    assert_eq!(
        last.last().map(|e| &e.event),
        Some(&TimelineEvent::StatusChanged {
            from: CaseStatus::Resolved,
            to: CaseStatus::Closed,
            reason: Some("quiet".into())
        })
    );
    assert!(
        store
            .close_quiet(cutoff, "sweeper")
            .await
            .expect("again")
            .is_empty(),
        "nothing left to close"
    );
}

async fn quiet_cases_are_closed_in_bounded_batches(store: &dyn CaseStore) {
    let mut numbers = Vec::new();
    for subject in ["One", "Two", "Three", "Four", "Five"] {
        let case = store
            .create(new_case(CaseKind::Support, subject))
            .await
            .expect("create");
        store
            .transition(
                case.number,
                StatusChange::new(CaseStatus::Resolved, "agent"),
            )
            .await
            .expect("resolve");
        numbers.push(case.number);
    }
    // A case resolved after the cut-off waits for a later run.
    let cutoff = store
        .get(numbers[3])
        .await
        .expect("get")
        .resolved_at
        .expect("resolved_at");
    let first = store
        .close_quiet_batch(cutoff, "housekeeping", 2)
        .await
        .expect("batch");
    assert_eq!(first, numbers[..2].to_vec(), "the lowest numbers first");
    let second = store
        .close_quiet_batch(cutoff, "housekeeping", 2)
        .await
        .expect("batch");
    assert_eq!(second, numbers[2..4].to_vec());
    assert!(
        store
            .close_quiet_batch(cutoff, "housekeeping", 2)
            .await
            .expect("batch")
            .is_empty()
    );
    for (i, number) in numbers.iter().enumerate() {
        let want = if i < 4 {
            CaseStatus::Closed
        } else {
            CaseStatus::Resolved
        };
        assert_eq!(store.get(*number).await.expect("get").status, want);
    }
    let timeline = store.timeline(numbers[0]).await.expect("timeline");
    assert_eq!(
        timeline.last().map(|e| (e.actor.as_str(), &e.event)),
        Some((
            "housekeeping",
            &TimelineEvent::StatusChanged {
                from: CaseStatus::Resolved,
                to: CaseStatus::Closed,
                reason: Some("quiet".into())
            }
        ))
    );
}

macro_rules! suite {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, _dir) = crate::common::sqlite().await;
                    super::$name(&store).await;
                }
            )+
        }

        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some((store, schema)) = crate::common::PgSchema::create().await else { return };
                    super::$name(&store).await;
                    schema.drop(store).await;
                }
            )+
        }

        mod client {
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, _dir) = crate::common::sqlite().await;
                    let base = crate::common::serve(std::sync::Arc::new(store)).await;
                    let client = flexcord_cases::CaseClient::new(&base, crate::common::TOKEN).expect("client");
                    super::$name(&client).await;
                }
            )+
        }
    };
}

suite!(
    create_numbers_cases_in_order,
    unknown_case_is_not_found,
    bad_input_is_refused_and_loses_nothing,
    status_follows_the_lifecycle,
    illegal_transition_changes_nothing,
    assign_prioritise_note_link_rate,
    transcript_is_kept_in_time_order,
    lines_of_many_cases_are_appended_at_once,
    list_filters_and_pages,
    text_search_matches_words,
    similar_lists_open_bugs_best_first,
    user_text_is_stored_verbatim,
    retries_are_idempotent,
    quiet_resolved_cases_are_closed,
    quiet_cases_are_closed_in_bounded_batches,
);
