//! The running parts of a service and the process `main`.

use std::future::Future;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use ecommerce_auth::{AuthLayer, AuthSettings, Revocations};
use ecommerce_broker::{
    Broker, ConsumerQueue, EventOrigin, EventsExchange, StreamItem, TopologyNames,
};
use ecommerce_inbox::{EventHandler, InboxConsumer, InboxTable, StreamInbox};
use ecommerce_outbox::{Outbox, OutboxPublisher, OutboxTable, Relay, RelaySettings, SchemaIds};
use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::run_mode::{DevelopmentDefault, RunMode};
use ecommerce_platform::{ServiceInfo, TelemetrySettings, service, shutdown, telemetry};
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::health::{self, HealthSettings, Watched};
use crate::schemas::{
    EventSchema, REGISTRATION_HEALTH_SERVICE, SchemaRegistration, SchemaRegistrySettings,
};
use crate::settings::RuntimeSettings;
use crate::{Role, Roles};

/// A service's database pool, broker connection and outbox relays.
///
/// Cheap to clone: clones share the same pool, connection and relays, so a
/// service's start-up code can keep one while the process keeps another to
/// [`shutdown`](Self::shutdown) with.
#[derive(Clone)]
pub struct ServiceRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    service: ServiceInfo,
    db: DatabaseConnection,
    /// The relays' own pool (`OUTBOX_RELAY_DB_CONNECTIONS`); the service
    /// pool when this process runs no relay.
    relay_db: DatabaseConnection,
    schema: String,
    broker: Broker,
    relay_settings: RelaySettings,
    roles: Roles,
    registry: SchemaRegistrySettings,
    run_mode: RunMode,
    /// The registry ids every outbox of this process stamps events with.
    schema_ids: SchemaIds,
    stop: watch::Sender<bool>,
    health: HealthSettings,
    /// Every outbox the service made ([`ServiceRuntime::outbox`]): what the
    /// `outbox` health entry watches.
    outboxes: Mutex<Vec<Outbox>>,
    /// Relays and consumers, stopped together by `shutdown`.
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for ServiceRuntime {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ServiceRuntime")
            .field("service", &self.inner.service.name)
            .field("schema", &self.inner.schema)
            .finish_non_exhaustive()
    }
}

impl ServiceRuntime {
    /// Connects to the service's schema (created when missing), runs the
    /// migrator `M` there, and starts the broker connection in the
    /// background: the service starts even while RabbitMQ is down, and its
    /// relays publish once it is back.
    pub async fn start<M: MigratorTrait>(
        service: &ServiceInfo,
        settings: &RuntimeSettings,
    ) -> anyhow::Result<Self> {
        let schema = settings.database.schema.clone();
        let db = ecommerce_db::connect_and_migrate::<M>(&settings.database)
            .await
            .with_context(|| format!("could not connect to and migrate schema {schema}"))?;
        tracing::info!(service = service.name, %schema, "database schema up to date");
        let relay_db = if settings.roles.contains(Role::Relay) {
            ecommerce_db::connect_pool(&settings.database, settings.relay_db_connections)
                .await
                .with_context(|| format!("could not open the relays' pool on schema {schema}"))?
        } else {
            db.clone()
        };
        let broker = Broker::start(settings.broker.clone(), settings.broker.topology())
            .context("invalid broker settings")?;
        let (stop, _) = watch::channel(false);
        Ok(Self {
            inner: Arc::new(Inner {
                service: *service,
                db,
                relay_db,
                schema,
                broker,
                relay_settings: settings.relay.clone(),
                roles: settings.roles,
                registry: settings.registry.clone(),
                run_mode: settings.run_mode,
                schema_ids: SchemaIds::new(),
                stop,
                health: settings.health,
                outboxes: Mutex::new(Vec::new()),
                tasks: Mutex::new(Vec::new()),
            }),
        })
    }

    pub fn service(&self) -> &ServiceInfo {
        &self.inner.service
    }

    /// Checks the service's own development defaults (a checkout key, the
    /// bootstrap admin's password): warnings in development, an error
    /// naming every variable in production (`ECOMMERCE_ENV`). The database
    /// and broker credentials are checked before the runtime connects.
    pub fn refuse_development_defaults(
        &self,
        defaults: &[DevelopmentDefault],
    ) -> anyhow::Result<()> {
        Ok(self
            .inner
            .run_mode
            .refuse_development_defaults(self.inner.service.name, defaults)?)
    }

    /// The pool; its connections use the service's schema as `search_path`.
    pub fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    /// The schema the service owns (`<PREFIX>_DB_SCHEMA`).
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// The parts of the service this process runs.
    pub fn roles(&self) -> Roles {
        self.inner.roles
    }

    /// Whether this process runs `role`; logs the part it skips otherwise.
    fn runs(&self, role: Role, what: &str) -> bool {
        let runs = self.inner.roles.contains(role);
        if !runs {
            tracing::info!(
                service = self.inner.service.name,
                role = role.name(),
                "{what} not started: this process runs roles {}",
                self.inner.roles
            );
        }
        runs
    }

    /// The auth layer of the service's gRPC server: verifies access tokens
    /// against IAM's keys ([`AuthSettings`] from the environment) and refuses
    /// those IAM has revoked since (sign-out, new roles, account lock),
    /// learnt from the revocations stream this process follows until
    /// [`shutdown`](Self::shutdown). In production an `IAM_GRPC_URL` that is
    /// not `https://` stops the start. Returns once the stream's recent past
    /// is replayed (or after [`REVOCATIONS_REPLAY_TIMEOUT`], with a warning),
    /// so a restarted service never serves a token revoked while it was down.
    pub async fn auth_layer(&self) -> anyhow::Result<AuthLayer> {
        let settings = AuthSettings::from_env().context("invalid auth settings")?;
        // The keys that decide who is authenticated: plaintext only in development.
        self.refuse_development_defaults(&settings.development_defaults())?;
        let revocations = Arc::new(Revocations::new(settings.revocation_retention()));
        let layer = settings
            .layer_with_revocations(Arc::clone(&revocations))
            .context("invalid auth settings")?;
        let mut replayed = self.follow_revocations(revocations);
        let wait = replayed.wait_for(|replayed| *replayed);
        if tokio::time::timeout(REVOCATIONS_REPLAY_TIMEOUT, wait)
            .await
            .is_err()
        {
            tracing::warn!(
                waited_secs = REVOCATIONS_REPLAY_TIMEOUT.as_secs(),
                "serving before the revocations stream was replayed: a token revoked \
                 while this process was down is accepted until the replay arrives"
            );
        }
        Ok(layer)
    }

    /// Records every event of the revocations stream in `revocations`,
    /// starting one retention back, until shutdown; the receiver turns true
    /// once that replay has been delivered. Only with the `grpc` role
    /// (otherwise it is true at once and nothing is followed).
    pub fn follow_revocations(&self, revocations: Arc<Revocations>) -> watch::Receiver<bool> {
        if !self.runs(Role::Grpc, "revocation feed") {
            return watch::channel(true).1;
        }
        let (replayed_sender, replayed) = watch::channel(false);
        let broker = self.inner.broker.clone();
        let stream = self.names().revocations_stream().to_owned();
        let stopping = self.stopping();
        let origin = EventOrigin::from_settings(broker.settings());
        let handle = tokio::spawn(async move {
            let replay = revocations.retention();
            let on_item = |item: StreamItem| match item {
                StreamItem::Message(delivery) => {
                    let now = chrono::Utc::now();
                    crate::revocations::record(&revocations, &origin, &delivery, now);
                }
                StreamItem::CaughtUp => {
                    replayed_sender.send_replace(true);
                    tracing::debug!(known = revocations.len(), "revocations replayed");
                }
            };
            broker
                .follow_stream(&stream, replay, on_item, stopping)
                .await;
        });
        self.tasks().push(handle);
        replayed
    }

    pub fn broker(&self) -> &Broker {
        &self.inner.broker
    }

    /// Every exchange and queue name, as configured.
    pub fn names(&self) -> &TopologyNames {
        &self.inner.broker.settings().names
    }

    /// The outbox of `preset` (e.g. [`OutboxTable::CATALOG`]) moved into the
    /// service's schema, publishing to the configured name of `exchange`.
    /// Add routes for other exchanges with [`Outbox::with_route`].
    ///
    /// Its events carry their schema registry ids once
    /// [`register_event_schemas`](Self::register_event_schemas) has them.
    pub fn outbox(&self, preset: &OutboxTable, exchange: EventsExchange) -> anyhow::Result<Outbox> {
        let table = preset
            .in_schema(self.inner.schema.clone())
            .with_context(|| format!("invalid outbox table in schema {}", self.inner.schema))?;
        let outbox = Outbox::new(table, self.names().exchange(exchange))
            .with_schema_ids(self.inner.schema_ids.clone());
        let mut outboxes = self
            .inner
            .outboxes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !outboxes.iter().any(|known| known.table() == outbox.table()) {
            outboxes.push(outbox.clone());
        }
        Ok(outbox)
    }

    /// Keeps `server`'s health entries honest (see [`crate::health`]): its
    /// APIs follow the database, `broker` the broker connection, `outbox`
    /// the oldest pending event of the outboxes made so far; until
    /// `stopping` completes (or the runtime shuts down). Call it once the
    /// service's outboxes exist and its APIs are added.
    pub fn spawn_health_monitor(
        &self,
        server: &GrpcServer,
        stopping: impl Future<Output = ()> + Send + 'static,
    ) {
        let outboxes = self
            .inner
            .outboxes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let watched = Arc::new(Watched {
            db: self.inner.db.clone(),
            relay_db: self
                .inner
                .roles
                .contains(Role::Relay)
                .then(|| self.inner.relay_db.clone()),
            broker: self.inner.broker.clone(),
            outboxes,
            apis: server.service_names().to_vec(),
        });
        let shutdown = self.stopping();
        let monitor = health::monitor(
            watched,
            self.inner.health,
            server.health_reporter(),
            async move {
                tokio::select! {
                    () = stopping => {}
                    () = shutdown => {}
                }
            },
        );
        self.tasks().push(tokio::spawn(monitor));
    }

    /// Registers the schemas of the events this service emits (the event
    /// types named `<domain>.…`, where the service is `<domain>-svc`; none
    /// for a service without events) when a registry is configured. Returns
    /// whether every schema is registered, as a watch that turns true when
    /// a background retry succeeds. [`run`] calls it before the service's
    /// relays, consumers and timers start, so with a reachable registry no
    /// event goes out without its id.
    ///
    /// Fails when the registry refuses a schema (incompatible with the
    /// subject's earlier versions): the service must not start. An
    /// unreachable registry is retried in the background until shutdown.
    pub async fn register_event_schemas(&self) -> anyhow::Result<watch::Receiver<bool>> {
        let Some(url) = self.inner.registry.url.as_deref() else {
            return Ok(watch::channel(true).1);
        };
        let domain = self.inner.service.name.trim_end_matches("-svc");
        let schemas = EventSchema::of_domain(domain)?;
        if schemas.is_empty() {
            return Ok(watch::channel(true).1);
        }
        let registration = SchemaRegistration::new(url, schemas, self.inner.schema_ids.clone())
            .with_context(|| format!("invalid schema registry URL {url}"))?;
        let registered = registration
            .start(self.inner.registry.startup_timeout, self.stopping())
            .await?;
        Ok(registered)
    }

    /// Runs a relay for `outbox` until [`shutdown`](Self::shutdown). It is
    /// woken by commits through this very `outbox` value (or a clone), so
    /// pass the one the handlers write through. Only with the `relay` role.
    pub fn spawn_relay(&self, outbox: &Outbox) {
        if !self.runs(Role::Relay, "outbox relay") {
            return;
        }
        let publisher: Arc<dyn OutboxPublisher> = Arc::new(self.inner.broker.publisher());
        let relay = Relay::new(
            self.inner.relay_db.clone(),
            outbox.clone(),
            publisher,
            self.inner.relay_settings.clone(),
        );
        let mut stop = self.inner.stop.subscribe();
        let handle = tokio::spawn(async move {
            relay
                .run(async move {
                    // A dropped sender means the runtime is gone: stop too.
                    let _ = stop.wait_for(|stopping| *stopping).await;
                })
                .await;
        });
        self.tasks().push(handle);
    }

    /// Consumes `queue` (its configured name) through the inbox in the
    /// service's schema (`processed_messages`, created by the service's
    /// migrator with `InboxMigration`) until [`shutdown`](Self::shutdown).
    /// With `outbox`, the handler's follow-up events go out through it in
    /// the same transaction as its effect, and its commits wake the relay.
    /// Only with the `consumers` role.
    pub fn spawn_consumer(
        &self,
        queue: ConsumerQueue,
        handler: impl EventHandler,
        outbox: Option<&Outbox>,
    ) -> anyhow::Result<()> {
        let queue_name = self.names().queue(queue).to_owned();
        if !self.runs(Role::Consumers, &format!("consumer of {queue_name}")) {
            return Ok(());
        }
        let table = InboxTable::new(self.inner.schema.clone())
            .with_context(|| format!("invalid inbox table in schema {}", self.inner.schema))?;
        let mut inbox =
            InboxConsumer::new(queue_name.clone(), self.inner.db.clone(), table, handler);
        if let Some(outbox) = outbox {
            inbox = inbox.with_outbox(outbox.clone());
        }
        let consumer = self.inner.broker.consumer();
        let mut stop = self.inner.stop.subscribe();
        let handle = tokio::spawn(async move {
            let stopping = async move {
                let _ = stop.wait_for(|stopping| *stopping).await;
            };
            if let Err(error) = inbox.run(&consumer, &queue_name, stopping).await {
                tracing::error!(queue = %queue_name, %error, "consumer stopped with an error");
            }
        });
        self.tasks().push(handle);
        Ok(())
    }

    /// A reader of the stream `stream` (its configured name) through the
    /// inbox in the service's schema, its cursor in
    /// `<schema>.stream_cursors` (see [`StreamInbox`]), accepting each
    /// event only from its producer's exchange (and user, when configured).
    pub fn stream_inbox<H: EventHandler>(
        &self,
        stream: &str,
        handler: H,
    ) -> anyhow::Result<StreamInbox<H>> {
        let table = InboxTable::new(self.inner.schema.clone())
            .with_context(|| format!("invalid inbox table in schema {}", self.inner.schema))?;
        let origin = EventOrigin::from_settings(self.inner.broker.settings());
        Ok(StreamInbox::new(
            stream,
            self.inner.db.clone(),
            table,
            origin,
            handler,
        ))
    }

    /// Reads a stream with `inbox` until [`shutdown`](Self::shutdown).
    /// Only with the `consumers` role.
    pub fn spawn_stream_consumer<H: EventHandler>(&self, inbox: StreamInbox<H>) {
        if !self.runs(Role::Consumers, &format!("reader of {}", inbox.stream())) {
            return;
        }
        let broker = self.inner.broker.clone();
        let stopping = self.stopping();
        let handle = tokio::spawn(async move { inbox.run(&broker, stopping).await });
        self.tasks().push(handle);
    }

    /// A future that completes when [`shutdown`](Self::shutdown) begins, for
    /// the service's own background work (timers such as reservation expiry).
    pub fn stopping(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut stop = self.inner.stop.subscribe();
        async move {
            // A dropped sender means the runtime is gone: stop too.
            let _ = stop.wait_for(|stopping| *stopping).await;
        }
    }

    /// Runs the timer `task` (which should return soon after
    /// [`stopping`](Self::stopping) completes) until the runtime shuts down;
    /// shutdown waits for it. Only with the `timers` role.
    pub fn spawn_timer(&self, name: &str, task: impl Future<Output = ()> + Send + 'static) {
        self.spawn_task(Role::Timers, name, task);
    }

    /// Runs the service's own background `task` (which should return soon
    /// after [`stopping`](Self::stopping) completes) until the runtime
    /// shuts down, only when this process runs `role`; shutdown waits for
    /// it. E.g. notifications' mail sender, the relay of its own outbox of
    /// mails, runs with [`Role::Relay`].
    pub fn spawn_task(
        &self,
        role: Role,
        name: &str,
        task: impl Future<Output = ()> + Send + 'static,
    ) {
        if !self.runs(role, name) {
            return;
        }
        let handle = tokio::spawn(task);
        self.tasks().push(handle);
    }

    /// Stops the relays (each finishes the batch in flight) and consumers
    /// (each finishes the message in flight), then closes the broker
    /// connection and the pool. Call it after the gRPC server has
    /// drained, so events of the last requests still go out.
    pub async fn shutdown(self) {
        self.inner.stop.send_replace(true);
        let tasks = std::mem::take(&mut *self.tasks());
        for task in tasks {
            if let Err(error) = task.await {
                tracing::error!(%error, "a relay or consumer task failed");
            }
        }
        self.inner.broker.close().await;
        if let Err(error) = self.inner.db.clone().close().await {
            tracing::warn!(%error, "closing the database pool failed");
        }
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        // A poisoned lock only means a panic while pushing a handle; the
        // list itself is still usable.
        self.inner
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Longest [`ServiceRuntime::auth_layer`] waits for the revocations replay.
pub const REVOCATIONS_REPLAY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The whole `main` of a service whose schema is migrated by `M`.
///
/// - `<binary>` (or `<binary> serve`): telemetry, settings, the runtime,
///   then `start(runtime)` builds the handlers (and spawns the relays) and
///   the gRPC server runs until SIGINT or SIGTERM; then the relays finish
///   and the connections close.
/// - `<binary> migrate`: brings the schema up to date and exits.
pub async fn run<M, Start, Started, Register>(
    service: &ServiceInfo,
    default_schema: &str,
    start: Start,
) -> anyhow::Result<()>
where
    M: MigratorTrait,
    Start: FnOnce(ServiceRuntime) -> Started,
    Started: Future<Output = anyhow::Result<Register>>,
    Register: FnOnce(GrpcServer) -> GrpcServer,
{
    let command = Command::parse(service, std::env::args().skip(1))?;
    let telemetry_settings = TelemetrySettings::from_env().context("invalid telemetry settings")?;
    let telemetry_guard = telemetry::init(service, &telemetry_settings)
        .with_context(|| format!("could not initialise telemetry for {}", service.name))?;
    let result = match command {
        Command::Migrate => migrate::<M>(service, default_schema).await,
        Command::Serve { roles } => {
            serve::<M, _, _, _>(service, default_schema, roles, start).await
        }
    };
    if let Err(error) = &result {
        tracing::error!(
            service = service.name,
            error = format!("{error:#}"),
            "service failed"
        );
    }
    // Flushes the spans of the shutdown itself before the process exits.
    drop(telemetry_guard);
    result
}

/// The `main` of a one-off command of a service (such as
/// `reporting-svc rebuild`): telemetry, settings and the runtime as for
/// `serve` (the schema migrated, the broker connecting), then `task`, then
/// the shutdown. No gRPC server, and nothing in the background unless
/// `task` spawns it.
pub async fn run_once<M, Task, Done>(
    service: &ServiceInfo,
    default_schema: &str,
    task: Task,
) -> anyhow::Result<()>
where
    M: MigratorTrait,
    Task: FnOnce(ServiceRuntime) -> Done,
    Done: Future<Output = anyhow::Result<()>>,
{
    let telemetry_settings = TelemetrySettings::from_env().context("invalid telemetry settings")?;
    let telemetry_guard = telemetry::init(service, &telemetry_settings)
        .with_context(|| format!("could not initialise telemetry for {}", service.name))?;
    let result = async {
        let settings = RuntimeSettings::from_env(service, default_schema)?;
        settings
            .run_mode
            .refuse_development_defaults(service.name, &settings.development_defaults(service))?;
        let runtime = ServiceRuntime::start::<M>(service, &settings).await?;
        let result = task(runtime.clone()).await;
        runtime.shutdown().await;
        result
    }
    .await;
    if let Err(error) = &result {
        tracing::error!(
            service = service.name,
            error = format!("{error:#}"),
            "command failed"
        );
    }
    drop(telemetry_guard);
    result
}

#[derive(Debug, PartialEq, Eq)]
enum Command {
    /// `roles` from `--roles`, which wins over `<PREFIX>_ROLES`.
    Serve {
        roles: Option<Roles>,
    },
    Migrate,
}

impl Command {
    fn parse(service: &ServiceInfo, args: impl Iterator<Item = String>) -> anyhow::Result<Self> {
        let usage = || {
            format!(
                "usage: {} [serve] [--roles grpc,relay,consumers,timers] | {} migrate",
                service.name, service.name
            )
        };
        let args: Vec<String> = args.collect();
        let mut rest = args.as_slice();
        if let [first, tail @ ..] = rest {
            match first.as_str() {
                "migrate" if tail.is_empty() => return Ok(Self::Migrate),
                "migrate" => anyhow::bail!("unexpected argument {:?}; {}", tail[0], usage()),
                "serve" => rest = tail,
                _ => {}
            }
        }
        let mut roles = None;
        while let [first, tail @ ..] = rest {
            let (list, tail) = match first.strip_prefix("--roles") {
                Some("") => match tail {
                    [list, tail @ ..] => (list.as_str(), tail),
                    [] => anyhow::bail!("--roles needs a list; {}", usage()),
                },
                Some(inline) if inline.starts_with('=') => (&inline[1..], tail),
                _ => anyhow::bail!("unexpected argument {first:?}; {}", usage()),
            };
            let parsed =
                Roles::parse(list).map_err(|reason| anyhow::anyhow!("--roles: {reason}"))?;
            roles = Some(parsed);
            rest = tail;
        }
        Ok(Self::Serve { roles })
    }
}

async fn migrate<M: MigratorTrait>(
    service: &ServiceInfo,
    default_schema: &str,
) -> anyhow::Result<()> {
    let settings = ecommerce_db::DatabaseSettings::from_env(service, default_schema)
        .context("invalid database settings")?;
    let db = ecommerce_db::connect_and_migrate::<M>(&settings)
        .await
        .with_context(|| format!("could not migrate schema {}", settings.schema))?;
    tracing::info!(service = service.name, schema = %settings.schema, "schema up to date");
    db.close()
        .await
        .context("could not close the database pool")?;
    Ok(())
}

async fn serve<M, Start, Started, Register>(
    service: &ServiceInfo,
    default_schema: &str,
    roles: Option<Roles>,
    start: Start,
) -> anyhow::Result<()>
where
    M: MigratorTrait,
    Start: FnOnce(ServiceRuntime) -> Started,
    Started: Future<Output = anyhow::Result<Register>>,
    Register: FnOnce(GrpcServer) -> GrpcServer,
{
    let mut settings = RuntimeSettings::from_env(service, default_schema)?;
    if let Some(roles) = roles {
        settings.roles = roles;
    }
    tracing::info!(service = service.name, roles = %settings.roles, "starting");
    // Before anything connects: in production a development default stops here.
    settings
        .run_mode
        .refuse_development_defaults(service.name, &settings.development_defaults(service))?;
    let runtime = ServiceRuntime::start::<M>(service, &settings).await?;
    // Before `start` spawns the relays, consumers and timers that write events.
    let registered = match runtime.register_event_schemas().await {
        Ok(registered) => registered,
        Err(error) => {
            runtime.shutdown().await;
            return Err(error);
        }
    };
    let register = start(runtime.clone()).await?;
    // Without the API the process still answers health and reflection, so
    // orchestrators can probe a relay- or consumer-only process the same way.
    let serves_api = settings.roles.contains(Role::Grpc);
    // The health monitor stops when the server starts draining (which
    // marks everything NOT_SERVING), not later with the runtime.
    let (draining, mut drain_started) = watch::channel(false);
    let monitored = runtime.clone();
    let register = move |server: GrpcServer| {
        report_registration(&server, registered);
        let server = if serves_api { register(server) } else { server };
        monitored.spawn_health_monitor(&server, async move {
            let _ = drain_started.wait_for(|draining| *draining).await;
        });
        server
    };
    let addr = settings.grpc.addr;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("could not bind the gRPC address {addr}"))?;
    if let Some(metrics_addr) = settings.metrics.addr {
        let metrics = TcpListener::bind(metrics_addr).await.with_context(|| {
            format!(
                "could not bind the metrics address {metrics_addr} ({})",
                service.variable("METRICS_ADDR")
            )
        })?;
        tracing::info!(service = service.name, addr = %metrics_addr, "serving /metrics");
        let mut stopped = draining.subscribe();
        tokio::spawn(ecommerce_platform::metrics::serve(metrics, async move {
            let _ = stopped.wait_for(|draining| *draining).await;
        }));
    }
    let signal = async move {
        shutdown::shutdown_signal().await;
        draining.send_replace(true);
    };
    let served = service::serve_on(service, &settings.grpc, listener, register, signal).await;
    runtime.shutdown().await;
    served
}

/// Mirrors the schema registration into the health entry
/// [`REGISTRATION_HEALTH_SERVICE`]: NOT_SERVING while events go out without
/// registry ids, SERVING once every schema is registered.
fn report_registration(server: &GrpcServer, mut registered: watch::Receiver<bool>) {
    let reporter = server.health_reporter();
    tokio::spawn(async move {
        loop {
            let status = if *registered.borrow_and_update() {
                tonic_health::ServingStatus::Serving
            } else {
                tonic_health::ServingStatus::NotServing
            };
            reporter
                .set_service_status(REGISTRATION_HEALTH_SERVICE, status)
                .await;
            if registered.changed().await.is_err() {
                return;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const SERVICE: ServiceInfo = ServiceInfo {
        name: "catalog-svc",
        env_prefix: "CATALOG",
        default_port: 50051,
    };

    fn parse(args: &[&str]) -> anyhow::Result<Command> {
        Command::parse(&SERVICE, args.iter().map(|arg| (*arg).to_owned()))
    }

    #[test]
    fn no_argument_or_serve_serves_and_migrate_migrates() {
        assert_eq!(parse(&[]).unwrap(), Command::Serve { roles: None });
        assert_eq!(parse(&["serve"]).unwrap(), Command::Serve { roles: None });
        assert_eq!(parse(&["migrate"]).unwrap(), Command::Migrate);
    }

    #[test]
    fn roles_select_the_parts_to_run() {
        let relay_only = Some(Roles::parse("relay").unwrap());
        assert_eq!(
            parse(&["--roles", "relay"]).unwrap(),
            Command::Serve { roles: relay_only }
        );
        assert_eq!(
            parse(&["serve", "--roles=relay"]).unwrap(),
            Command::Serve { roles: relay_only }
        );
        let error = parse(&["--roles", "relay,cron"]).unwrap_err().to_string();
        assert!(error.contains("unknown role \"cron\""), "{error}");
        assert!(parse(&["--roles"]).is_err());
    }

    #[test]
    fn anything_else_is_refused_with_the_usage() {
        let error = parse(&["migrat"]).unwrap_err().to_string();
        assert!(
            error.contains("usage: catalog-svc [serve] [--roles grpc,relay,consumers,timers]"),
            "{error}"
        );
        assert!(parse(&["migrate", "now"]).is_err());
    }
}
