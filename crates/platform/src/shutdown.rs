//! The process-level shutdown signal.

/// Completes on SIGINT (Ctrl-C) or SIGTERM (docker stop, Kubernetes), logging
/// which one arrived.
///
/// If a handler cannot be installed (which only happens when the process is
/// out of resources) the error is logged and the other signal still works.
#[cfg(unix)]
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};

    let listen = |kind: SignalKind, name: &'static str| match signal(kind) {
        Ok(stream) => Some(stream),
        Err(error) => {
            tracing::error!(signal = name, %error, "could not listen for the signal");
            None
        }
    };
    let mut interrupt = listen(SignalKind::interrupt(), "SIGINT");
    let mut terminate = listen(SignalKind::terminate(), "SIGTERM");
    let received = tokio::select! {
        () = recv(interrupt.as_mut()) => "SIGINT",
        () = recv(terminate.as_mut()) => "SIGTERM",
    };
    tracing::info!(signal = received, "shutdown signal received");
}

/// Completes when `stream` delivers a signal; a signal we could not listen
/// for (or whose stream closed) never arrives.
#[cfg(unix)]
async fn recv(stream: Option<&mut tokio::signal::unix::Signal>) {
    if let Some(stream) = stream {
        if stream.recv().await.is_some() {
            return;
        }
    }
    std::future::pending().await
}

/// Completes on Ctrl-C (the only portable signal).
#[cfg(not(unix))]
pub async fn shutdown_signal() {
    if let Err(error) = tokio::signal::ctrl_c().await {
        tracing::error!(%error, "could not listen for ctrl-c");
        std::future::pending::<()>().await;
    }
    tracing::info!(signal = "ctrl-c", "shutdown signal received");
}
