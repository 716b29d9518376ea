//! The supervised connection: one lapin connection per [`Broker`], replaced
//! after any loss, with the topology redeclared before anyone may use it.
//!
//! lapin does not reconnect by default (and its opt-in recovery replays only
//! what was declared on the lost connection), so a supervisor task owns the
//! connection: connect, declare the whole [`Topology`], publish the new
//! session, watch for its loss, back off (capped exponential, full jitter),
//! repeat. Publishers and consumers never hold a connection themselves: they
//! ask for the current session and open their channels on it, so they follow
//! the supervisor onto each new connection.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt as _};
use lapin::uri::AMQPUri;
use lapin::{Channel, Connection, ConnectionProperties, Event};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{Instrument as _, debug, info, info_span, instrument, warn};

use ecommerce_platform::settings::SettingsError;

use crate::consumer::Consumer;
use crate::publisher::Publisher;
use crate::settings::BrokerSettings;
use crate::topology::{self, Topology, TopologyError};

/// What the broker connection is doing; services map it to gRPC health
/// (`Connected` = SERVING).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokerState {
    /// Connecting and declaring the topology (the first attempt, or again after a loss).
    Connecting,
    /// Connected with the topology declared: publishing and consuming work.
    Connected,
    /// Not connected: waiting to retry, or closed.
    Disconnected,
}

/// Failures of the broker handle itself (publishing and consuming have their own errors).
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("could not connect to the broker: {0}")]
    Connect(#[source] lapin::Error),
    #[error("connecting to the broker took longer than {0:?}")]
    ConnectTimeout(Duration),
    #[error(transparent)]
    Topology(#[from] TopologyError),
    #[error("could not open a channel: {0}")]
    Channel(#[source] lapin::Error),
    #[error(
        "the broker was not connected within {waited:?} (last error: {})",
        last_error.as_deref().unwrap_or("none")
    )]
    NotConnected {
        waited: Duration,
        last_error: Option<String>,
    },
    #[error("the broker handle was closed")]
    Closed,
}

/// One live connection, with the topology declared on it. `generation`
/// grows with every reconnect so holders of a channel can tell theirs is stale.
#[derive(Clone)]
pub(crate) struct Session {
    pub(crate) generation: u64,
    pub(crate) connection: Arc<Connection>,
}

/// A cheaply cloneable handle to the supervised connection. The connection
/// lives while any handle (or a [`Publisher`] or [`Consumer`] made from one)
/// does, or until [`Broker::close`].
#[derive(Clone)]
pub struct Broker {
    inner: Arc<BrokerInner>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Broker")
            .field("connection_name", &self.inner.settings.connection_name)
            .field("state", &*self.inner.state.borrow())
            .finish_non_exhaustive()
    }
}

struct BrokerInner {
    settings: BrokerSettings,
    topology: Arc<Topology>,
    state: watch::Receiver<BrokerState>,
    session: watch::Receiver<Option<Session>>,
    stop: watch::Sender<bool>,
    last_error: Arc<Mutex<Option<String>>>,
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for BrokerInner {
    fn drop(&mut self) {
        // The last handle is gone: let the supervisor close the connection.
        self.stop.send_replace(true);
    }
}

impl Broker {
    /// Starts supervising a connection in the background and returns at once,
    /// in state [`BrokerState::Connecting`]. `topology` is declared on every
    /// (re)connect before the connection is handed to anyone.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (the supervisor is a tokio task).
    pub fn start(settings: BrokerSettings, topology: Topology) -> Result<Self, BrokerError> {
        let uri = settings.amqp_uri()?;
        let topology = Arc::new(topology);
        let (state_sender, state) = watch::channel(BrokerState::Connecting);
        let (session_sender, session) = watch::channel(None);
        let (stop, stop_receiver) = watch::channel(false);
        let last_error = Arc::new(Mutex::new(None));
        let supervisor = Supervisor {
            uri,
            connection_name: settings.connection_name.clone(),
            backoff: settings.reconnect_backoff,
            connect_timeout: settings.connect_timeout,
            topology: Arc::clone(&topology),
            state: state_sender,
            session: session_sender,
            stop: stop_receiver,
            last_error: Arc::clone(&last_error),
        };
        let span = info_span!("broker_supervisor", connection_name = %settings.connection_name);
        let handle = tokio::spawn(supervisor.run().instrument(span));
        Ok(Self {
            inner: Arc::new(BrokerInner {
                settings,
                topology,
                state,
                session,
                stop,
                last_error,
                supervisor: Mutex::new(Some(handle)),
            }),
        })
    }

    /// [`Broker::start`], then waits up to the connect timeout for the first
    /// connection (topology declared). Services that should start while the
    /// broker is down use `start` and report [`Broker::state`] as health instead.
    #[instrument(skip_all, fields(connection_name = %settings.connection_name), err)]
    pub async fn connect(
        settings: BrokerSettings,
        topology: Topology,
    ) -> Result<Self, BrokerError> {
        let wait = settings.connect_timeout;
        let broker = Self::start(settings, topology)?;
        broker.wait_until_connected(wait).await?;
        Ok(broker)
    }

    /// Every state change, starting with the current state.
    pub fn state(&self) -> watch::Receiver<BrokerState> {
        self.inner.state.clone()
    }

    pub fn current_state(&self) -> BrokerState {
        *self.inner.state.borrow()
    }

    /// Waits until the broker is connected with the topology declared.
    pub async fn wait_until_connected(&self, timeout: Duration) -> Result<(), BrokerError> {
        self.session_within(timeout).await.map(|_| ())
    }

    pub fn settings(&self) -> &BrokerSettings {
        &self.inner.settings
    }

    pub fn topology(&self) -> &Topology {
        &self.inner.topology
    }

    /// A publisher with its own confirm-mode channel (opened on first use).
    pub fn publisher(&self) -> Publisher {
        Publisher::new(self.clone())
    }

    /// A consumer runtime with the consumer settings of [`Broker::settings`].
    pub fn consumer(&self) -> Consumer {
        Consumer::new(self.clone(), self.inner.settings.consumer)
    }

    /// A plain channel on the current connection, for administrative work
    /// (tests, tools). It does not follow reconnects.
    pub async fn open_channel(&self) -> Result<Channel, BrokerError> {
        let session = self
            .session_within(self.inner.settings.confirm_timeout)
            .await?;
        session
            .connection
            .create_channel()
            .await
            .map_err(BrokerError::Channel)
    }

    /// Stops reconnecting and closes the connection. Channels opened from it
    /// fail from then on; other handles see [`BrokerState::Disconnected`].
    #[instrument(skip_all, fields(connection_name = %self.inner.settings.connection_name))]
    pub async fn close(&self) {
        self.inner.stop.send_replace(true);
        let supervisor = lock(&self.inner.supervisor).take();
        let Some(supervisor) = supervisor else {
            return;
        };
        if let Err(error) = supervisor.await {
            warn!(%error, "broker supervisor task failed");
        }
    }

    /// The current session, waiting up to `timeout` for one.
    pub(crate) async fn session_within(&self, timeout: Duration) -> Result<Session, BrokerError> {
        match tokio::time::timeout(timeout, self.session()).await {
            Ok(session) => session,
            Err(_) => Err(BrokerError::NotConnected {
                waited: timeout,
                last_error: lock(&self.inner.last_error).clone(),
            }),
        }
    }

    /// The current session, waiting as long as it takes; `Closed` once the
    /// broker was closed.
    pub(crate) async fn session(&self) -> Result<Session, BrokerError> {
        let mut sessions = self.inner.session.clone();
        let session = sessions
            .wait_for(|session| {
                self.is_closed()
                    || session
                        .as_ref()
                        .is_some_and(|session| session.connection.status().connected())
            })
            .await
            // The supervisor is gone: closed, or every handle dropped.
            .map_err(|_| BrokerError::Closed)?;
        session
            .clone()
            .filter(|_| !self.is_closed())
            .ok_or(BrokerError::Closed)
    }

    /// Which connection this is: 1 for the first, incremented on every
    /// reconnect; `None` while disconnected. A reconnect counter for metrics.
    pub fn connection_generation(&self) -> Option<u64> {
        self.inner
            .session
            .borrow()
            .as_ref()
            .map(|session| session.generation)
    }

    /// Whether [`Broker::close`] was called (or every handle dropped).
    pub(crate) fn is_closed(&self) -> bool {
        *self.inner.stop.borrow()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain data behind; keep going.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How a connection ended.
enum ConnectionEnd {
    /// [`Broker::close`] or the last handle dropped.
    Stopped,
    Lost(String),
}

struct Supervisor {
    uri: AMQPUri,
    connection_name: String,
    backoff: ecommerce_platform::Backoff,
    connect_timeout: Duration,
    topology: Arc<Topology>,
    state: watch::Sender<BrokerState>,
    session: watch::Sender<Option<Session>>,
    stop: watch::Receiver<bool>,
    last_error: Arc<Mutex<Option<String>>>,
}

/// How often the supervisor checks the connection status, in case lapin
/// reports a loss without an event.
const STATUS_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How long a graceful close may take before the connection is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

impl Supervisor {
    async fn run(self) {
        let mut failed_attempts: u32 = 0;
        let mut generation: u64 = 0;
        loop {
            if *self.stop.borrow() {
                break;
            }
            self.set_state(BrokerState::Connecting);
            let mut stop = self.stop.clone();
            let attempt = tokio::select! {
                attempt = self.connect_and_declare() => attempt,
                () = stopped(&mut stop) => break,
            };
            let delay = match attempt {
                Ok((connection, events)) => {
                    generation += 1;
                    *lock(&self.last_error) = None;
                    let connection = Arc::new(connection);
                    let connected_at = Instant::now();
                    info!(generation, "broker connected and topology declared");
                    // State first: whoever got the session can rely on seeing `Connected`.
                    self.set_state(BrokerState::Connected);
                    self.session.send_replace(Some(Session {
                        generation,
                        connection: Arc::clone(&connection),
                    }));
                    let end = self.wait_for_end(&connection, events).await;
                    self.session.send_replace(None);
                    match end {
                        ConnectionEnd::Stopped => {
                            close_connection(&connection, "broker handle closed").await;
                            break;
                        }
                        ConnectionEnd::Lost(reason) => {
                            warn!(generation, %reason, "broker connection lost");
                            *lock(&self.last_error) = Some(reason);
                            self.set_state(BrokerState::Disconnected);
                            // A connection that dies right after opening must not
                            // turn into a reconnect loop without backoff.
                            if connected_at.elapsed() > self.backoff.max {
                                failed_attempts = 0;
                            }
                            let delay = self.backoff.delay(failed_attempts);
                            failed_attempts = failed_attempts.saturating_add(1);
                            delay
                        }
                    }
                }
                Err(error) => {
                    self.set_state(BrokerState::Disconnected);
                    let delay = self.backoff.delay(failed_attempts);
                    failed_attempts = failed_attempts.saturating_add(1);
                    warn!(
                        attempt = failed_attempts,
                        retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        %error,
                        "broker connection attempt failed"
                    );
                    *lock(&self.last_error) = Some(error.to_string());
                    delay
                }
            };
            let mut stop = self.stop.clone();
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = stopped(&mut stop) => break,
            }
        }
        self.session.send_replace(None);
        self.set_state(BrokerState::Disconnected);
        info!("broker supervisor stopped");
    }

    fn set_state(&self, new_state: BrokerState) {
        let mut previous_state = new_state;
        let changed = self.state.send_if_modified(|state| {
            previous_state = *state;
            if *state == new_state {
                return false;
            }
            *state = new_state;
            true
        });
        if changed {
            info!(from = ?previous_state, to = ?new_state, "broker state changed");
        }
    }

    async fn connect_and_declare(
        &self,
    ) -> Result<
        (
            Connection,
            impl Stream<Item = Event> + Send + Unpin + 'static,
        ),
        BrokerError,
    > {
        let properties = ConnectionProperties::default()
            .with_connection_name(self.connection_name.clone().into());
        let connection = tokio::time::timeout(
            self.connect_timeout,
            Connection::connect_uri(self.uri.clone(), properties),
        )
        .await
        .map_err(|_| BrokerError::ConnectTimeout(self.connect_timeout))?
        .map_err(BrokerError::Connect)?;
        // Listen before anything can fail, so no loss goes unseen.
        let events = connection.events_listener().boxed();
        let declared = async {
            let channel = connection
                .create_channel()
                .await
                .map_err(BrokerError::Channel)?;
            let kept = topology::queues_to_keep(&connection, &self.topology).await;
            topology::declare_keeping(&channel, &self.topology, &kept).await?;
            if let Err(error) = channel.close(200, "topology declared".into()).await {
                debug!(%error, "could not close the topology channel");
            }
            Ok::<(), BrokerError>(())
        }
        .await;
        if let Err(error) = declared {
            close_connection(&connection, "topology declaration failed").await;
            return Err(error);
        }
        Ok((connection, events))
    }

    async fn wait_for_end(
        &self,
        connection: &Connection,
        mut events: impl Stream<Item = Event> + Unpin,
    ) -> ConnectionEnd {
        let mut stop = self.stop.clone();
        let mut status_poll = tokio::time::interval(STATUS_POLL_INTERVAL);
        loop {
            tokio::select! {
                () = stopped(&mut stop) => return ConnectionEnd::Stopped,
                event = events.next() => match event {
                    // Channel errors arrive here too; only a dead connection ends the session.
                    Some(Event::Error(error)) if !connection.status().connected() => {
                        return ConnectionEnd::Lost(error.to_string());
                    }
                    Some(Event::Error(error)) => debug!(%error, "channel error on a live connection"),
                    Some(Event::ConnectionBlocked(reason)) => {
                        warn!(%reason, "broker blocked the connection (resource alarm)");
                    }
                    Some(Event::ConnectionUnblocked) => info!("broker unblocked the connection"),
                    Some(_) => {}
                    None => return ConnectionEnd::Lost("connection event stream ended".to_owned()),
                },
                _ = status_poll.tick() => {
                    if !connection.status().connected() {
                        return ConnectionEnd::Lost("connection is no longer connected".to_owned());
                    }
                }
            }
        }
    }
}

/// Completes when a stop was requested or every handle is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender (the last handle) was dropped: stop as well.
    let _ = stop.wait_for(|stop_requested| *stop_requested).await;
}

async fn close_connection(connection: &Connection, reason: &str) {
    if !connection.status().connected() {
        return;
    }
    match tokio::time::timeout(CLOSE_TIMEOUT, connection.close(200, reason.into())).await {
        Ok(Ok(())) => debug!(reason, "broker connection closed"),
        Ok(Err(error)) => debug!(reason, %error, "broker connection close failed"),
        Err(_) => debug!(reason, "broker connection close timed out"),
    }
}
