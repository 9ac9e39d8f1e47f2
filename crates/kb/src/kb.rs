//! The knowledge base: a swappable search snapshot, reloadable from its folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use include_dir::{Dir, include_dir};

use crate::article::{self, Article, LoadReport};
use crate::engine::Engine;
use crate::error::{Error, ErrorKind};
use crate::search::{SearchOptions, Suggestion};

/// The demo help center shipped inside the binary (45 articles, English and Vietnamese).
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
    /// Loads every `*.md` article of a folder. Files with problems are skipped and listed in
    /// the report (each is also logged as a warning); the others are loaded.
    ///
    /// # Errors
    /// [`ErrorKind::Read`] when the folder cannot be listed; [`ErrorKind::Index`] when the index
    /// cannot be built.
    pub fn open(dir: impl AsRef<Path>) -> Result<(Self, LoadReport), Error> {
        let dir = dir.as_ref().to_owned();
        let (articles, report) = article::load_dir(&dir)?;
        log_report(&dir, &report);
        let kb = Self::build(articles, Source::Folder(dir))?;
        Ok((kb, report))
    }

    /// The demo knowledge base embedded in the binary (needs no file).
    ///
    /// # Errors
    /// [`ErrorKind::Index`] when the index cannot be built.
    pub fn sample() -> Result<Self, Error> {
        let (articles, _) = Self::sample_articles();
        Self::build(articles, Source::Fixed)
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

    /// A knowledge base of the given articles (no folder: [`reload`](Self::reload) keeps them).
    ///
    /// # Errors
    /// [`ErrorKind::Index`] when the index cannot be built.
    pub fn from_articles(articles: Vec<Article>) -> Result<Self, Error> {
        Self::build(articles, Source::Fixed)
    }

    fn build(articles: Vec<Article>, source: Source) -> Result<Self, Error> {
        let engine = Engine::build(articles)?;
        Ok(Self {
            inner: Arc::new(Inner {
                engine: ArcSwap::from_pointee(engine),
                source,
            }),
        })
    }

    /// The best `limit` articles for a query whose confidence passes the default threshold,
    /// best first. An off-topic query returns nothing.
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
        self.inner.engine.load().search(query, options)
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
        let (articles, report) = article::load_dir(dir)?;
        log_report(dir, &report);
        let engine = Engine::build(articles)?;
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

fn fingerprint(dir: &Path) -> Option<Fingerprint> {
    let files = article::markdown_files(dir).ok()?;
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
