//! The knowledge base: a swappable search snapshot, reloadable from its folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use include_dir::{Dir, include_dir};

use crate::article::{self, Article, FileProblem, LoadReport};
use crate::embeddings::{
    self, ArticleVectors, EMBEDDED_METRIC, EmbedReport, Embedder, EmbeddingsConfig, FallbackReason,
    QueryEmbedding,
};
use crate::engine::{Engine, Ranking, Semantic};
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

/// What a search runs on: the index and the articles' vectors, swapped together.
pub(crate) struct Snapshot {
    engine: Arc<Engine>,
    vectors: Arc<ArticleVectors>,
}

impl Snapshot {
    fn semantic<'a>(&'a self, embedding: &'a QueryEmbedding) -> Option<Semantic<'a>> {
        let query = embedding.vector()?;
        (query.len() == self.vectors.dims && self.vectors.count() > 0).then_some(Semantic {
            query,
            articles: &self.vectors,
        })
    }
}

struct Inner {
    snapshot: ArcSwap<Snapshot>,
    source: Source,
    embedder: Option<Arc<Embedder>>,
}

/// What a reload found before anything is swapped.
enum Prepared {
    /// Nothing to swap (no folder, or a folder that yielded no article); the reload is final.
    Keep(Reload),
    /// New articles to swap in.
    Swap(Reload, Box<Engine>),
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
                snapshot: ArcSwap::from_pointee(Snapshot {
                    engine: Arc::new(engine),
                    vectors: Arc::new(ArticleVectors::default()),
                }),
                source,
                embedder: None,
            }),
        })
    }

    fn engine(&self) -> Arc<Engine> {
        self.inner.snapshot.load().engine.clone()
    }

    /// This knowledge base with semantic retrieval over an embeddings endpoint (see
    /// [`crate::embeddings`]). Call it before cloning: clones made before do not share it.
    /// The articles have no vector yet: [`embed_articles`](Self::embed_articles) computes them
    /// (from the cache when it can); until then the lexical ranking answers alone.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the HTTP client cannot be built.
    pub fn with_embeddings(self, config: EmbeddingsConfig) -> Result<Self, Error> {
        let embedder = Arc::new(Embedder::new(config)?);
        Ok(Self {
            inner: Arc::new(Inner {
                snapshot: ArcSwap::new(self.inner.snapshot.load_full()),
                source: self.inner.source.clone(),
                embedder: Some(embedder),
            }),
        })
    }

    /// The embeddings configuration, when semantic retrieval is on.
    pub fn embeddings(&self) -> Option<&EmbeddingsConfig> {
        self.inner.embedder.as_deref().map(Embedder::config)
    }

    /// Messages answered by the lexical ranking alone although embeddings are configured
    /// (the endpoint slow or down, or no article vector yet), since this knowledge base was
    /// given its embeddings; also counted in `flexcord_kb_embeddings_fallbacks_total{reason}`.
    pub fn embedding_fallbacks(&self) -> u64 {
        self.inner.embedder.as_ref().map_or(0, |e| e.fallbacks())
    }

    /// Number of articles that have a vector (0 without embeddings).
    pub fn embedded_articles(&self) -> usize {
        self.inner.snapshot.load().vectors.count()
    }

    /// Gives every article a vector: from the cache (memory, then the cache file) for the
    /// articles whose text was embedded before with this model, from the endpoint in batches
    /// for the others; the cache file is rewritten with the current articles' vectors. Runs
    /// again over the articles still without a vector (the endpoint was down). The new vectors
    /// are swapped in with the index they belong to (when a reload swapped another index in
    /// meanwhile, they are kept in the cache for it and not swapped).
    ///
    /// Without embeddings this does nothing.
    pub async fn embed_articles(&self) -> EmbedReport {
        let Some(embedder) = self.inner.embedder.clone() else {
            return EmbedReport::default();
        };
        let current = self.inner.snapshot.load_full();
        let (vectors, report) = embedder
            .embed_texts(&article_texts(current.engine.articles()))
            .await;
        let next = Arc::new(Snapshot {
            engine: current.engine.clone(),
            vectors: Arc::new(article_vectors(vectors)),
        });
        let previous = self.inner.snapshot.compare_and_swap(&current, next);
        if Arc::ptr_eq(&previous, &current) {
            self.record_embedded();
        }
        tracing::info!(
            endpoint = embedder.config().endpoint.as_str(),
            model = embedder.config().model,
            cached = report.cached,
            embedded = report.embedded,
            missing = report.missing,
            "knowledge base vectors: {report}"
        );
        report
    }

    fn record_embedded(&self) {
        if self.inner.embedder.is_some() {
            #[allow(clippy::cast_precision_loss)]
            metrics::gauge!(EMBEDDED_METRIC).set(self.embedded_articles() as f64);
        }
    }

    /// The vector of a message, for [`answer_with`](Self::answer_with): requested within the
    /// configured query timeout. [`QueryEmbedding::Off`] without embeddings; when the endpoint
    /// is slow or fails, or no article has a vector yet, a [`QueryEmbedding::Fallback`]
    /// (logged and counted in `flexcord_kb_embeddings_fallbacks_total{reason}`): the lexical
    /// ranking answers alone.
    pub async fn query_embedding(&self, message: &str) -> QueryEmbedding {
        let Some(embedder) = &self.inner.embedder else {
            return QueryEmbedding::Off;
        };
        let dims = {
            let snapshot = self.inner.snapshot.load();
            (snapshot.vectors.count() > 0).then_some(snapshot.vectors.dims)
        };
        let Some(dims) = dims else {
            let reason = FallbackReason::NoVectors;
            embedder.count_fallback(reason);
            return QueryEmbedding::Fallback(reason);
        };
        embedder.embed_query(message, dims).await
    }

    /// The vectors of many messages at once (in batches, with the batch timeout): for
    /// evaluating and fitting. [`QueryEmbedding::Off`] for each without embeddings.
    ///
    /// # Errors
    /// The endpoint's error ([`ErrorKind::EmbeddingsTimeout`], ...) when a batch fails.
    pub async fn query_embeddings(
        &self,
        messages: &[String],
    ) -> Result<Vec<QueryEmbedding>, Error> {
        let Some(embedder) = &self.inner.embedder else {
            return Ok(vec![QueryEmbedding::Off; messages.len()]);
        };
        let size = embedder.config().batch_size;
        let mut out = Vec::with_capacity(messages.len());
        for batch in messages.chunks(size) {
            let batch: Vec<String> = batch
                .iter()
                .map(|m| embeddings::cut(m, embeddings::ARTICLE_CHARS))
                .collect();
            let vectors = embedder
                .embed(&batch, embedder.config().batch_timeout)
                .await?;
            out.extend(
                vectors
                    .into_iter()
                    .map(|v| QueryEmbedding::Vector(v.into())),
            );
        }
        Ok(out)
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
        self.answer_with(query, options, &QueryEmbedding::Off)
    }

    /// The answer to a message, ranked with its vector too when there is one
    /// ([`query_embedding`](Self::query_embedding)): the lexical and the cosine rankings are
    /// fused (reciprocal rank fusion) and the confidence model reads semantic features as well.
    /// Without a vector (or articles without vectors), this is [`answer`](Self::answer).
    ///
    /// # Errors
    /// [`ErrorKind::Index`] when the index cannot be read.
    pub fn answer_with(
        &self,
        query: &str,
        options: &SearchOptions,
        embedding: &QueryEmbedding,
    ) -> Result<Answer, Error> {
        let snapshot = self.inner.snapshot.load();
        snapshot
            .engine
            .answer(query, options, snapshot.semantic(embedding))
    }

    #[cfg(test)]
    pub(crate) fn rank(&self, query: &str, options: &SearchOptions) -> Result<Ranking, Error> {
        self.rank_with(query, options, &QueryEmbedding::Off)
    }

    pub(crate) fn rank_with(
        &self,
        query: &str,
        options: &SearchOptions,
        embedding: &QueryEmbedding,
    ) -> Result<Ranking, Error> {
        let snapshot = self.inner.snapshot.load();
        snapshot
            .engine
            .rank(query, options, snapshot.semantic(embedding))
    }

    pub(crate) fn ids_of(&self, ranking: &Ranking) -> Vec<String> {
        self.engine().ids(ranking)
    }

    /// Number of articles.
    pub fn len(&self) -> usize {
        self.engine().articles().len()
    }

    /// `true` when there is no article.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of one article.
    pub fn article(&self, id: &str) -> Option<Article> {
        self.engine()
            .articles()
            .iter()
            .find(|a| a.id == id)
            .cloned()
    }

    /// The ids of every article, in load order.
    pub fn ids(&self) -> Vec<String> {
        self.engine()
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
        let outcome = self.prepare_reload().map(|prepared| match prepared {
            Prepared::Keep(reload) => reload,
            Prepared::Swap(reload, engine) => {
                let vectors = self.cached_vectors(&engine);
                self.commit(reload, *engine, vectors)
            }
        });
        self.record_reload(&outcome);
        outcome
    }

    /// [`reload`](Self::reload) for a running Tokio runtime: the index is built on a blocking
    /// thread and, with embeddings, the new and changed articles are embedded (the others keep
    /// their cached vectors) before the new index and its vectors are swapped in together.
    /// When the endpoint fails, the articles it did not embed rank lexically until the next
    /// [`embed_articles`](Self::embed_articles).
    ///
    /// # Errors
    /// As [`reload`](Self::reload).
    pub async fn reload_async(&self) -> Result<Reload, Error> {
        let kb = self.clone();
        let prepared = tokio::task::spawn_blocking(move || kb.prepare_reload())
            .await
            .map_err(|e| Error::with_source(ErrorKind::Index, e))
            .and_then(|r| r);
        let outcome = match prepared {
            Err(e) => Err(e),
            Ok(Prepared::Keep(reload)) => Ok(reload),
            Ok(Prepared::Swap(reload, engine)) => {
                let vectors = match &self.inner.embedder {
                    Some(embedder) => {
                        let (vectors, report) = embedder
                            .embed_texts(&article_texts(engine.articles()))
                            .await;
                        tracing::info!(
                            cached = report.cached,
                            embedded = report.embedded,
                            missing = report.missing,
                            "knowledge base vectors: {report}"
                        );
                        article_vectors(vectors)
                    }
                    None => ArticleVectors::default(),
                };
                Ok(self.commit(reload, *engine, vectors))
            }
        };
        self.record_reload(&outcome);
        outcome
    }

    fn record_reload(&self, outcome: &Result<Reload, Error>) {
        if self.folder().is_none() {
            return;
        }
        let label = match outcome {
            Ok(r) if r.swapped => "swapped",
            Ok(_) => "kept",
            Err(_) => "failed",
        };
        metrics::counter!("flexcord_kb_reloads_total", "outcome" => label).increment(1);
        #[allow(clippy::cast_precision_loss)]
        metrics::gauge!("flexcord_kb_articles").set(self.len() as f64);
        self.record_embedded();
        if let (Err(e), Some(dir)) = (outcome, self.folder()) {
            tracing::warn!(folder = %dir.display(), error = %e, "knowledge base reload failed; the previous articles stay");
        }
    }

    /// The vectors an index's articles already have (no request is sent).
    fn cached_vectors(&self, engine: &Engine) -> ArticleVectors {
        match &self.inner.embedder {
            Some(embedder) => article_vectors(embedder.cached(&article_texts(engine.articles()))),
            None => ArticleVectors::default(),
        }
    }

    fn prepare_reload(&self) -> Result<Prepared, Error> {
        let Source::Folder(dir) = &self.inner.source else {
            return Ok(Prepared::Keep(Reload {
                report: LoadReport {
                    loaded: self.len(),
                    problems: Vec::new(),
                },
                ..Reload::default()
            }));
        };
        let (articles, lexicon, report) = load_folder(dir)?;
        log_report(dir, &report);
        let old = self.engine();
        let mut reload = Reload::between(old.articles(), &articles);
        reload.lexicon_changed = old.lexicon() != &lexicon;
        reload.report = report;
        if articles.is_empty() {
            tracing::warn!(
                folder = %dir.display(),
                serving = old.articles().len(),
                "knowledge base reload found no article; the previous articles stay"
            );
            return Ok(Prepared::Keep(reload));
        }
        let engine = Engine::build(articles, lexicon)?;
        Ok(Prepared::Swap(reload, Box::new(engine)))
    }

    fn commit(&self, mut reload: Reload, engine: Engine, vectors: ArticleVectors) -> Reload {
        self.inner.snapshot.store(Arc::new(Snapshot {
            engine: Arc::new(engine),
            vectors: Arc::new(vectors),
        }));
        reload.swapped = true;
        tracing::info!(
            folder = %self.folder().map(Path::display).map(|d| d.to_string()).unwrap_or_default(),
            articles = reload.report.loaded,
            added = reload.added.len(),
            removed = reload.removed.len(),
            changed = reload.changed.len(),
            lexicon_changed = reload.lexicon_changed,
            skipped = reload.report.problems.iter().filter(|p| p.skipped).count(),
            "knowledge base reloaded: {reload}"
        );
        reload
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
                    // the reload logs what changed, or why it kept the old articles
                    let _ = kb.reload_async().await;
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

fn article_texts(articles: &[Article]) -> Vec<String> {
    articles.iter().map(embeddings::article_text).collect()
}

fn article_vectors(vectors: Vec<Option<Arc<[f32]>>>) -> ArticleVectors {
    let dims = vectors
        .iter()
        .flatten()
        .map(|v| v.len())
        .next()
        .unwrap_or(0);
    ArticleVectors {
        vectors: vectors
            .into_iter()
            .map(|v| v.filter(|v| v.len() == dims))
            .collect(),
        dims,
    }
}

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
