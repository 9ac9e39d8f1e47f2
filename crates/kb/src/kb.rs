//! The knowledge base: a swappable search snapshot, reloadable from its folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use include_dir::{Dir, include_dir};

use crate::article::{self, Article, FileProblem, LoadReport};
use crate::engine::{Engine, Ranking};
use crate::error::{Error, ErrorKind};
use crate::lexicon::{LEXICON_FILE, Lexicon};
use crate::search::{Answer, SearchOptions, Suggestion};

/// The demo help center shipped inside the binary (45 articles, English and Vietnamese, and
/// its `synonyms.yaml`).
static SAMPLE: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/sample");

#[derive(Debug, Clone)]
enum Source {
    Folder(PathBuf),
    Fixed,
}

struct Inner {
    engine: ArcSwap<Engine>,
    source: Source,
}

/// A searchable set of help-center articles.
///
/// Cheap to clone (clones share one index). Searches run on an immutable snapshot; a
/// [`reload`](Self::reload) builds a new snapshot and swaps it in atomically, so searches in
/// flight finish on the old one and none is blocked.
///
/// ```
/// let kb = flexcord_kb::KnowledgeBase::sample()?;
/// let hits = kb.search("forgot my password", 3)?;
/// assert_eq!(hits[0].id, "reset-password");
/// # Ok::<(), flexcord_kb::Error>(())
/// ```
#[derive(Clone)]
pub struct KnowledgeBase {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KnowledgeBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeBase")
            .field("source", &self.inner.source)
            .field("articles", &self.len())
            .finish()
    }
}

impl KnowledgeBase {
    /// Loads every `*.md` article of a folder, and its lexicon (`synonyms.yaml`, added to the
    /// built-in one; see [`Lexicon`]). Files with problems are skipped and listed in the report
    /// (each is also logged as a warning); the others are loaded. A lexicon file that cannot be
    /// read is reported too, and the built-in lexicon is used instead.
    ///
    /// # Errors
    /// [`ErrorKind::Read`] when the folder cannot be listed; [`ErrorKind::Index`] when the index
    /// cannot be built.
    pub fn open(dir: impl AsRef<Path>) -> Result<(Self, LoadReport), Error> {
        let dir = dir.as_ref().to_owned();
        let (articles, lexicon, report) = load_folder(&dir)?;
        log_report(&dir, &report);
        let kb = Self::build(articles, lexicon, Source::Folder(dir))?;
        Ok((kb, report))
    }

    /// The demo knowledge base embedded in the binary (needs no file).
    ///
    /// # Errors
    /// [`ErrorKind::Index`] when the index cannot be built.
    pub fn sample() -> Result<Self, Error> {
        let (articles, _) = Self::sample_articles();
        Self::build(articles, Self::sample_lexicon(), Source::Fixed)
    }

    /// The lexicon of the embedded demo knowledge base (its `synonyms.yaml`).
    pub fn sample_lexicon() -> Lexicon {
        SAMPLE
            .get_file(LEXICON_FILE)
            .and_then(|f| f.contents_utf8())
            .and_then(|text| Lexicon::parse(text).ok())
            .unwrap_or_else(Lexicon::builtin)
    }

    /// The articles of the embedded demo knowledge base, with the load report.
    pub fn sample_articles() -> (Vec<Article>, LoadReport) {
        let mut files: Vec<_> = SAMPLE
            .files()
            .filter(|f| f.path().extension().is_some_and(|e| e == "md"))
            .collect();
        files.sort_by_key(|f| f.path());
        let mut articles = Vec::new();
        let mut report = LoadReport::default();
        article::collect(
            files.into_iter().map(|f| {
                let text = f
                    .contents_utf8()
                    .ok_or_else(|| "the file is not UTF-8".to_owned());
                (f.path().to_owned(), text)
            }),
            &mut articles,
            &mut report,
        );
        (articles, report)
    }

    /// A knowledge base of the given articles with the built-in lexicon (no folder:
    /// [`reload`](Self::reload) keeps them).
    ///
    /// # Errors
    /// [`ErrorKind::Index`] when the index cannot be built.
    pub fn from_articles(articles: Vec<Article>) -> Result<Self, Error> {
        Self::build(articles, Lexicon::builtin(), Source::Fixed)
    }

    /// A knowledge base of the given articles and lexicon.
    ///
    /// # Errors
    /// [`ErrorKind::Index`] when the index cannot be built.
    pub fn with_lexicon(articles: Vec<Article>, lexicon: Lexicon) -> Result<Self, Error> {
        Self::build(articles, lexicon, Source::Fixed)
    }

    fn build(articles: Vec<Article>, lexicon: Lexicon, source: Source) -> Result<Self, Error> {
        let engine = Engine::build(articles, lexicon)?;
        Ok(Self {
            inner: Arc::new(Inner {
                engine: ArcSwap::from_pointee(engine),
                source,
            }),
        })
    }

    /// The articles shown for a query with the default options (at most `limit`), best first:
    /// nothing for an off-topic query (see [`answer`](Self::answer) for the confidence band).
    ///
    /// # Errors
    /// [`ErrorKind::Index`] when the index cannot be read.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Suggestion>, Error> {
        self.search_with(query, &SearchOptions::default().with_limit(limit))
    }

    /// A search with explicit options (threshold, language, typo tolerance, ...).
    ///
    /// # Errors
    /// [`ErrorKind::Index`] when the index cannot be read.
    pub fn search_with(
        &self,
        query: &str,
        options: &SearchOptions,
    ) -> Result<Vec<Suggestion>, Error> {
        Ok(self.answer(query, options)?.suggestions)
    }

    /// The answer to a message: how sure it is ([`crate::Confidence`]) and the articles to
    /// show in that band.
    ///
    /// ```
    /// use flexcord_kb::{Confidence, KnowledgeBase, SearchOptions};
    /// let kb = KnowledgeBase::sample()?;
    /// let answer = kb.answer("how do I reset my password", &SearchOptions::default())?;
    /// assert_eq!(answer.confidence, Confidence::Sure);
    /// assert_eq!(answer.suggestions[0].id, "reset-password");
    /// let answer = kb.answer("recipe for banana bread", &SearchOptions::default())?;
    /// assert_eq!(answer.confidence, Confidence::Unknown);
    /// assert!(answer.suggestions.is_empty());
    /// # Ok::<(), flexcord_kb::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Index`] when the index cannot be read.
    pub fn answer(&self, query: &str, options: &SearchOptions) -> Result<Answer, Error> {
        self.inner.engine.load().answer(query, options)
    }

    pub(crate) fn rank(&self, query: &str, options: &SearchOptions) -> Result<Ranking, Error> {
        self.inner.engine.load().rank(query, options)
    }

    pub(crate) fn ids_of(&self, ranking: &Ranking) -> Vec<String> {
        self.inner.engine.load().ids(ranking)
    }

    /// Number of articles.
    pub fn len(&self) -> usize {
        self.inner.engine.load().articles().len()
    }

    /// `true` when there is no article.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of one article.
    pub fn article(&self, id: &str) -> Option<Article> {
        self.inner
            .engine
            .load()
            .articles()
            .iter()
            .find(|a| a.id == id)
            .cloned()
    }

    /// The ids of every article, in load order.
    pub fn ids(&self) -> Vec<String> {
        self.inner
            .engine
            .load()
            .articles()
            .iter()
            .map(|a| a.id.clone())
            .collect()
    }

    /// The folder the articles come from, if any.
    pub fn folder(&self) -> Option<&Path> {
        match &self.inner.source {
            Source::Folder(p) => Some(p),
            Source::Fixed => None,
        }
    }

    /// Reads the folder again and swaps the new index in; searches in flight are not stopped
    /// (they finish on the old snapshot; a search sees the old or the new articles, never a
    /// mix). As at start-up, a broken article is skipped and reported; but when the folder
    /// yields no article at all, the previous articles keep serving ([`Reload::swapped`] is
    /// `false`). A knowledge base without a folder keeps its articles.
    ///
    /// Logs what changed and counts the reload in the metric `flexcord_kb_reloads_total`
    /// (label `outcome`: `swapped`, `kept` or `failed`); the gauge `flexcord_kb_articles` is
    /// the number of articles served.
    ///
    /// # Errors
    /// [`ErrorKind::Read`] when the folder cannot be listed (the old index stays in place);
    /// [`ErrorKind::Index`] when the index cannot be built.
    pub fn reload(&self) -> Result<Reload, Error> {
        let Source::Folder(dir) = &self.inner.source else {
            return Ok(Reload {
                report: LoadReport {
                    loaded: self.len(),
                    problems: Vec::new(),
                },
                ..Reload::default()
            });
        };
        let outcome = self.reload_folder(dir);
        let label = match &outcome {
            Ok(r) if r.swapped => "swapped",
            Ok(_) => "kept",
            Err(_) => "failed",
        };
        metrics::counter!("flexcord_kb_reloads_total", "outcome" => label).increment(1);
        #[allow(clippy::cast_precision_loss)]
        metrics::gauge!("flexcord_kb_articles").set(self.len() as f64);
        if let Err(e) = &outcome {
            tracing::warn!(folder = %dir.display(), error = %e, "knowledge base reload failed; the previous articles stay");
        }
        outcome
    }

    fn reload_folder(&self, dir: &Path) -> Result<Reload, Error> {
        let (articles, lexicon, report) = load_folder(dir)?;
        log_report(dir, &report);
        let old = self.inner.engine.load_full();
        let mut reload = Reload::between(old.articles(), &articles);
        reload.lexicon_changed = old.lexicon() != &lexicon;
        if articles.is_empty() {
            tracing::warn!(
                folder = %dir.display(),
                serving = old.articles().len(),
                "knowledge base reload found no article; the previous articles stay"
            );
            reload.report = report;
            return Ok(reload);
        }
        let engine = Engine::build(articles, lexicon)?;
        self.inner.engine.store(Arc::new(engine));
        reload.swapped = true;
        reload.report = report;
        tracing::info!(
            folder = %dir.display(),
            articles = reload.report.loaded,
            added = reload.added.len(),
            removed = reload.removed.len(),
            changed = reload.changed.len(),
            lexicon_changed = reload.lexicon_changed,
            skipped = reload.report.problems.iter().filter(|p| p.skipped).count(),
            "knowledge base reloaded: {reload}"
        );
        Ok(reload)
    }

    /// Polls the folder every `interval` and reloads once a change has settled (no further
    /// change for one interval). Stops when the returned [`Watcher`] is dropped.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when there is no folder to watch or no Tokio runtime is running.
    pub fn watch(&self, interval: Duration) -> Result<Watcher, Error> {
        let Source::Folder(dir) = self.inner.source.clone() else {
            return Err(Error::new(ErrorKind::Config(
                "this knowledge base has no folder to watch".into(),
            )));
        };
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| {
            Error::with_source(
                ErrorKind::Config("watching needs a Tokio runtime".into()),
                e,
            )
        })?;
        let kb = self.clone();
        let mut last = fingerprint(&dir);
        let task = runtime.spawn(async move {
            let mut pending = false;
            loop {
                tokio::time::sleep(interval).await;
                let now = fingerprint(&dir);
                if now != last {
                    last = now;
                    pending = true;
                    continue;
                }
                if pending {
                    pending = false;
                    let kb = kb.clone();
                    // the reload logs what changed, or why it kept the old articles
                    if let Err(e) = tokio::task::spawn_blocking(move || kb.reload()).await {
                        tracing::warn!(error = %e, "knowledge base reload task failed");
                    }
                }
            }
        });
        Ok(Watcher { task })
    }
}

/// What a [`KnowledgeBase::reload`] did: what the load found and what changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reload {
    /// What the load found (articles loaded, files skipped and why).
    pub report: LoadReport,
    /// `true` when the new articles were swapped in; `false` when the folder yielded no
    /// article (the previous ones keep serving) or the knowledge base has no folder.
    pub swapped: bool,
    /// Ids of the articles that are new, sorted.
    pub added: Vec<String>,
    /// Ids of the articles that are gone, sorted.
    pub removed: Vec<String>,
    /// Ids of the articles whose title, tags, language, address or text changed, sorted.
    pub changed: Vec<String>,
    /// The folder's `synonyms.yaml` changed (or appeared, or went away).
    pub lexicon_changed: bool,
}

impl Reload {
    fn between(old: &[Article], new: &[Article]) -> Self {
        let old: std::collections::HashMap<&str, &Article> =
            old.iter().map(|a| (a.id.as_str(), a)).collect();
        let new_ids: std::collections::HashSet<&str> = new.iter().map(|a| a.id.as_str()).collect();
        let mut reload = Self::default();
        for article in new {
            match old.get(article.id.as_str()) {
                None => reload.added.push(article.id.clone()),
                Some(before) if *before != article => reload.changed.push(article.id.clone()),
                Some(_) => {}
            }
        }
        reload.removed = old
            .keys()
            .filter(|id| !new_ids.contains(*id))
            .map(|id| (*id).to_owned())
            .collect();
        reload.added.sort();
        reload.removed.sort();
        reload.changed.sort();
        reload
    }

    /// `true` when no article and no synonym changed.
    pub fn is_unchanged(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && !self.lexicon_changed
    }
}

impl std::fmt::Display for Reload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |ids: &[String]| {
            let text = ids.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
            if ids.len() > 5 {
                format!("{text} and {} more", ids.len() - 5)
            } else {
                text
            }
        };
        if !self.swapped {
            return write!(
                f,
                "kept the previous articles ({} found)",
                self.report.loaded
            );
        }
        write!(f, "{} articles", self.report.loaded)?;
        for (what, ids) in [
            ("added", &self.added),
            ("removed", &self.removed),
            ("changed", &self.changed),
        ] {
            if !ids.is_empty() {
                write!(f, "; {what} {}", list(ids))?;
            }
        }
        if self.lexicon_changed {
            write!(f, "; synonyms changed")?;
        }
        if self.is_unchanged() {
            write!(f, "; nothing changed")?;
        }
        Ok(())
    }
}

/// Watches a knowledge base folder (see [`KnowledgeBase::watch`]); dropping it stops watching.
#[derive(Debug)]
pub struct Watcher {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

/// The articles and the lexicon of a folder.
fn load_folder(dir: &Path) -> Result<(Vec<Article>, Lexicon, LoadReport), Error> {
    let (articles, mut report) = article::load_dir(dir)?;
    let lexicon = Lexicon::for_folder(dir).unwrap_or_else(|message| {
        report.problems.push(FileProblem {
            path: dir.join(LEXICON_FILE),
            message,
            skipped: true,
        });
        Lexicon::builtin()
    });
    Ok((articles, lexicon, report))
}

fn fingerprint(dir: &Path) -> Option<Fingerprint> {
    let mut files = article::markdown_files(dir).ok()?;
    let lexicon = dir.join(LEXICON_FILE);
    if lexicon.is_file() {
        files.push(lexicon);
    }
    Some(
        files
            .into_iter()
            .map(|p| {
                let meta = std::fs::metadata(&p).ok();
                let len = meta.as_ref().map_or(0, std::fs::Metadata::len);
                let modified = meta.and_then(|m| m.modified().ok());
                (p, len, modified)
            })
            .collect(),
    )
}

fn log_report(dir: &Path, report: &LoadReport) {
    for problem in &report.problems {
        tracing::warn!(folder = %dir.display(), "knowledge base file: {problem}");
    }
}
