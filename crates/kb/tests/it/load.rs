use flexcord_kb::KnowledgeBase;

use crate::fixtures;

#[test]
fn broken_files_are_reported_and_the_rest_load() {
    let (kb, report) = KnowledgeBase::open(fixtures().join("broken")).expect("folder readable");
    let mut ids = kb.ids();
    ids.sort();
    assert_eq!(ids, ["good-one", "other-name"]);
    assert_eq!(report.loaded, 2);
    let problem = |file: &str| {
        report
            .problems
            .iter()
            .find(|p| p.path.file_name().is_some_and(|n| n == file))
            .unwrap_or_else(|| panic!("no problem reported for {file}: {report:#?}"))
    };
    let expect = [
        ("no-front-matter.md", "no front matter", true),
        ("bad-yaml.md", "front matter is not valid", true),
        (
            "missing-url.md",
            "missing or empty front matter field(s): url",
            true,
        ),
        (
            "wrong-lang.md",
            "`lang` must be `en` or `vi`, found `fr`",
            true,
        ),
        ("zz-duplicate.md", "duplicate id `good-one`", true),
        ("empty-body.md", "no body", true),
        ("binary.md", "not UTF-8", true),
        ("renamed.md", "the file name says `renamed`", false),
    ];
    for (file, message, skipped) in expect {
        let p = problem(file);
        assert!(p.message.contains(message), "{file}: {}", p.message);
        assert_eq!(p.skipped, skipped, "{file}");
        assert!(p.to_string().starts_with(file), "{p}");
    }
    assert_eq!(report.problems.len(), expect.len(), "{report:#?}");
    // the text file is ignored, not reported
    assert!(
        report
            .problems
            .iter()
            .all(|p| !p.path.ends_with("notes.txt"))
    );
}

#[test]
fn a_missing_folder_is_an_error() {
    let err = KnowledgeBase::open(fixtures().join("does-not-exist")).expect_err("missing");
    assert!(
        matches!(err.kind(), flexcord_kb::ErrorKind::Read { .. }),
        "{err}"
    );
}

#[test]
fn the_embedded_sample_loads_cleanly() {
    let (articles, report) = KnowledgeBase::sample_articles();
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(articles.len(), 45);
    assert_eq!(
        articles
            .iter()
            .filter(|a| a.lang == flexcord_kb::Language::Vietnamese)
            .count(),
        10
    );
    let kb = KnowledgeBase::sample().expect("index");
    assert_eq!(kb.len(), 45);
    assert!(kb.folder().is_none());
}

#[test]
fn the_embedded_sample_matches_the_shared_articles() {
    let Some(dir) = crate::sample_dir() else {
        return;
    };
    let (shared, report) = flexcord_kb::load_dir(&dir.join("articles")).expect("readable");
    assert!(report.is_clean(), "{report:#?}");
    let (embedded, _) = KnowledgeBase::sample_articles();
    assert_eq!(
        shared,
        embedded,
        "crates/kb/sample differs from {}",
        dir.display()
    );
}

#[test]
fn reload_swaps_the_index_while_searches_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |id: &str, title: &str, body: &str| {
        let text = format!(
            "---\nid: {id}\ntitle: {title}\ntags: []\nlang: en\nurl: https://h.example/{id}\n---\n\n{body}\n"
        );
        std::fs::write(dir.path().join(format!("{id}.md")), text).expect("write");
    };
    write(
        "volcano",
        "Volcano eruptions",
        "Lava flows from the crater of a volcano.",
    );
    let (kb, _) = KnowledgeBase::open(dir.path()).expect("open");
    // the raw ranking: the confidence model is fitted on a help center, not on one article
    let raw = flexcord_kb::SearchOptions::default()
        .with_threshold(None)
        .with_limit(3);
    assert_eq!(
        kb.search_with("volcano lava", &raw).expect("search")[0].id,
        "volcano"
    );
    assert!(
        kb.search_with("glacier ice", &raw)
            .expect("search")
            .is_empty()
    );

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let searcher = {
        let kb = kb.clone();
        let stop = stop.clone();
        let raw = raw.clone();
        std::thread::spawn(move || {
            let mut n = 0_u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let hits = kb
                    .search_with("volcano lava", &raw)
                    .expect("search during reload");
                assert_eq!(hits[0].id, "volcano");
                n += 1;
            }
            n
        })
    };
    write(
        "glacier",
        "Glacier melting",
        "Ice of a glacier melts in summer.",
    );
    std::fs::write(dir.path().join("broken.md"), "no front matter").expect("write");
    let reload = kb.reload().expect("reload");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rounds = searcher.join().expect("searcher thread");
    assert!(rounds > 0);
    assert!(reload.swapped);
    assert_eq!(reload.added, ["glacier"]);
    assert_eq!(reload.report.loaded, 2);
    assert_eq!(reload.report.problems.len(), 1);
    assert_eq!(
        kb.search_with("glacier ice", &raw).expect("search")[0].id,
        "glacier"
    );
}

#[tokio::test]
async fn watch_reloads_after_a_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let article = |id: &str, title: &str| {
        format!(
            "---\nid: {id}\ntitle: {title}\nlang: en\nurl: https://h.example/{id}\n---\n\n{title} explained in detail.\n"
        )
    };
    std::fs::write(
        dir.path().join("first.md"),
        article("first", "Telescope lenses"),
    )
    .expect("write");
    let (kb, _) = KnowledgeBase::open(dir.path()).expect("open");
    let _watcher = kb
        .watch(std::time::Duration::from_millis(50))
        .expect("watch");
    std::fs::write(
        dir.path().join("second.md"),
        article("second", "Microscope slides"),
    )
    .expect("write");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if kb.len() == 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no reload within 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let raw = flexcord_kb::SearchOptions::default()
        .with_threshold(None)
        .with_limit(1);
    assert_eq!(
        kb.search_with("microscope slides", &raw).expect("search")[0].id,
        "second"
    );
}

#[test]
fn watch_needs_a_folder_and_a_runtime() {
    let kb = KnowledgeBase::sample().expect("sample");
    assert!(kb.watch(std::time::Duration::from_secs(1)).is_err());
    let dir = tempfile::tempdir().expect("tempdir");
    let (kb, _) = KnowledgeBase::open(dir.path()).expect("open");
    assert!(
        kb.watch(std::time::Duration::from_secs(1)).is_err(),
        "no runtime here"
    );
}

#[test]
fn the_folder_lexicon_is_used_and_a_bad_one_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("arena.md"),
        "---\nid: arena\ntitle: Arena battles\nlang: en\nurl: https://h.example/arena\n---\n\nFight in the arena.\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("garden.md"),
        "---\nid: garden\ntitle: Garden plants\nlang: en\nurl: https://h.example/garden\n---\n\nGrow plants.\n",
    )
    .expect("write");
    let raw = flexcord_kb::SearchOptions::default().with_threshold(None);
    let (kb, report) = KnowledgeBase::open(dir.path()).expect("open");
    assert!(report.is_clean());
    assert!(
        kb.search_with("colosseum", &raw)
            .expect("search")
            .is_empty()
    );
    std::fs::write(
        dir.path().join(flexcord_kb::LEXICON_FILE),
        "synonyms:\n  - [arena, colosseum]\n",
    )
    .expect("write");
    let report = kb.reload().expect("reload").report;
    assert!(report.is_clean(), "{report:#?}");
    let hits = kb.search_with("colosseum", &raw).expect("search");
    assert_eq!(hits[0].id, "arena");
    std::fs::write(dir.path().join(flexcord_kb::LEXICON_FILE), "synonyms: 3\n").expect("write");
    let report = kb.reload().expect("reload").report;
    assert_eq!(report.loaded, 2);
    assert!(
        report.problems[0].to_string().contains("synonyms.yaml"),
        "{report:#?}"
    );
}

#[test]
fn reload_says_what_changed_and_keeps_serving_when_the_folder_is_emptied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |id: &str, title: &str| {
        let text = format!(
            "---\nid: {id}\ntitle: {title}\ntags: []\nlang: en\nurl: https://h.example/{id}\n---\n\n{title} in detail.\n"
        );
        std::fs::write(dir.path().join(format!("{id}.md")), text).expect("write");
    };
    write("kites", "Flying kites");
    write("boats", "Paper boats");
    write("clocks", "Clock repair");
    let (kb, _) = KnowledgeBase::open(dir.path()).expect("open");

    let same = kb.reload().expect("reload");
    assert!(same.swapped && same.is_unchanged(), "{same:?}");
    assert!(same.to_string().contains("nothing changed"), "{same}");

    write("boats", "Paper boats and rafts");
    std::fs::remove_file(dir.path().join("clocks.md")).expect("remove");
    write("drums", "Drum lessons");
    std::fs::write(
        dir.path().join(flexcord_kb::LEXICON_FILE),
        "synonyms:\n  - [raft, boat]\n",
    )
    .expect("write");
    let reload = kb.reload().expect("reload");
    assert!(reload.swapped);
    assert_eq!(reload.added, ["drums"]);
    assert_eq!(reload.removed, ["clocks"]);
    assert_eq!(reload.changed, ["boats"]);
    assert!(reload.lexicon_changed);
    assert_eq!(
        reload.to_string(),
        "3 articles; added drums; removed clocks; changed boats; synonyms changed"
    );
    assert_eq!(kb.ids().len(), 3);

    // a folder that yields no article (all broken or gone) keeps the old articles serving
    for id in ["kites", "boats", "drums"] {
        std::fs::remove_file(dir.path().join(format!("{id}.md"))).expect("remove");
    }
    std::fs::write(dir.path().join("broken.md"), "no front matter").expect("write");
    let kept = kb.reload().expect("reload");
    assert!(!kept.swapped);
    assert_eq!(kept.report.loaded, 0);
    assert_eq!(kept.report.problems.len(), 1);
    assert_eq!(kept.removed, ["boats", "drums", "kites"]);
    assert_eq!(kb.ids().len(), 3);
    let raw = flexcord_kb::SearchOptions::default().with_threshold(None);
    assert_eq!(
        kb.search_with("drum lessons", &raw).expect("search")[0].id,
        "drums"
    );

    // a folder that cannot be read is an error, and the old articles stay too
    let gone = dir.path().to_owned();
    drop(dir);
    assert!(!gone.exists());
    assert!(kb.reload().is_err());
    assert_eq!(kb.ids().len(), 3);
}
