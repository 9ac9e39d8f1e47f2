//! `flexcord-kb`: evaluate, query or fit the knowledge base from the command line.
//!
//! ```text
//! flexcord-kb eval <articles-folder|--sample> <queries.jsonl> [--json] [EMBEDDINGS]
//! flexcord-kb search <articles-folder|--sample> <query words...> [EMBEDDINGS]
//! flexcord-kb fit <articles-folder|--sample> <labelled.jsonl> [--folds 5] [--write src/model.rs]
//! flexcord-kb fit --semantic <articles-folder|--sample> <labelled.jsonl> EMBEDDINGS [--write src/model_semantic.rs]
//! flexcord-kb handoff-cv [--folds 5]
//! ```
//!
//! EMBEDDINGS: `--embeddings-url URL --embeddings-model NAME [--embeddings-cache DIR]` (or
//! `FLEXCORD_KB__EMBEDDINGS_URL`, `FLEXCORD_KB__EMBEDDINGS_MODEL`,
//! `FLEXCORD_KB__EMBEDDINGS_CACHE`; the key is read from `FLEXCORD_KB__EMBEDDINGS_KEY`), or
//! `--stand-in DIMS` for the in-process stand-in vectors (no meaning; for fitting defaults).

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use flexcord_kb::{
    EmbeddedAgent, EmbeddingsConfig, KnowledgeBase, QueryEmbedding, SearchOptions, confidence, eval,
};

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
        #[command(flatten)]
        embeddings: EmbeddingArgs,
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
        #[command(flatten)]
        embeddings: EmbeddingArgs,
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
        /// Write the model as Rust source to this file (the crate's `src/model.rs`, or
        /// `src/model_semantic.rs` with `--semantic`).
        #[arg(long)]
        write: Option<PathBuf>,
        /// Fit the semantic model (rankings made with vectors; needs embeddings).
        #[arg(long)]
        semantic: bool,
        /// Also list the messages the held-out models got wrong (answerable ones not shown a
        /// right article, unanswerable ones shown something), to read when writing more data.
        #[arg(long)]
        misses: bool,
        #[command(flatten)]
        embeddings: EmbeddingArgs,
    },
    /// Cross-validates the hand-off classifier on its shipped training lines and prints
    /// precision and recall per language.
    HandoffCv {
        /// Number of folds.
        #[arg(long, default_value_t = 5)]
        folds: usize,
    },
}

/// A knowledge base with its article vectors, and the messages' vectors.
type Embedded = (KnowledgeBase, Vec<QueryEmbedding>);

/// Where vectors come from (with none of these, the lexical mode alone).
#[derive(Debug, Args)]
struct EmbeddingArgs {
    /// An OpenAI-compatible embeddings endpoint (`…/v1/embeddings`, or its base): the semantic
    /// mode is run too.
    #[arg(long, env = "FLEXCORD_KB__EMBEDDINGS_URL")]
    embeddings_url: Option<String>,
    /// The model the endpoint serves.
    #[arg(long, env = "FLEXCORD_KB__EMBEDDINGS_MODEL")]
    embeddings_model: Option<String>,
    /// Folder of the article vector cache (unset: vectors in memory only).
    #[arg(long, env = "FLEXCORD_KB__EMBEDDINGS_CACHE")]
    embeddings_cache: Option<PathBuf>,
    /// In-process stand-in vectors of this width instead of an endpoint (shared words, no
    /// meaning).
    #[arg(long, conflicts_with = "embeddings_url")]
    stand_in: Option<usize>,
}

impl EmbeddingArgs {
    fn config(&self) -> Result<Option<EmbeddingsConfig>, flexcord_kb::Error> {
        if let Some(dims) = self.stand_in {
            return Ok(Some(EmbeddingsConfig::stand_in(dims)));
        }
        let config = EmbeddingsConfig::from_settings(
            self.embeddings_url.as_deref(),
            self.embeddings_model.as_deref(),
        )?;
        Ok(config.map(|c| {
            c.with_api_key(std::env::var("FLEXCORD_KB__EMBEDDINGS_KEY").ok())
                .with_cache_dir(self.embeddings_cache.clone())
        }))
    }

    /// The knowledge base with vectors for every article, and each message's vector; `None`
    /// without embeddings.
    fn embed(
        &self,
        kb: &KnowledgeBase,
        messages: &[String],
    ) -> Result<Option<Embedded>, Box<dyn std::error::Error>> {
        let Some(config) = self.config()? else {
            return Ok(None);
        };
        let model = config.model.clone();
        let kb = kb.clone().with_embeddings(config)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (report, vectors) = runtime.block_on(async {
            let report = kb.embed_articles().await;
            (report, kb.query_embeddings(messages).await)
        });
        eprintln!("vectors of {model}: {report}");
        if report.missing > 0 {
            return Err(format!("{} articles have no vector", report.missing).into());
        }
        Ok(Some((kb, vectors?)))
    }
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

fn eval_command(
    articles: &str,
    queries: &Path,
    json: bool,
    embeddings: &EmbeddingArgs,
) -> Result<(), Box<dyn std::error::Error>> {
    let kb = open(articles)?;
    let loaded = eval::load_queries(queries)?;
    let report = eval::evaluate(&kb, &loaded)?;
    let messages: Vec<String> = loaded.iter().map(|q| q.q.clone()).collect();
    let semantic = match embeddings.embed(&kb, &messages)? {
        Some((kb, vectors)) => Some(eval::evaluate_with(&kb, &loaded, Some(&vectors))?),
        None => None,
    };
    if json {
        let mut value = report.to_json();
        if let (Some(semantic), Some(object)) = (&semantic, value.as_object_mut()) {
            object.insert("semantic".to_owned(), semantic.to_json());
        }
        out(&format!("{value}\n"));
    } else {
        let mut text = format!("{} queries from {}\n\n", loaded.len(), queries.display());
        match &semantic {
            Some(semantic) => {
                let _ = write!(
                    text,
                    "== lexical ==\n{report}\n== semantic (lexical and cosine rankings \
                             fused) ==\n{semantic}"
                );
            }
            None => {
                let _ = write!(text, "{report}");
            }
        }
        out(&text);
    }
    Ok(())
}

fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Eval {
            articles,
            queries,
            json,
            embeddings,
        } => eval_command(&articles, &queries, json, &embeddings)?,
        Command::Search {
            articles,
            features,
            words,
            embeddings,
        } => {
            let kb = open(&articles)?;
            let query = words.join(" ");
            let (kb, embedding) = match embeddings.embed(&kb, std::slice::from_ref(&query))? {
                Some((kb, mut vectors)) => (kb, vectors.pop().unwrap_or(QueryEmbedding::Off)),
                None => (kb, QueryEmbedding::Off),
            };
            let agent = EmbeddedAgent::new(kb.clone());
            let decision = agent.decide_with(&query, None, &embedding)?;
            let raw = kb
                .answer_with(
                    &query,
                    &SearchOptions::default().with_limit(10).with_threshold(None),
                    &embedding,
                )?
                .suggestions;
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
                for (id, x) in confidence::explain_with(&kb, &query, &embedding)? {
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
            semantic,
            misses,
            embeddings,
        } => {
            let kb = open(&articles)?;
            let loaded = eval::load_queries(&queries)?;
            let fit = if semantic {
                fit_semantic(&kb, &loaded, folds, &embeddings)?
            } else {
                confidence::fit(&kb, &loaded, folds)?
            };
            if let Some(path) = write {
                std::fs::write(&path, fit.rust_source())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
            out(&fit.to_string());
            if misses {
                out(&render_misses(&fit, &loaded));
            }
        }
        Command::HandoffCv { folds } => {
            out(&flexcord_kb::handoff_cross_validation(folds).to_string());
        }
    }
    Ok(())
}

/// `fit --semantic`: the model over rankings made with the messages' vectors.
fn fit_semantic(
    kb: &KnowledgeBase,
    loaded: &[eval::EvalQuery],
    folds: usize,
    embeddings: &EmbeddingArgs,
) -> Result<confidence::Fit, Box<dyn std::error::Error>> {
    let messages: Vec<String> = loaded.iter().map(|q| q.q.clone()).collect();
    let (kb, vectors) = embeddings.embed(kb, &messages)?.ok_or(
        "--semantic needs embeddings (--embeddings-url and --embeddings-model, or --stand-in)",
    )?;
    let mut fit = confidence::fit_semantic(&kb, loaded, folds, &vectors)?;
    fit.vectors = kb.embeddings().map(|e| {
        if e.stand_in.is_some() {
            format!(
                "`{}`, the in-process stand-in (hashed words, no meaning): refit with a real \
                 model's endpoint",
                e.model
            )
        } else {
            format!("`{}` at {}", e.model, e.endpoint)
        }
    });
    Ok(fit)
}

/// The held-out mistakes of a fit, one message a line with its best probability.
fn render_misses(fit: &confidence::Fit, queries: &[eval::EvalQuery]) -> String {
    let mut text = format!("held-out misses ({}):\n", fit.misses.len());
    for (i, p, answerable) in &fit.misses {
        let what = if *answerable { "not shown" } else { "shown" };
        let _ = writeln!(text, "  {p:.2}  {what:<9}  {}", queries[*i].q);
    }
    text
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
