//! `flexcord-kb`: evaluate or query a knowledge base from the command line.
//!
//! ```text
//! flexcord-kb eval <articles-folder> <queries.jsonl>
//! flexcord-kb search <articles-folder|--sample> <query words...>
//! ```

use std::path::Path;
use std::process::ExitCode;

use flexcord_kb::{KnowledgeBase, SearchOptions, detect_handoff, eval};

const USAGE: &str = "usage:\n  flexcord-kb eval <articles-folder> <queries.jsonl>\n  flexcord-kb search <articles-folder|--sample> <query words...>";

fn open(source: &str) -> Result<KnowledgeBase, flexcord_kb::Error> {
    if source == "--sample" {
        return KnowledgeBase::sample();
    }
    let (kb, report) = KnowledgeBase::open(Path::new(source))?;
    for problem in &report.problems {
        eprintln!("warning: {problem}");
    }
    eprintln!("{} articles loaded from {source}", report.loaded);
    Ok(kb)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("eval") if args.len() == 3 => open(&args[1]).and_then(|kb| {
            let queries = eval::load_queries(Path::new(&args[2]))?;
            let report = eval::evaluate(&kb, &queries)?;
            println!("{} queries from {}\n", queries.len(), args[2]);
            print!("{report}");
            Ok(())
        }),
        Some("search") if args.len() >= 3 => open(&args[1]).and_then(|kb| {
            let query = args[2..].join(" ");
            let raw = kb.search_with(
                &query,
                &SearchOptions::default().with_limit(10).with_threshold(None),
            )?;
            let shown = kb.search_with(&query, &SearchOptions::default().with_limit(10))?;
            println!(
                "language: {}  hand-off: {:?}",
                flexcord_kb::detect_language(&query),
                detect_handoff(&query)
            );
            for s in &raw {
                let mark = if shown.iter().any(|x| x.id == s.id) {
                    "*"
                } else {
                    " "
                };
                println!(
                    "{mark} {:>7.3} conf {:.2}  {}  ({})\n      {}",
                    s.score, s.confidence, s.id, s.title, s.snippet
                );
            }
            Ok(())
        }),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}
