//! `flexcord-kb`: evaluate, query or fit the knowledge base from the command line.
//!
//! ```text
//! flexcord-kb eval <articles-folder|--sample> <queries.jsonl> [--json]
//! flexcord-kb search <articles-folder|--sample> <query words...>
//! flexcord-kb fit <articles-folder|--sample> <labelled.jsonl> [--folds 5] [--write src/model.rs]
//! flexcord-kb handoff-cv [--folds 5]
//! ```

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flexcord_kb::{EmbeddedAgent, KnowledgeBase, SearchOptions, confidence, eval};

/// Evaluate, query or fit a flexcord knowledge base.
#[derive(Debug, Parser)]
#[command(name = "flexcord-kb", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scores labelled queries (JSON Lines: q, lang, expect, handoff): hit@1, hit@3, MRR,
    /// hand-off precision and recall, negatives shown a suggestion; with the shipped defaults
    /// and for the raw ranking, overall and per language.
    Eval {
        /// Folder of Markdown articles (and its synonyms.yaml), or `--sample`.
        #[arg(allow_hyphen_values = true)]
        articles: String,
        /// The queries file.
        queries: PathBuf,
        /// Print one JSON object instead of the tables.
        #[arg(long)]
        json: bool,
    },
    /// Shows the ranking of one message with scores, confidences and the band.
    Search {
        /// Folder of Markdown articles, or `--sample`.
        #[arg(allow_hyphen_values = true)]
        articles: String,
        /// Also print the confidence model's features of the first three articles.
        #[arg(long)]
        features: bool,
        /// The message.
        #[arg(required = true, num_args = 1..)]
        words: Vec<String>,
    },
    /// Fits the confidence model on labelled queries with k-fold cross-validation and prints
    /// the held-out figures and the weights.
    Fit {
        /// Folder of Markdown articles, or `--sample`.
        #[arg(allow_hyphen_values = true)]
        articles: String,
        /// Labelled queries (same format as `eval`).
        queries: PathBuf,
        /// Number of folds.
        #[arg(long, default_value_t = 5)]
        folds: usize,
        /// Write the model as Rust source to this file (the crate's `src/model.rs`).
        #[arg(long)]
        write: Option<PathBuf>,
    },
    /// Cross-validates the hand-off classifier on its shipped training lines and prints
    /// precision and recall per language.
    HandoffCv {
        /// Number of folds.
        #[arg(long, default_value_t = 5)]
        folds: usize,
    },
}

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

/// Writes to standard output; a closed pipe (`| head`) is not an error.
fn out(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Eval {
            articles,
            queries,
            json,
        } => {
            let kb = open(&articles)?;
            let loaded = eval::load_queries(&queries)?;
            let report = eval::evaluate(&kb, &loaded)?;
            if json {
                out(&format!("{}\n", report.to_json()));
            } else {
                out(&format!(
                    "{} queries from {}\n\n{report}",
                    loaded.len(),
                    queries.display()
                ));
            }
        }
        Command::Search {
            articles,
            features,
            words,
        } => {
            let kb = open(&articles)?;
            let query = words.join(" ");
            let agent = EmbeddedAgent::new(kb.clone());
            let decision = agent.decide(&query, None)?;
            let raw = kb.search_with(
                &query,
                &SearchOptions::default().with_limit(10).with_threshold(None),
            )?;
            let mut text = format!(
                "language: {}  band: {:?}  hand-off: {:?}\n",
                decision.language, decision.confidence, decision.handoff
            );
            for s in &raw {
                let mark = if decision.suggestions.iter().any(|x| x.id == s.id) {
                    "*"
                } else {
                    " "
                };
                let _ = writeln!(
                    text,
                    "{mark} {:>7.3} conf {:.2}  {}  ({})\n      {}",
                    s.score, s.confidence, s.id, s.title, s.snippet
                );
            }
            if features {
                for (id, x) in confidence::explain(&kb, &query)? {
                    let _ = writeln!(text, "{id}");
                    for (name, v) in confidence::FEATURES.iter().zip(x) {
                        let _ = writeln!(text, "  {name:<16} {v:>7.3}");
                    }
                }
            }
            out(&text);
        }
        Command::Fit {
            articles,
            queries,
            folds,
            write,
        } => {
            let kb = open(&articles)?;
            let loaded = eval::load_queries(&queries)?;
            let fit = confidence::fit(&kb, &loaded, folds)?;
            if let Some(path) = write {
                std::fs::write(&path, fit.rust_source())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
            out(&fit.to_string());
        }
        Command::HandoffCv { folds } => {
            out(&flexcord_kb::handoff_cross_validation(folds).to_string());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}
