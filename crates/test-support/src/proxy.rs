//! A TCP proxy a test puts between a service and Postgres or RabbitMQ, to
//! cut the service off at the process boundary without stopping the shared
//! server: [`TcpProxy::cut`] closes every connection through it and refuses
//! new ones, [`TcpProxy::restore`] lets them through again.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A proxy on `127.0.0.1:<ephemeral>` to one upstream address.
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    cut: Arc<watch::Sender<bool>>,
    task: JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (cut, _) = watch::channel(false);
        let cut = Arc::new(cut);
        let state = cut.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if *state.borrow() {
                    drop(client);
                    continue;
                }
                let mut cut = state.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let mut client = client;
                    tokio::select! {
                        _ = copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Ok(Self { addr, cut, task })
    }

    /// A proxy in front of the server `url` names (`scheme://[user@]host:port/…`),
    /// and `url` routed through it.
    pub async fn in_front_of(url: &str) -> std::io::Result<(Self, String)> {
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let rest = rest.split_once('@').map_or(rest, |(_, rest)| rest);
        let authority = rest.split(['/', '?']).next().unwrap_or(rest);
        let upstream = tokio::net::lookup_host(authority)
            .await?
            .next()
            .ok_or_else(|| std::io::Error::other(format!("{authority} resolves to nothing")))?;
        let proxy = Self::start(upstream).await?;
        let routed = proxy.route(url);
        Ok((proxy, routed))
    }

    /// Where clients connect instead of the upstream.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `url` with its `host:port` (after the `@`, or after `//`) replaced by
    /// the proxy's address.
    pub fn route(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
        let (credentials, rest) = match rest.split_once('@') {
            Some((credentials, rest)) => (format!("{credentials}@"), rest),
            None => (String::new(), rest),
        };
        let tail = rest
            .find(['/', '?'])
            .map_or("", |position| &rest[position..]);
        format!("{scheme}://{credentials}{}{tail}", self.addr)
    }

    /// Closes every connection through the proxy and refuses new ones.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut.send_replace(true);
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn routes_urls_through_the_proxy() {
        let proxy = TcpProxy::start("127.0.0.1:9".parse().unwrap())
            .await
            .unwrap();
        let addr = proxy.addr();
        assert_eq!(
            proxy.route("postgres://postgres@127.0.0.1:5432/ecommerce?sslmode=disable"),
            format!("postgres://postgres@{addr}/ecommerce?sslmode=disable")
        );
        assert_eq!(
            proxy.route("amqp://guest:guest@127.0.0.1:5672/%2f"),
            format!("amqp://guest:guest@{addr}/%2f")
        );
        assert_eq!(proxy.route("amqp://localhost"), format!("amqp://{addr}"));
    }
}
