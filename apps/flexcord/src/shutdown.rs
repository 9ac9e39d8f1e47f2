//! Graceful shutdown: one signal future (Ctrl-C and SIGTERM) and a bounded drain.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Resolves on Ctrl-C or, on Unix, SIGTERM (what `docker stop` and Kubernetes send).
pub async fn signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        () = term => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// A token cancelled when [`signal`] fires. Every long-running part (gateway shards, the HTTP
/// server, the outbox worker) watches it and stops taking new work.
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let child = token.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = signal() => child.cancel(),
            () = child.cancelled() => {}
        }
    });
    token
}

/// Waits for `task` to finish at most `grace`; reports whether it finished in time.
pub async fn drain<F: Future>(what: &str, grace: Duration, task: F) -> bool {
    if tokio::time::timeout(grace, task).await.is_ok() {
        tracing::info!(what, "drained");
        true
    } else {
        tracing::warn!(what, ?grace, "did not drain in time; stopping anyway");
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_is_bounded() {
        assert!(drain("quick", Duration::from_secs(5), async {}).await);
        let slow = tokio::time::sleep(Duration::from_secs(3600));
        let started = std::time::Instant::now();
        assert!(!drain("slow", Duration::from_millis(50), slow).await);
        assert!(started.elapsed() < Duration::from_secs(60));
    }

    #[tokio::test]
    async fn on_signal_token_can_be_cancelled_by_hand() {
        let token = on_signal();
        assert!(!token.is_cancelled());
        token.cancel();
        token.cancelled().await;
    }
}
