use flexcord_kb::{KnowledgeBase, SearchOptions, import_zendesk};

fn export() -> String {
    std::fs::read_to_string(crate::fixtures().join("zendesk_export.json")).expect("fixture")
}

#[test]
fn a_zendesk_export_becomes_a_searchable_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = import_zendesk(&export(), dir.path()).expect("import");
    // two English articles and one Vietnamese translation; the draft and the French one skipped
    assert_eq!(report.created.len(), 3, "{report}");
    assert_eq!(report.skipped.len(), 2, "{report}");
    assert!(
        report
            .skipped
            .iter()
            .any(|(id, why)| *id == 4_410_003 && why == "draft")
    );
    assert!(
        report
            .skipped
            .iter()
            .any(|(id, why)| *id == 4_410_001 && why.contains("locale fr"))
    );
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).expect(name);

    let unlock = read("zendesk-4410001.md");
    assert!(
        unlock.starts_with("---\nid: zendesk-4410001\ntitle: \"Unlock a bike with the app\"\n"),
        "{unlock}"
    );
    assert!(
        unlock.contains("tags: [\"unlock\", \"bike\", \"qr code\"]"),
        "{unlock}"
    );
    assert!(unlock.contains("lang: en\n"), "{unlock}");
    assert!(
        unlock.contains("url: \"https://lumencycles.zendesk.example/hc/en-us/articles/4410001\""),
        "{unlock}"
    );
    // headings, bold, a table, an image and a link, as Markdown
    assert!(unlock.contains("## Before you start"), "{unlock}");
    assert!(unlock.contains("**Lumen**"), "{unlock}");
    // a table row: cells between pipes (padded to the column's width)
    let row = |text: &str, cells: &[&str]| {
        text.lines().any(|line| {
            let got: Vec<&str> = line.split('|').map(str::trim).collect();
            got.len() == cells.len() + 2 && got[1..=cells.len()] == *cells
        })
    };
    assert!(row(&unlock, &["Method", "When to use it"]), "{unlock}");
    assert!(
        row(
            &unlock,
            &["Type the bike number", "The code is scratched or dirty"]
        ),
        "{unlock}"
    );
    assert!(
        unlock.contains(
            "![QR code on the handlebar](https://cdn.lumencycles.example/help/qr-handlebar.png)"
        ),
        "{unlock}"
    );
    assert!(
        unlock.contains("[Refunds for interrupted rides](https://lumencycles.zendesk.example/hc/en-us/articles/4410002)"),
        "{unlock}"
    );
    assert!(!unlock.contains('<'), "no HTML left: {unlock}");
    let refunds = read("zendesk-4410002.md");
    assert!(
        refunds
            .lines()
            .any(|l| l.starts_with("1.") && l.ends_with(" Open *Ride history*.")),
        "{refunds}"
    );
    assert!(refunds.contains("`Bike broke down`"), "{refunds}");
    let vi = read("zendesk-4410001-vi.md");
    assert!(vi.contains("lang: vi\n"), "{vi}");
    assert!(
        row(&vi, &["Quét mã QR", "Mã trên tay lái còn đọc được"]),
        "{vi}"
    );

    // the folder loads cleanly and answers
    let (kb, loaded) = KnowledgeBase::open(dir.path()).expect("open");
    assert!(loaded.is_clean(), "{loaded:#?}");
    assert_eq!(kb.ids().len(), 3);
    let raw = SearchOptions::default().with_threshold(None).with_limit(3);
    let first = |q: &str| kb.search_with(q, &raw).expect("search")[0].id.clone();
    assert_eq!(
        first("the qr code on the handlebar is scratched"),
        "zendesk-4410001"
    );
    assert_eq!(
        first("refund for a bike that broke down"),
        "zendesk-4410002"
    );
    assert_eq!(first("mở khóa xe bằng mã QR"), "zendesk-4410001-vi");
    assert_eq!(first("mo khoa xe"), "zendesk-4410001-vi");
}

#[test]
fn importing_again_updates_and_never_duplicates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = export();
    import_zendesk(&text, dir.path()).expect("first import");
    let files = || {
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let before = files();
    let again = import_zendesk(&text, dir.path()).expect("second import");
    assert_eq!(again.unchanged.len(), 3, "{again}");
    assert!(
        again.created.is_empty() && again.updated.is_empty(),
        "{again}"
    );
    assert_eq!(files(), before);

    // a changed title updates its file; an article now in draft is removed
    let changed = text
        .replace(
            "Refunds for interrupted rides\"",
            "Refunds when a ride stops early\"",
        )
        .replacen("\"draft\": false", "\"draft\": true", 1);
    let third = import_zendesk(&changed, dir.path()).expect("third import");
    assert_eq!(third.updated.len(), 1, "{third}");
    assert!(third.updated[0].ends_with("zendesk-4410002.md"));
    assert_eq!(third.removed.len(), 1, "{third}");
    assert!(third.removed[0].ends_with("zendesk-4410001.md"));
    assert_eq!(files(), ["zendesk-4410001-vi.md", "zendesk-4410002.md"]);
    let refunds = std::fs::read_to_string(dir.path().join("zendesk-4410002.md")).expect("read");
    assert!(
        refunds.contains("title: \"Refunds when a ride stops early\""),
        "{refunds}"
    );
}
