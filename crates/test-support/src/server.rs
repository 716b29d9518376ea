//! The real gRPC server of a service, started in-process.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::settings::{GrpcSettings, ServiceInfo};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};

/// How long [`TestServer::shutdown`] waits for in-flight calls to drain.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// A service's real gRPC server running in this process on `127.0.0.1:<ephemeral>`.
///
/// Dropping it begins a graceful shutdown without waiting; call
/// [`TestServer::shutdown`] to wait for the server to stop and see its result.
#[derive(Debug)]
pub struct TestServer {
    /// The bound address.
    pub addr: SocketAddr,
    /// `http://<addr>`, for clients built by hand.
    pub uri: String,
    /// A connected channel; clone it into generated clients.
    pub channel: Channel,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Starts `register`'s services with the default test settings (4 MiB limits).
pub async fn spawn_service(
    info: &ServiceInfo,
    register: impl FnOnce(GrpcServer) -> GrpcServer,
) -> anyhow::Result<TestServer> {
    spawn_service_with_settings(info, GrpcSettings::for_tests(), register).await
}

/// Starts `register`'s services with `settings`; the address is always
/// replaced by `127.0.0.1:0` so parallel tests never collide.
pub async fn spawn_service_with_settings(
    info: &ServiceInfo,
    settings: GrpcSettings,
    register: impl FnOnce(GrpcServer) -> GrpcServer,
) -> anyhow::Result<TestServer> {
    let settings = GrpcSettings {
        addr: GrpcSettings::for_tests().addr,
        ..settings
    };
    let listener = TcpListener::bind(settings.addr)
        .await
        .context("could not bind 127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = register(GrpcServer::new(info, &settings));

    let (shutdown_sender, shutdown_receiver) = oneshot::channel::<()>();
    let service_name = info.name;
    let task = tokio::spawn(async move {
        server
            .serve_with_listener(listener, async {
                // A dropped sender (the TestServer dropped) also means stop.
                let _ = shutdown_receiver.await;
            })
            .await
            .with_context(|| format!("{service_name} stopped with an error"))
    });

    let uri = format!("http://{addr}");
    let channel = Endpoint::from_shared(uri.clone())?
        .connect()
        .await
        .with_context(|| format!("could not connect to {service_name} at {uri}"))?;
    Ok(TestServer {
        addr,
        uri,
        channel,
        shutdown: Some(shutdown_sender),
        task: Some(task),
    })
}

impl TestServer {
    /// Begins a graceful shutdown without waiting for it: health turns
    /// NOT_SERVING, the listener closes and in-flight calls drain.
    pub fn begin_shutdown(&mut self) {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
    }

    /// Shuts the server down and waits until it has stopped, returning its
    /// result. Fails if calls are still open after 10 seconds.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.begin_shutdown();
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        match tokio::time::timeout(SHUTDOWN_TIMEOUT, task).await {
            Ok(joined) => joined.context("the server task panicked")?,
            Err(_) => anyhow::bail!(
                "the server at {} did not stop within {SHUTDOWN_TIMEOUT:?}",
                self.addr
            ),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.begin_shutdown();
    }
}
