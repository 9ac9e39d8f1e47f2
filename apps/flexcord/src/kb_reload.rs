//! Hot reload of the knowledge base: on SIGHUP (what systemd's `ExecReload=kill -HUP $MAINPID`
//! and `docker kill -s HUP` send) and, with `kb.watch_interval`, when its folder changes.
//!
//! Each reload reads the folder again and swaps the new index in atomically
//! ([`flexcord_kb::KnowledgeBase::reload`]): a search sees the old or the new articles, never a
//! mix; a broken article is skipped and logged with its file and reason; a folder that yields no
//! article keeps the old ones serving. The reload logs what changed and counts itself in
//! `flexcord_kb_reloads_total{outcome}`.
//!
//! With semantic retrieval (`kb.embeddings_url`), the articles are embedded here once the app
//! runs (from the vector cache for the unchanged ones), each reload embeds the new and changed
//! articles before it swaps, and articles left without a vector (the endpoint was down) are
//! tried again every [`EMBED_RETRY`].

use std::time::Duration;

use flexcord_kb::KnowledgeBase;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How often articles without a vector are sent to the embeddings endpoint again.
pub const EMBED_RETRY: Duration = Duration::from_secs(60);

/// The knowledge base's embeddings configuration from `kb.embeddings_*`.
///
/// # Errors
/// The knowledge base's configuration error (an address or a timeout it refuses).
pub fn embeddings_config(
    config: &crate::config::KbEmbeddings,
) -> Result<flexcord_kb::EmbeddingsConfig, flexcord_kb::Error> {
    Ok(
        flexcord_kb::EmbeddingsConfig::new(config.url.as_str(), &config.model)?
            .with_api_key(config.key.as_ref().map(|k| k.expose().to_owned()))
            .with_query_timeout(config.timeout)?
            .with_cache_dir(Some(config.cache.clone())),
    )
}

/// Starts [`run`] with `kb.watch_interval` on the runtime.
pub fn spawn(
    kb: KnowledgeBase,
    config: &crate::config::KbConfig,
    shutdown: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(kb, config.watch_interval, shutdown.clone()))
}

/// Reloads `kb` on each SIGHUP and, every `watch` (when set), after its folder changed, until
/// `shutdown`; with embeddings, embeds its articles first and retries those left without a
/// vector. A knowledge base without a folder (the sample built into the binary) has nothing
/// to reload: without embeddings, this returns when `shutdown` is cancelled.
pub async fn run(kb: KnowledgeBase, watch: Option<Duration>, shutdown: CancellationToken) {
    if kb.folder().is_none() {
        let (sender, requests) = mpsc::channel(1);
        drop(sender);
        reload_on(kb, requests, shutdown).await;
        return;
    }
    // kept until shutdown: dropping it stops the watch
    let _watcher = watch.and_then(|interval| match kb.watch(interval) {
        Ok(watcher) => {
            tracing::info!(?interval, "watching the knowledge base folder");
            Some(watcher)
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot watch the knowledge base folder");
            None
        }
    });
    let (sender, requests) = mpsc::channel(1);
    forward_hangups(sender);
    reload_on(kb, requests, shutdown).await;
}

/// Forwards each SIGHUP to `sender` (several arriving during one reload count as one more).
#[cfg(unix)]
fn forward_hangups(sender: mpsc::Sender<()>) {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::hangup()) {
        Ok(mut hangups) => {
            tokio::spawn(async move {
                while hangups.recv().await.is_some() {
                    tracing::info!("SIGHUP received, reloading the knowledge base");
                    if let Err(mpsc::error::TrySendError::Closed(())) = sender.try_send(()) {
                        break;
                    }
                }
            });
        }
        Err(e) => tracing::error!(error = %e, "cannot listen for SIGHUP"),
    }
}

#[cfg(not(unix))]
fn forward_hangups(sender: mpsc::Sender<()>) {
    drop(sender);
}

/// Reloads `kb` once per request received, until `shutdown` is cancelled (requests already
/// received are served first). The reload builds the index on a blocking thread (CPU work)
/// and, with embeddings, embeds the new and changed articles before swapping. With
/// embeddings, the articles without a vector are embedded at once and then every
/// [`EMBED_RETRY`] while some are left.
pub(crate) async fn reload_on(
    kb: KnowledgeBase,
    mut requests: mpsc::Receiver<()>,
    shutdown: CancellationToken,
) {
    let mut retry = tokio::time::interval(EMBED_RETRY);
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closed = false;
    loop {
        let needs_vectors = kb.embeddings().is_some() && kb.embedded_articles() < kb.len();
        if closed && !needs_vectors {
            shutdown.cancelled().await;
            return;
        }
        tokio::select! {
            biased;
            request = requests.recv(), if !closed => {
                if request.is_none() {
                    closed = true;
                    continue;
                }
                // the reload logs what changed, or why the previous articles stay
                let _ = kb.reload_async().await;
            }
            () = shutdown.cancelled() => return,
            _ = retry.tick(), if needs_vectors => {
                tokio::select! {
                    // the round logs what it embedded and what is left
                    _ = kb.embed_articles() => {}
                    () = shutdown.cancelled() => return,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &std::path::Path, id: &str, title: &str) {
        let text = format!(
            "---\nid: {id}\ntitle: {title}\ntags: []\nlang: en\nurl: https://h.example/{id}\n---\n\n{title} in detail.\n"
        );
        std::fs::write(dir.join(format!("{id}.md")), text).expect("write");
    }

    #[tokio::test]
    async fn each_request_reloads_and_an_emptied_folder_keeps_the_articles() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "kites", "Flying kites");
        let (kb, _) = KnowledgeBase::open(dir.path()).expect("open");
        let (sender, requests) = mpsc::channel(4);
        let shutdown = CancellationToken::new();

        write(dir.path(), "boats", "Paper boats");
        sender.send(()).await.expect("send");
        shutdown.cancel();
        // the request received before the shutdown is served
        reload_on(kb.clone(), requests, shutdown).await;
        assert_eq!(kb.ids(), ["boats", "kites"]);

        // an emptied folder: the reload keeps the articles
        std::fs::remove_file(dir.path().join("kites.md")).expect("remove");
        std::fs::remove_file(dir.path().join("boats.md")).expect("remove");
        let (sender, requests) = mpsc::channel(4);
        let shutdown = CancellationToken::new();
        sender.send(()).await.expect("send");
        drop(sender);
        shutdown.cancel();
        reload_on(kb.clone(), requests, shutdown).await;
        assert_eq!(kb.ids(), ["boats", "kites"]);
    }

    /// Waits until `check` holds (at most five seconds).
    async fn eventually(check: impl Fn() -> bool) -> bool {
        for _ in 0..500 {
            if check() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        check()
    }

    #[tokio::test]
    async fn with_embeddings_the_articles_are_embedded_at_start_and_again_on_reload() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = tempfile::tempdir().expect("cache");
        write(dir.path(), "kites", "Flying kites");
        let (kb, _) = KnowledgeBase::open(dir.path()).expect("open");
        let config = flexcord_kb::EmbeddingsConfig::stand_in(64)
            .with_cache_dir(Some(cache.path().to_owned()));
        let kb = kb.with_embeddings(config).expect("embeddings");
        assert_eq!(kb.embedded_articles(), 0);
        let (sender, requests) = mpsc::channel(4);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(reload_on(kb.clone(), requests, shutdown.clone()));
        // embedded at once, without a reload request
        assert!(eventually(|| kb.embedded_articles() == 1).await);
        write(dir.path(), "boats", "Paper boats");
        sender.send(()).await.expect("send");
        // the reload swaps the new article in with its vector
        assert!(eventually(|| kb.len() == 2 && kb.embedded_articles() == 2).await);
        assert_eq!(
            std::fs::read_dir(cache.path())
                .expect("cache written")
                .count(),
            1
        );
        shutdown.cancel();
        task.await.expect("returns on shutdown");
    }

    #[test]
    fn the_apps_embeddings_settings_are_the_knowledge_bases() {
        let config = crate::config::Config::load(
            "[discord]\ntoken = \"t\"\napplication_id = \"100\"\n[twilio]\n\
             account_sid = \"AC0123456789abcdef0123456789abcdef\"\nauth_token = \"a\"\n\
             workspace_sid = \"WS0123456789abcdef0123456789abcdef\"\n\
             workflow_sid = \"WW0123456789abcdef0123456789abcdef\"\n[server]\n\
             public_url = \"https://bridge.example.com\"\n[kb]\n\
             embeddings_url = \"http://127.0.0.1:11434\"\nembeddings_model = \"m\"\n\
             embeddings_timeout = \"400ms\"\n",
            Vec::<(String, String)>::new(),
        )
        .expect("valid");
        let kb = config.kb.embeddings.as_ref().expect("on");
        let settings = embeddings_config(kb).expect("the knowledge base accepts them");
        assert_eq!(
            settings.endpoint.as_str(),
            "http://127.0.0.1:11434/v1/embeddings"
        );
        assert_eq!(settings.model, "m");
        assert_eq!(settings.query_timeout, Duration::from_millis(400));
        assert_eq!(
            settings.cache_dir.as_deref(),
            Some(std::path::Path::new("kb-embeddings"))
        );
        assert_eq!(settings.api_key, None);
    }

    #[tokio::test]
    async fn without_a_folder_nothing_is_watched_and_shutdown_returns() {
        let kb = KnowledgeBase::sample().expect("sample");
        let before = kb.len();
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        run(kb.clone(), Some(Duration::from_millis(10)), shutdown).await;
        assert_eq!(kb.len(), before);
    }
}
