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

    /// Reads the folder again and swaps the new index in; searches in flight are not stopped.
    /// A knowledge base without a folder keeps its articles (and reports them).
    ///
    /// # Errors
    /// [`ErrorKind::Read`] when the folder cannot be listed (the old index stays in place);
    /// [`ErrorKind::Index`] when the index cannot be built.
    pub fn reload(&self) -> Result<LoadReport, Error> {
        let Source::Folder(dir) = &self.inner.source else {
            return Ok(LoadReport {
                loaded: self.len(),
                problems: Vec::new(),
            });
        };
        let (articles, lexicon, report) = load_folder(dir)?;
        log_report(dir, &report);
        let engine = Engine::build(articles, lexicon)?;
        self.inner.engine.store(Arc::new(engine));
        tracing::info!(folder = %dir.display(), articles = report.loaded, "knowledge base reloaded");
        Ok(report)
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
                    match tokio::task::spawn_blocking(move || kb.reload()).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => tracing::warn!(error = %e, "knowledge base reload failed; the previous articles stay"),
                        Err(e) => tracing::warn!(error = %e, "knowledge base reload task failed"),
                    }
                }
            }
        });
        Ok(Watcher { task })
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
