use std::path::{Path, PathBuf};

use flexcord_kb::KnowledgeBase;
use flexcord_kb::eval::{self, load_queries};

#[test]
fn public_queries_meet_the_targets() {
    let Some(dir) = crate::sample_dir() else {
        return;
    };
    let (kb, report) = KnowledgeBase::open(dir.join("articles")).expect("articles");
    assert!(report.is_clean(), "{report:#?}");
    let queries = load_queries(&dir.join("eval/queries.jsonl")).expect("queries");
    let report = eval::evaluate(&kb, &queries).expect("eval");
    println!("{report}");
    // the targets for the public set, and today's figures (0.973 hit@3 and MRR)
    let m = &report.thresholded.overall;
    assert!(m.hit_at_3 >= 0.95, "hit@3 {}", m.hit_at_3);
    assert!(m.mrr >= 0.95, "MRR {}", m.mrr);
    assert_eq!(m.handoff_fp, 0, "{m:?}");
    assert_eq!(m.handoff_fn, 0, "{m:?}");
    assert!(m.handoff_tp > 0, "{m:?}");
    assert_eq!(m.negatives_suggested, 0, "{m:?}");
    assert!(m.negatives > 0);
    // the threshold removes suggestions but never reorders them
    assert!(report.raw.overall.hit_at_3 >= m.hit_at_3);
}

#[test]
fn our_own_queries_stay_good() {
    // Queries written for this crate (not the public evaluation set), as a generalisation check.
    let kb = KnowledgeBase::sample().expect("sample");
    let path = crate::fixtures().join("extra_queries.jsonl");
    let queries = load_queries(&path).expect("queries");
    let report = eval::evaluate(&kb, &queries).expect("eval");
    let m = &report.thresholded.overall;
    assert!(m.hit_at_3 >= 0.95, "{report}");
    assert!(m.handoff_precision().unwrap_or(0.0) >= 0.95, "{report}");
    // two Vietnamese small-talk lines typed without diacritics fold onto game words
    // ("gia vang" / "văng", "trời" / "trôi"): a known limit, see decision 0013
    assert!(m.negatives_suggested <= 2, "{report}");
}

#[test]
fn long_messages_asking_for_a_person_are_handed_off() {
    // Stories that end in a request for a person, and stories that only mention staff, written
    // for this crate (not the public evaluation set).
    let kb = KnowledgeBase::sample().expect("sample");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("training/handoff_dev.jsonl");
    let queries = load_queries(&path).expect("queries");
    let report = eval::evaluate(&kb, &queries).expect("eval");
    let m = &report.thresholded.overall;
    assert_eq!(m.handoff_fp, 0, "{report}");
    assert!(m.handoff_tp >= 9 && m.handoff_fn <= 1, "{report}");
    assert!(m.hit_at_3 >= 0.9, "{report}");
}

#[test]
fn bad_query_files_name_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("q.jsonl");
    std::fs::write(&file, "{\"q\": \"a\", \"lang\": \"en\"}\n\n{\"q\": 1}\n").expect("write");
    let err = load_queries(&file).expect_err("bad line");
    let text = format!(
        "{err}: {}",
        std::error::Error::source(&err)
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    assert!(text.contains("line 3"), "{text}");
}

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n != "target" && n != "sample")
            {
                source_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| {
            ["rs", "md", "toml", "jsonl", "json", "txt", "tsv", "yaml"]
                .iter()
                .any(|x| e == *x)
        }) {
            out.push(path);
        }
    }
}

/// The engine must not be tuned to single queries: no query text of the evaluation sets (the
/// public one and, when present, the hard one) may appear in this crate's files.
#[test]
fn no_evaluation_query_text_in_the_crate() {
    let Some(dir) = crate::sample_dir() else {
        return;
    };
    let mut queries = load_queries(&dir.join("eval/queries.jsonl")).expect("queries");
    let hard = dir.join("eval/queries_hard.jsonl");
    if hard.exists() {
        queries.extend(load_queries(&hard).expect("hard queries"));
    }
    let squash = |s: &str| {
        s.to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut files = Vec::new();
    source_files(Path::new(env!("CARGO_MANIFEST_DIR")), &mut files);
    assert!(files.len() > 10, "{files:?}");
    let mut found = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let text = squash(&text);
        for q in &queries {
            if text.contains(&squash(&q.q)) {
                found.push(format!("{}: {:?}", file.display(), q.q));
            }
        }
    }
    // nor may a written message of four words or more be part of an evaluation query (a
    // shortened copy)
    let data = Path::new(env!("CARGO_MANIFEST_DIR"));
    let evaluation: Vec<String> = queries.iter().map(|q| squash(&q.q)).collect();
    for file in [
        "training/retrieval.jsonl",
        "training/handoff_dev.jsonl",
        "tests/fixtures/extra_queries.jsonl",
    ] {
        for q in load_queries(&data.join(file)).expect("our queries") {
            let line = squash(&q.q);
            if line.split(' ').count() >= 4 && evaluation.iter().any(|e| e.contains(&line)) {
                found.push(format!("{file}: {:?} is part of an evaluation query", q.q));
            }
        }
    }
    for file in ["training/handoff.tsv", "training/offtopic.txt"] {
        let text = std::fs::read_to_string(data.join(file)).expect("training file");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let line = squash(line.rsplit('\t').next().unwrap_or_default());
            if line.split(' ').count() >= 4 && evaluation.iter().any(|e| e.contains(&line)) {
                found.push(format!("{file}: {line:?} is part of an evaluation query"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "evaluation queries copied into the crate:\n{}",
        found.join("\n")
    );
}

/// What `flexcord-kb ARGS` prints, once it exits successfully.
fn kb_stdout(args: &[&std::ffi::OsStr]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flexcord-kb"))
        .args(args)
        .output()
        .expect("run flexcord-kb");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_eval_binary_prints_every_figure() {
    let Some(dir) = crate::sample_dir() else {
        return;
    };
    let articles = dir.join("articles");
    let queries = dir.join("eval/queries.jsonl");
    let text = kb_stdout(&["eval".as_ref(), articles.as_os_str(), queries.as_os_str()]);
    for want in [
        "threshold: confidence >= ",
        "threshold: off",
        "hit@1",
        "hit@3",
        "MRR",
        "ho-prec",
        "ho-recall",
        "neg-sugg",
        "  en ",
        "  vi ",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let json = std::process::Command::new(env!("CARGO_BIN_EXE_flexcord-kb"))
        .arg("eval")
        .arg(dir.join("articles"))
        .arg(dir.join("eval/queries.jsonl"))
        .arg("--json")
        .output()
        .expect("run flexcord-kb");
    assert!(json.status.success());
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("one JSON object");
    for run in ["shipped_defaults", "raw"] {
        for lang in ["all", "en", "vi"] {
            let m = &value[run]["metrics"][lang];
            for key in [
                "n",
                "hit_at_1",
                "hit_at_3",
                "mrr",
                "handoff_precision",
                "handoff_recall",
                "negatives_with_suggestion",
            ] {
                assert!(
                    m.get(key).is_some(),
                    "{run}.{lang}.{key} missing in {value}"
                );
            }
        }
    }
    assert_eq!(value["shipped_defaults"]["metrics"]["all"]["n"], 40);
    let usage = std::process::Command::new(env!("CARGO_BIN_EXE_flexcord-kb"))
        .output()
        .expect("run");
    assert_eq!(usage.status.code(), Some(2));
}

/// `fit --misses` lists exactly the held-out mistakes its summary counts.
#[test]
fn the_fit_binary_lists_the_held_out_misses_it_counts() {
    let training = concat!(env!("CARGO_MANIFEST_DIR"), "/training/retrieval.jsonl");
    let text = kb_stdout(&[
        "fit".as_ref(),
        "--sample".as_ref(),
        training.as_ref(),
        "--misses".as_ref(),
    ]);
    let fraction = |before: &str| -> (usize, usize) {
        let at = text.find(before).expect(before);
        let head = text[..at].trim_end();
        let word = head.rsplit(' ').next().expect("a fraction");
        let (a, b) = word.split_once('/').expect("a/b");
        (a.parse().expect("a"), b.parse().expect("b"))
    };
    let (hit, answerable) = fraction("answerable messages shown a right article");
    let (shown, unanswerable) = fraction("unanswerable shown something");
    assert!(answerable > 400 && unanswerable > 100, "{text}");
    let listed: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("held-out misses"))
        .skip(1)
        .collect();
    let expected = answerable - hit + shown;
    assert!(
        text.contains(&format!("held-out misses ({expected}):")),
        "{text}"
    );
    assert_eq!(listed.len(), expected, "{text}");
    assert_eq!(
        listed.iter().filter(|l| l.contains(" not shown ")).count(),
        answerable - hit
    );
}
