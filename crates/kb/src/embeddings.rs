//! Optional semantic retrieval: article and message vectors from an OpenAI-compatible
//! embeddings API (`POST /v1/embeddings`, as `OpenAI`, Ollama, Hugging Face TEI and vLLM serve
//! it), article vectors cached on disk by content hash and model.
//!
//! The knowledge base fuses the cosine ranking with its lexical ranking (reciprocal rank
//! fusion) and adds semantic features to the confidence model; see
//! [`KnowledgeBase::with_embeddings`](crate::KnowledgeBase::with_embeddings). When the endpoint
//! is slow or down, the lexical ranking answers alone and the fallback is counted in
//! `flexcord_kb_embeddings_fallbacks_total{reason}`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::article::Article;
use crate::error::{Error, ErrorKind};
use crate::text;

/// Default time allowed for a message's vector: the reply waits for it, so it is short; the
/// lexical ranking answers alone when it runs out.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(1);

/// Longest time allowed for a message's vector: the time the bot allows a remote agent for a
/// whole reply ([`crate::RASA_DEFAULT_TIMEOUT`]).
pub const MAX_QUERY_TIMEOUT: Duration = crate::rasa::DEFAULT_TIMEOUT;

/// Default time allowed for one batch of article vectors (they are computed off the reply
/// path, at start-up and on reload).
pub const DEFAULT_BATCH_TIMEOUT: Duration = Duration::from_secs(60);

/// Default number of texts per embeddings request.
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// Characters of an article embedded (title, tags, then the body, cut at a word): most
/// embedding models read 512 tokens, about this much text.
pub const ARTICLE_CHARS: usize = 2000;

/// The name of the fallback counter (label `reason`: `timeout`, `error` or `no_vectors`).
pub const FALLBACKS_METRIC: &str = "flexcord_kb_embeddings_fallbacks_total";

/// The name of the gauge of articles that have a vector.
pub const EMBEDDED_METRIC: &str = "flexcord_kb_embedded_articles";

/// Version of the cache file format.
const CACHE_VERSION: u32 = 1;

/// Where and how to ask for vectors (configuration `kb.embeddings_url`, `kb.embeddings_model`,
/// `kb.embeddings_key`, `kb.embeddings_timeout`, `kb.embeddings_cache`).
#[derive(Clone)]
#[non_exhaustive]
pub struct EmbeddingsConfig {
    /// The `…/v1/embeddings` endpoint.
    pub endpoint: url::Url,
    /// The model named in each request (and in the cache key).
    pub model: String,
    /// Sent as `Authorization: Bearer …` when set.
    pub api_key: Option<String>,
    /// Time allowed for a message's vector.
    pub query_timeout: Duration,
    /// Time allowed for one batch of article vectors.
    pub batch_timeout: Duration,
    /// Texts per request.
    pub batch_size: usize,
    /// Folder of the vector cache; `None` keeps vectors in memory only.
    pub cache_dir: Option<PathBuf>,
    /// Vectors from [`hashed_embedding`] of this width, computed in process: no request is
    /// sent (see [`EmbeddingsConfig::stand_in`]).
    pub stand_in: Option<usize>,
}

impl std::fmt::Debug for EmbeddingsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingsConfig")
            .field("endpoint", &self.endpoint.as_str())
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("query_timeout", &self.query_timeout)
            .field("batch_timeout", &self.batch_timeout)
            .field("batch_size", &self.batch_size)
            .field("cache_dir", &self.cache_dir)
            .field("stand_in", &self.stand_in)
            .finish()
    }
}

impl EmbeddingsConfig {
    /// Reads `kb.embeddings_url` and `kb.embeddings_model`: `Ok(None)` when neither is set
    /// (semantic retrieval off, the default), the configuration when both are.
    ///
    /// The address is the embeddings endpoint or its base: a path that ends in `/embeddings` is
    /// used as it is, one that ends in `/v1` gets `/embeddings`, any other gets
    /// `/v1/embeddings` (`http://localhost:11434` is `http://localhost:11434/v1/embeddings`).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when only one of the two is set, or the address is not an http(s)
    /// URL.
    pub fn from_settings(url: Option<&str>, model: Option<&str>) -> Result<Option<Self>, Error> {
        let url = url.map(str::trim).filter(|s| !s.is_empty());
        let model = model.map(str::trim).filter(|s| !s.is_empty());
        match (url, model) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(Error::new(ErrorKind::Config(
                "kb.embeddings_url is set but kb.embeddings_model is not: name the model the \
                 endpoint serves (for example `text-embedding-3-small` or `nomic-embed-text`)"
                    .into(),
            ))),
            (None, Some(_)) => Err(Error::new(ErrorKind::Config(
                "kb.embeddings_model is set but kb.embeddings_url is not: give the address of an \
                 OpenAI-compatible embeddings endpoint"
                    .into(),
            ))),
            (Some(url), Some(model)) => Self::new(url, model).map(Some),
        }
    }

    /// The endpoint at `url` (or its base, as in [`from_settings`](Self::from_settings))
    /// serving `model`, with the default timeouts and batch size, no key and no cache.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the address is not an http(s) URL or the model is empty.
    pub fn new(url: &str, model: &str) -> Result<Self, Error> {
        if model.trim().is_empty() {
            return Err(Error::new(ErrorKind::Config(
                "kb.embeddings_model must not be empty".into(),
            )));
        }
        Ok(Self {
            endpoint: endpoint(url.trim())?,
            model: model.trim().to_owned(),
            api_key: None,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            batch_timeout: DEFAULT_BATCH_TIMEOUT,
            batch_size: DEFAULT_BATCH_SIZE,
            cache_dir: None,
            stand_in: None,
        })
    }

    /// Vectors from the stand-in [`hashed_embedding`] (`dims` wide) computed in process, no
    /// endpoint: words shared, not meaning. For tests and for fitting the semantic confidence
    /// model's default weights (`flexcord-kb fit --stand-in`); never for answering users.
    #[allow(clippy::missing_panics_doc)]
    pub fn stand_in(dims: usize) -> Self {
        Self {
            // a constant that parses: never panics
            endpoint: url::Url::parse("http://stand-in.invalid/v1/embeddings")
                .expect("a valid constant URL"),
            model: format!("stand-in-hashed-{dims}"),
            api_key: None,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            batch_timeout: DEFAULT_BATCH_TIMEOUT,
            batch_size: DEFAULT_BATCH_SIZE,
            cache_dir: None,
            stand_in: Some(dims.max(1)),
        }
    }

    /// Returns this configuration with an API key (sent as a bearer token).
    #[must_use]
    pub fn with_api_key(mut self, key: Option<String>) -> Self {
        self.api_key = key.filter(|k| !k.trim().is_empty());
        self
    }

    /// Returns this configuration with another time allowed for a message's vector.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when it is zero or longer than [`MAX_QUERY_TIMEOUT`].
    pub fn with_query_timeout(mut self, timeout: Duration) -> Result<Self, Error> {
        if timeout.is_zero() || timeout > MAX_QUERY_TIMEOUT {
            return Err(Error::new(ErrorKind::Config(format!(
                "kb.embeddings_timeout must be longer than zero and at most {} s (the bot's \
                 time for a reply), found {timeout:?}",
                MAX_QUERY_TIMEOUT.as_secs()
            ))));
        }
        self.query_timeout = timeout;
        Ok(self)
    }

    /// Returns this configuration with another time allowed for one batch of article vectors.
    #[must_use]
    pub fn with_batch_timeout(mut self, timeout: Duration) -> Self {
        self.batch_timeout = timeout;
        self
    }

    /// Returns this configuration with another number of texts per request (at least one).
    #[must_use]
    pub fn with_batch_size(mut self, size: usize) -> Self {
        self.batch_size = size.max(1);
        self
    }

    /// Returns this configuration with a folder for the vector cache.
    #[must_use]
    pub fn with_cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }
}

fn endpoint(url: &str) -> Result<url::Url, Error> {
    let mut parsed = url::Url::parse(url).map_err(|e| {
        Error::with_source(
            ErrorKind::Config(format!("kb.embeddings_url `{url}` is not a URL")),
            e,
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.cannot_be_a_base() {
        return Err(Error::new(ErrorKind::Config(format!(
            "kb.embeddings_url `{url}` must be an http(s) URL"
        ))));
    }
    let path = parsed.path().trim_end_matches('/').to_owned();
    let path = if path.ends_with("/embeddings") {
        path
    } else if path.ends_with("/v1") {
        format!("{path}/embeddings")
    } else {
        format!("{path}/v1/embeddings")
    };
    parsed.set_path(&path);
    Ok(parsed)
}

/// Why a message was answered by the lexical ranking alone although embeddings are configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FallbackReason {
    /// The endpoint did not answer within the query timeout.
    Timeout,
    /// The endpoint failed (connection, HTTP status, an answer that is no embeddings list, a
    /// vector of another size than the articles').
    Error,
    /// No article has a vector yet (the endpoint was down when they were to be embedded).
    NoVectors,
}

impl FallbackReason {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Error => "error",
            Self::NoVectors => "no_vectors",
        }
    }
}

/// A message's vector, or why there is none: what
/// [`KnowledgeBase::answer_with`](crate::KnowledgeBase::answer_with) ranks with.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryEmbedding {
    /// No embeddings backend, or no article has a vector yet: the lexical ranking alone.
    Off,
    /// The backend was slow or failed: the lexical ranking alone (a counted fallback).
    Fallback(FallbackReason),
    /// The message's vector (unit length).
    Vector(Arc<[f32]>),
}

impl QueryEmbedding {
    /// The vector, if any.
    pub fn vector(&self) -> Option<&[f32]> {
        match self {
            Self::Vector(v) => Some(v),
            _ => None,
        }
    }
}

/// What an embedding round of the articles did (see
/// [`KnowledgeBase::embed_articles`](crate::KnowledgeBase::embed_articles)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EmbedReport {
    /// Articles whose vector came from the cache (memory or disk).
    pub cached: usize,
    /// Articles embedded by the endpoint in this round.
    pub embedded: usize,
    /// Articles left without a vector (the endpoint failed; retried at the next round).
    pub missing: usize,
    /// Requests sent to the endpoint.
    pub requests: usize,
}

impl std::fmt::Display for EmbedReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} from the cache, {} embedded in {} request(s), {} without a vector",
            self.cached, self.embedded, self.requests, self.missing
        )
    }
}

/// The vectors of a snapshot's articles, by article position.
#[derive(Debug, Clone, Default)]
pub(crate) struct ArticleVectors {
    pub(crate) vectors: Vec<Option<Arc<[f32]>>>,
    pub(crate) dims: usize,
}

impl ArticleVectors {
    pub(crate) fn count(&self) -> usize {
        self.vectors.iter().filter(|v| v.is_some()).count()
    }
}

/// The text of an article that is embedded: title, tags and the start of the body.
pub(crate) fn article_text(article: &Article) -> String {
    let body = text::plain_text(&text::clean(&article.body));
    let mut out = article.title.trim().to_owned();
    if !article.tags.is_empty() {
        out.push('\n');
        out.push_str(&article.tags.join(", "));
    }
    out.push_str("\n\n");
    out.push_str(body.trim());
    cut(&out, ARTICLE_CHARS)
}

pub(crate) fn cut(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let head: String = text.chars().take(max_chars).collect();
    match head.rfind(char::is_whitespace) {
        Some(i) if i > 0 => head[..i].to_owned(),
        _ => head,
    }
}

/// The cache key of a text: the hex SHA-256 of the text.
pub(crate) fn content_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Scales a vector to unit length; `None` for an empty, zero or non-finite one.
pub(crate) fn normalise(mut v: Vec<f32>) -> Option<Vec<f32>> {
    if v.is_empty() || v.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm <= f32::EPSILON {
        return None;
    }
    for x in &mut v {
        *x /= norm;
    }
    Some(v)
}

/// The dot product, summed in eight lanes (which the compiler turns into vector instructions;
/// a single running sum cannot be reordered, so it would not be).
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut lanes = [0.0_f32; 8];
    let mut chunks_a = a.chunks_exact(8);
    let mut chunks_b = b.chunks_exact(8);
    for (x, y) in chunks_a.by_ref().zip(chunks_b.by_ref()) {
        for ((lane, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *lane += x * y;
        }
    }
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    lanes.iter().sum::<f32>() + tail
}

/// A deterministic stand-in embedding with no notion of meaning: a hashed bag of the text's
/// folded stems and their character trigrams, `dims` wide, unit length. Texts that share
/// words (or parts of words) get close vectors. It serves tests (a fake endpoint) and
/// `flexcord-kb fit --stand-in`; a real deployment uses a real model.
pub fn hashed_embedding(text: &str, dims: usize) -> Vec<f32> {
    let dims = dims.max(1);
    let mut v = vec![0.0_f32; dims];
    let mut add = |token: &str, weight: f32| {
        let h = Sha256::digest(token.as_bytes());
        let n = u64::from_le_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]);
        let sign = if h[8] & 1 == 0 { 1.0 } else { -1.0 };
        #[allow(clippy::cast_possible_truncation)]
        let i = (n % dims as u64) as usize;
        v[i] += sign * weight;
    };
    for w in text::words(text) {
        if text::is_stop(&w.folded) {
            continue;
        }
        add(&format!("w:{}", w.stem), 1.0);
        let chars: Vec<char> = format!("^{}$", w.folded).chars().collect();
        for tri in chars.windows(3) {
            add(&format!("t:{}", tri.iter().collect::<String>()), 0.3);
        }
    }
    normalise(v.clone()).unwrap_or(v)
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    input: &'a [String],
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Datum>,
}

#[derive(Deserialize)]
struct Datum {
    embedding: Vec<f32>,
    #[serde(default)]
    index: Option<usize>,
}

/// The client of one embeddings endpoint, with its vector cache.
pub(crate) struct Embedder {
    http: reqwest::Client,
    config: EmbeddingsConfig,
    /// Vectors by content hash (loaded from the cache file at first use).
    memory: Mutex<Option<HashMap<String, Arc<[f32]>>>>,
    /// Serialises rounds of article embedding (a reload and a retry never overlap).
    round: tokio::sync::Mutex<()>,
    /// Messages answered by the lexical ranking alone (see [`FALLBACKS_METRIC`]).
    fallbacks: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    model: String,
    dims: usize,
    /// Content hash to the vector's little-endian `f32`s in base64.
    vectors: std::collections::BTreeMap<String, String>,
}

impl Embedder {
    pub(crate) fn new(config: EmbeddingsConfig) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.batch_timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("flexcord-kb/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::with_source(ErrorKind::Config("HTTP client".into()), e))?;
        Ok(Self {
            http,
            config,
            memory: Mutex::new(None),
            round: tokio::sync::Mutex::new(()),
            fallbacks: std::sync::atomic::AtomicU64::new(0),
        })
    }

    pub(crate) fn config(&self) -> &EmbeddingsConfig {
        &self.config
    }

    /// Counts a message answered by the lexical ranking alone.
    pub(crate) fn count_fallback(&self, reason: FallbackReason) {
        self.fallbacks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        metrics::counter!(FALLBACKS_METRIC, "reason" => reason.label()).increment(1);
    }

    pub(crate) fn fallbacks(&self) -> u64 {
        self.fallbacks.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// One request: the vectors of `inputs`, in order, unit length.
    pub(crate) async fn embed(
        &self,
        inputs: &[String],
        timeout: Duration,
    ) -> Result<Vec<Vec<f32>>, Error> {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(dims) = self.config.stand_in {
            return Ok(inputs.iter().map(|t| hashed_embedding(t, dims)).collect());
        }
        let mut request = self
            .http
            .post(self.config.endpoint.clone())
            .timeout(timeout)
            .json(&Request {
                model: &self.config.model,
                input: inputs,
            });
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let sent = tokio::time::timeout(timeout, async {
            let response = request.send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        })
        .await;
        let (status, body) = match sent {
            Err(_) => return Err(Error::new(ErrorKind::EmbeddingsTimeout)),
            Ok(Err(e)) if e.is_timeout() => {
                return Err(Error::with_source(ErrorKind::EmbeddingsTimeout, e));
            }
            Ok(Err(e)) => return Err(Error::with_source(ErrorKind::EmbeddingsTransport, e)),
            Ok(Ok(answer)) => answer,
        };
        let snippet = || cut(&String::from_utf8_lossy(&body), 200);
        if !status.is_success() {
            return Err(Error::new(ErrorKind::EmbeddingsStatus {
                status: status.as_u16(),
                body: snippet(),
            }));
        }
        let decode = |why: String| {
            Error::new(ErrorKind::EmbeddingsDecode {
                snippet: format!("{why}: {}", snippet()),
            })
        };
        let mut response: Response =
            serde_json::from_slice(&body).map_err(|e| decode(e.to_string()))?;
        if response.data.len() != inputs.len() {
            return Err(decode(format!(
                "{} vectors for {} inputs",
                response.data.len(),
                inputs.len()
            )));
        }
        if response.data.iter().all(|d| d.index.is_some()) {
            response.data.sort_by_key(|d| d.index);
            if response
                .data
                .iter()
                .enumerate()
                .any(|(i, d)| d.index != Some(i))
            {
                return Err(decode("indexes are not 0..n".into()));
            }
        }
        let dims = response.data[0].embedding.len();
        response
            .data
            .into_iter()
            .map(|d| {
                if d.embedding.len() == dims {
                    normalise(d.embedding)
                } else {
                    None
                }
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| decode("an empty, zero or unequal vector".into()))
    }

    /// A message's vector within the query timeout; a failure is logged and counted.
    pub(crate) async fn embed_query(&self, message: &str, dims: usize) -> QueryEmbedding {
        let input = [cut(message, ARTICLE_CHARS)];
        let outcome = match self.embed(&input, self.config.query_timeout).await {
            Ok(mut v) => match v.pop() {
                Some(v) if v.len() == dims => Ok(v),
                Some(v) => Err((
                    FallbackReason::Error,
                    format!(
                        "the message's vector has {} dimensions, the articles' {dims}",
                        v.len()
                    ),
                )),
                None => Err((FallbackReason::Error, "no vector".to_owned())),
            },
            Err(e) => {
                let reason = if matches!(e.kind(), ErrorKind::EmbeddingsTimeout) {
                    FallbackReason::Timeout
                } else {
                    FallbackReason::Error
                };
                Err((reason, e.to_string()))
            }
        };
        match outcome {
            Ok(v) => QueryEmbedding::Vector(v.into()),
            Err((reason, error)) => {
                tracing::warn!(
                    endpoint = self.config.endpoint.as_str(),
                    reason = reason.label(),
                    %error,
                    "no vector for the message; the lexical ranking answers alone"
                );
                self.count_fallback(reason);
                QueryEmbedding::Fallback(reason)
            }
        }
    }

    /// The vectors of `texts` (by position): from the cache when there, else from the
    /// endpoint in batches. A failing batch stops the round (the endpoint is down or too
    /// slow); its texts and the remaining ones get no vector. The cache file is rewritten with
    /// the vectors of `texts` only.
    pub(crate) async fn embed_texts(
        &self,
        texts: &[String],
    ) -> (Vec<Option<Arc<[f32]>>>, EmbedReport) {
        let _round = self.round.lock().await;
        let hashes: Vec<String> = texts.iter().map(|t| content_hash(t)).collect();
        let known = self.known();
        let mut out: Vec<Option<Arc<[f32]>>> =
            hashes.iter().map(|h| known.get(h).cloned()).collect();
        let mut report = EmbedReport {
            cached: out.iter().filter(|v| v.is_some()).count(),
            ..EmbedReport::default()
        };
        let missing: Vec<usize> = (0..texts.len()).filter(|&i| out[i].is_none()).collect();
        let dims = out.iter().flatten().map(|v| v.len()).next();
        let mut dims = dims;
        let mut fresh: HashMap<String, Arc<[f32]>> = HashMap::new();
        for batch in missing.chunks(self.config.batch_size) {
            let inputs: Vec<String> = batch.iter().map(|&i| texts[i].clone()).collect();
            report.requests += 1;
            match self.embed(&inputs, self.config.batch_timeout).await {
                Ok(vectors) if dims.is_none_or(|d| vectors[0].len() == d) => {
                    dims = Some(vectors[0].len());
                    for (&i, v) in batch.iter().zip(vectors) {
                        let v: Arc<[f32]> = v.into();
                        fresh.insert(hashes[i].clone(), v.clone());
                        out[i] = Some(v);
                        report.embedded += 1;
                    }
                }
                Ok(vectors) => {
                    tracing::warn!(
                        endpoint = self.config.endpoint.as_str(),
                        "the endpoint's vectors have {} dimensions, the cached ones {}; clear the \
                         cache folder after changing the model behind kb.embeddings_model",
                        vectors[0].len(),
                        dims.unwrap_or_default()
                    );
                    break;
                }
                Err(error) => {
                    tracing::warn!(
                        endpoint = self.config.endpoint.as_str(),
                        %error,
                        "cannot embed the articles; those without a vector rank lexically until \
                         the next try"
                    );
                    break;
                }
            }
        }
        report.missing = out.iter().filter(|v| v.is_none()).count();
        let current: HashMap<String, Arc<[f32]>> = hashes
            .iter()
            .zip(&out)
            .filter_map(|(h, v)| v.clone().map(|v| (h.clone(), v)))
            .collect();
        let changed = !fresh.is_empty() || current.len() != known.len();
        if let Ok(mut memory) = self.memory.lock() {
            *memory = Some(current.clone());
        }
        if changed {
            self.write_cache(&current);
        }
        (out, report)
    }

    /// The vectors of `texts` that are known (memory or cache file), without a request.
    pub(crate) fn cached(&self, texts: &[String]) -> Vec<Option<Arc<[f32]>>> {
        let known = self.known();
        texts
            .iter()
            .map(|t| known.get(&content_hash(t)).cloned())
            .collect()
    }

    /// The vectors known so far (the cache file is read at first use).
    fn known(&self) -> HashMap<String, Arc<[f32]>> {
        let Ok(mut memory) = self.memory.lock() else {
            return HashMap::new();
        };
        memory.get_or_insert_with(|| self.read_cache()).clone()
    }

    fn cache_path(&self) -> Option<PathBuf> {
        let dir = self.config.cache_dir.as_ref()?;
        let model = content_hash(&self.config.model);
        Some(dir.join(format!("vectors-{}.json", &model[..16])))
    }

    fn read_cache(&self) -> HashMap<String, Arc<[f32]>> {
        let Some(path) = self.cache_path() else {
            return HashMap::new();
        };
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return HashMap::new(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the vector cache");
                return HashMap::new();
            }
        };
        match decode_cache(&text, &self.config.model) {
            Ok(vectors) => vectors,
            Err(why) => {
                tracing::warn!(path = %path.display(), "vector cache ignored: {why}");
                HashMap::new()
            }
        }
    }

    fn write_cache(&self, vectors: &HashMap<String, Arc<[f32]>>) {
        let Some(path) = self.cache_path() else {
            return;
        };
        if let Err(e) = write_cache_file(&path, &self.config.model, vectors) {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the vector cache");
        }
    }
}

fn decode_cache(bytes: &[u8], model: &str) -> Result<HashMap<String, Arc<[f32]>>, String> {
    let file: CacheFile = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if file.version != CACHE_VERSION {
        return Err(format!(
            "format version {} is not {CACHE_VERSION}",
            file.version
        ));
    }
    if file.model != model {
        return Err(format!("it holds vectors of `{}`", file.model));
    }
    let mut out = HashMap::with_capacity(file.vectors.len());
    for (hash, encoded) in file.vectors {
        let bytes = BASE64.decode(encoded).map_err(|e| e.to_string())?;
        if bytes.len() != file.dims * 4 {
            return Err(format!("a vector is not {} wide", file.dims));
        }
        let v: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        out.insert(hash, v.into());
    }
    Ok(out)
}

fn write_cache_file(
    path: &Path,
    model: &str,
    vectors: &HashMap<String, Arc<[f32]>>,
) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = CacheFile {
        version: CACHE_VERSION,
        model: model.to_owned(),
        dims: vectors.values().next().map_or(0, |v| v.len()),
        vectors: vectors
            .iter()
            .map(|(h, v)| {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                (h.clone(), BASE64.encode(bytes))
            })
            .collect(),
    };
    let text = serde_json::to_vec(&file).map_err(std::io::Error::other)?;
    // written beside it, then renamed: a reader sees the old or the new file, never half
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_from_a_base_or_the_full_address() {
        for (given, wanted) in [
            (
                "http://localhost:11434",
                "http://localhost:11434/v1/embeddings",
            ),
            (
                "https://api.example/v1",
                "https://api.example/v1/embeddings",
            ),
            (
                "https://api.example/v1/",
                "https://api.example/v1/embeddings",
            ),
            (
                "http://tei:8080/v1/embeddings",
                "http://tei:8080/v1/embeddings",
            ),
            ("http://gw/openai", "http://gw/openai/v1/embeddings"),
        ] {
            assert_eq!(endpoint(given).expect(given).as_str(), wanted);
        }
        assert!(endpoint("ftp://x").is_err());
        assert!(endpoint("not a url").is_err());
    }

    #[test]
    fn url_and_model_go_together() {
        assert!(matches!(
            EmbeddingsConfig::from_settings(None, None),
            Ok(None)
        ));
        assert!(matches!(
            EmbeddingsConfig::from_settings(Some(" "), Some("")),
            Ok(None)
        ));
        let e = EmbeddingsConfig::from_settings(Some("http://e"), None).expect_err("no model");
        assert!(e.to_string().contains("kb.embeddings_model"), "{e}");
        let e = EmbeddingsConfig::from_settings(None, Some("m")).expect_err("no url");
        assert!(e.to_string().contains("kb.embeddings_url"), "{e}");
        let c = EmbeddingsConfig::from_settings(Some("http://e"), Some("m"))
            .expect("ok")
            .expect("some");
        assert!(c.clone().with_query_timeout(Duration::ZERO).is_err());
        assert!(
            c.clone()
                .with_query_timeout(Duration::from_secs(6))
                .is_err()
        );
        let c = c
            .with_query_timeout(Duration::from_millis(300))
            .expect("300ms")
            .with_api_key(Some("sk-secret".into()));
        assert!(!format!("{c:?}").contains("sk-secret"));
    }

    #[test]
    fn the_cache_file_round_trips_and_names_its_model() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("v.json");
        let mut vectors = HashMap::new();
        vectors.insert(content_hash("a"), Arc::<[f32]>::from(vec![0.6, -0.8, 0.0]));
        vectors.insert(content_hash("b"), Arc::<[f32]>::from(vec![1.0, 0.0, 1e-7]));
        write_cache_file(&path, "m1", &vectors).expect("write");
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(decode_cache(&bytes, "m1").expect("decode"), vectors);
        assert!(decode_cache(&bytes, "m2").is_err());
        assert!(decode_cache(b"{", "m1").is_err());
    }

    #[test]
    fn the_stand_in_embedding_is_deterministic_and_closer_for_shared_words() {
        let a = hashed_embedding("reset my password", 128);
        let b = hashed_embedding("I forgot the password", 128);
        let c = hashed_embedding("weather tomorrow in the mountains", 128);
        assert_eq!(a, hashed_embedding("reset my password", 128));
        assert!(
            dot(&a, &b) > dot(&a, &c) + 0.2,
            "{} {}",
            dot(&a, &b),
            dot(&a, &c)
        );
        assert!((dot(&a, &a) - 1.0).abs() < 1e-5);
        assert_eq!(normalise(vec![0.0, 0.0]), None);
        assert_eq!(normalise(vec![f32::NAN]), None);
        assert_eq!(content_hash("").len(), 64);
        // the lanes and the tail add up to the plain sum
        let x: Vec<f32> = (0..19)
            .map(|i| f32::from(u8::try_from(i).unwrap_or(0)))
            .collect();
        let plain: f32 = x.iter().map(|v| v * v).sum();
        assert!(
            (dot(&x, &x) - plain).abs() < 1e-3,
            "{} {plain}",
            dot(&x, &x)
        );
    }
}
