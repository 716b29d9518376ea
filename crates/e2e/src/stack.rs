//! The saga's seven services, the downstream consumers (notifications,
//! reporting) and the schema registry as real processes, isolated per stack.
//!
//! Each [`Stack`] owns:
//! - one fresh Postgres schema per service (`t_e2e_<service>_<uuid>`), handed
//!   to the binary through `<PREFIX>_DB_SCHEMA`;
//! - a private copy of the RabbitMQ topology under a unique prefix (the
//!   binaries read it from `AMQP_TOPOLOGY_PREFIX`), plus a tap queue bound to
//!   every events exchange;
//! - the processes, each on a free loopback port, logging to
//!   `<temp>/ecommerce-e2e-<run>/<binary>.log`.
//!
//! So stacks run in parallel on one machine and leave nothing behind:
//! [`Stack::finish`] stops the processes (SIGTERM, then SIGKILL), drops the
//! schemas and deletes the topology; a panicking test gets the same from
//! `Drop` (processes killed, schemas and topology removed by their guards)
//! and the tail of every service log on stderr.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use ecommerce_broker::EventsExchange;
use ecommerce_broker::permissions::BrokerPermissions;
use ecommerce_broker::settings::{AMQP_EVENT_PRODUCER_USER_VAR, SERVICE_PLACEHOLDER};
use ecommerce_broker::topology::TOPOLOGY_PREFIX_VAR;
use ecommerce_platform::services;
use ecommerce_platform::settings::ServiceInfo;
use ecommerce_test_support::rabbitmq::{Admin, TestBroker, rabbitmqctl};
use ecommerce_test_support::{EventTap, ServingStatus, TestSchema, declare_tap, health_check};
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret as _;
use tokio::process::{Child, Command};
use tonic::transport::{Channel, Endpoint};
use uuid::Uuid;

/// A service of the checkout saga.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Svc {
    Registry,
    Iam,
    Catalog,
    Inventory,
    Orders,
    Payments,
    Cart,
    Fulfillment,
    Notifications,
    Reporting,
}

impl Svc {
    /// Every service the saga needs: the schema registry first (the others
    /// register their event schemas with it at start-up, so every event
    /// carries its registry id), then IAM (the others fetch its keys).
    pub const ALL: [Self; 10] = [
        Self::Registry,
        Self::Iam,
        Self::Catalog,
        Self::Inventory,
        Self::Orders,
        Self::Payments,
        Self::Cart,
        Self::Fulfillment,
        Self::Notifications,
        Self::Reporting,
    ];

    /// The checkout saga's services (and the registry), without the
    /// downstream consumers: the scope of the saga benchmark.
    pub const SAGA: [Self; 8] = [
        Self::Registry,
        Self::Iam,
        Self::Catalog,
        Self::Inventory,
        Self::Orders,
        Self::Payments,
        Self::Cart,
        Self::Fulfillment,
    ];

    /// The service's row of the one service table.
    pub const fn info(self) -> ServiceInfo {
        match self {
            Self::Registry => services::SCHEMA_REGISTRY,
            Self::Iam => services::IAM,
            Self::Catalog => services::CATALOG,
            Self::Inventory => services::INVENTORY,
            Self::Orders => services::ORDERS,
            Self::Payments => services::PAYMENTS,
            Self::Cart => services::CART,
            Self::Fulfillment => services::FULFILLMENT,
            Self::Notifications => services::NOTIFICATIONS,
            Self::Reporting => services::REPORTING,
        }
    }

    /// The binary's name, also the service's name in logs.
    pub const fn binary(self) -> &'static str {
        self.info().name
    }

    /// The prefix of the service's own variables (`<PREFIX>_GRPC_ADDR`, ...).
    pub const fn env_prefix(self) -> &'static str {
        self.info().env_prefix
    }

    /// The gRPC service it serves: its health status, not the server's,
    /// tells that this very binary (not another process that took the port)
    /// answers.
    pub const fn api(self) -> &'static str {
        use ecommerce_proto::ecommerce;
        match self {
            Self::Registry => ecommerce::registry::v1::schema_registry_service_server::SERVICE_NAME,
            Self::Iam => ecommerce::iam::v1::iam_service_server::SERVICE_NAME,
            Self::Catalog => ecommerce::catalog::v1::catalog_service_server::SERVICE_NAME,
            Self::Inventory => ecommerce::inventory::v1::inventory_service_server::SERVICE_NAME,
            Self::Orders => ecommerce::orders::v1::order_service_server::SERVICE_NAME,
            Self::Payments => ecommerce::payments::v1::payment_service_server::SERVICE_NAME,
            Self::Cart => ecommerce::cart::v1::cart_service_server::SERVICE_NAME,
            Self::Fulfillment => {
                ecommerce::fulfillment::v1::fulfillment_service_server::SERVICE_NAME
            }
            Self::Notifications => {
                ecommerce::notifications::v1::notifications_service_server::SERVICE_NAME
            }
            Self::Reporting => ecommerce::reporting::v1::reporting_service_server::SERVICE_NAME,
        }
    }

    const fn schema_hint(self) -> &'static str {
        match self {
            Self::Registry => "e2e_registry",
            Self::Iam => "e2e_iam",
            Self::Catalog => "e2e_catalog",
            Self::Inventory => "e2e_inventory",
            Self::Orders => "e2e_orders",
            Self::Payments => "e2e_payments",
            Self::Cart => "e2e_cart",
            Self::Fulfillment => "e2e_fulfillment",
            Self::Notifications => "e2e_notifications",
            Self::Reporting => "e2e_reporting",
        }
    }
}

/// Variable naming the directory of the service binaries; by default the
/// directory of the running executable (`target/<profile>`, also when it is
/// a test binary under `target/<profile>/deps`).
pub const BIN_DIR_VAR: &str = "E2E_BIN_DIR";
/// Variable holding the services' `RUST_LOG` (default `info`).
pub const SERVICE_LOG_VAR: &str = "E2E_SERVICE_LOG";

/// Each service's pool size unless `<PREFIX>_DB_MAX_CONNECTIONS` is set
/// through [`StackOptions`].
pub const DEFAULT_DB_MAX_CONNECTIONS: &str = "4";

/// The variables through which services find each other, and whom each
/// names.
const UPSTREAM_URL_VARS: [(&str, Svc); 5] = [
    ("IAM_GRPC_URL", Svc::Iam),
    ("SCHEMA_REGISTRY_URL", Svc::Registry),
    ("CATALOG_GRPC_URL", Svc::Catalog),
    ("FULFILLMENT_GRPC_URL", Svc::Fulfillment),
    ("ORDERS_GRPC_URL", Svc::Orders),
];

/// How a stack is started.
#[derive(Clone, Debug)]
pub struct StackOptions {
    /// Variables given to every service after the stack's own (so they win).
    pub env: Vec<(String, String)>,
    /// Variables given to one service only, after `env`.
    pub service_env: Vec<(Svc, String, String)>,
    /// How long each service gets to answer health SERVING.
    pub ready_timeout: Duration,
    /// Whether the tap queue (every event of every exchange) is declared.
    /// A benchmark turns it off: nobody drains it, so it would only grow.
    pub tap: bool,
    /// Whether each service logs in as a broker user of its own, with the
    /// permissions of `scripts/broker-users` and producer users checked
    /// (`AMQP_EVENT_PRODUCER_USER`), instead of the shared `guest`.
    pub broker_users: bool,
    /// The services started: every one ([`Svc::ALL`]) by default, or only
    /// the saga's ([`Svc::SAGA`]), e.g. for a benchmark of the saga alone,
    /// or any list holding [`Svc::Registry`] (e.g. the registry, IAM and
    /// one service whose requests a test checks); a service left out is
    /// not dialed by the others (its URL variable is unset).
    pub services: &'static [Svc],
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            env: Vec::new(),
            service_env: Vec::new(),
            ready_timeout: Duration::from_secs(90),
            tap: true,
            broker_users: false,
            services: &Svc::ALL,
        }
    }
}

impl StackOptions {
    /// Adds a variable for every service.
    pub fn with_env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.push((name.to_owned(), value.into()));
        self
    }

    /// Each service logs in as its own broker user (see [`Self::broker_users`]).
    pub fn with_broker_users(mut self) -> Self {
        self.broker_users = true;
        self
    }

    /// Adds a variable for `service` only.
    pub fn with_service_env(mut self, service: Svc, name: &str, value: impl Into<String>) -> Self {
        self.service_env
            .push((service, name.to_owned(), value.into()));
        self
    }
}

struct Running {
    child: Child,
    pid: u32,
    /// Where it serves `/metrics` (`<PREFIX>_METRICS_ADDR`).
    metrics_addr: SocketAddr,
}

/// The running stack; see the module documentation.
pub struct Stack {
    run_id: String,
    broker: Option<TestBroker>,
    tap_queue: String,
    schemas: BTreeMap<Svc, TestSchema>,
    addrs: BTreeMap<Svc, SocketAddr>,
    channels: BTreeMap<Svc, Channel>,
    running: BTreeMap<Svc, Running>,
    /// Processes started by [`Stack::spawn_extra`].
    extras: Vec<Running>,
    bin_dir: PathBuf,
    log_dir: PathBuf,
    options: StackOptions,
    /// Each service's broker user and password, with `broker_users`.
    broker_users: BTreeMap<Svc, (String, String)>,
}

impl Stack {
    /// Starts every service of [`StackOptions::services`] and waits until
    /// each answers health SERVING.
    pub async fn start(options: StackOptions) -> anyhow::Result<Self> {
        let bin_dir = bin_dir()?;
        let services = options.services;
        for &service in services {
            let binary = bin_dir.join(service.binary());
            if !binary.is_file() {
                bail!(
                    "{} is missing: build the services first (`cargo build --bins`, or \
                     `cargo build --release --bins` for a release run), or point {BIN_DIR_VAR} \
                     at their directory",
                    binary.display()
                );
            }
        }
        let run_id = Uuid::now_v7().simple().to_string();
        let prefix = format!("e2e-{run_id}.");
        let tap_queue = format!("{prefix}tap");
        let with_tap = options.tap;
        let broker = TestBroker::start_under(prefix, |settings, topology| {
            if with_tap {
                declare_tap(topology, &settings.names, &tap_queue, &EventsExchange::ALL);
            }
        })
        .await;
        let log_dir = std::env::temp_dir().join(format!("ecommerce-e2e-{run_id}"));
        std::fs::create_dir_all(&log_dir)
            .with_context(|| format!("cannot create {}", log_dir.display()))?;
        let mut stack = Self {
            run_id,
            broker: Some(broker),
            tap_queue,
            schemas: BTreeMap::new(),
            addrs: BTreeMap::new(),
            channels: BTreeMap::new(),
            running: BTreeMap::new(),
            extras: Vec::new(),
            bin_dir,
            log_dir,
            options,
            broker_users: BTreeMap::new(),
        };
        if stack.options.broker_users {
            stack.create_broker_users().await?;
        }
        for &service in services {
            let schema = TestSchema::create(service.schema_hint()).await?;
            stack.schemas.insert(service, schema);
            let addr = free_loopback_addr()?;
            let channel = Endpoint::from_shared(format!("http://{addr}"))?
                .connect_timeout(Duration::from_secs(2))
                .connect_lazy();
            stack.addrs.insert(service, addr);
            stack.channels.insert(service, channel);
        }
        // The registry is ready before any producer starts, so each
        // registers at start-up and no event goes out without its id.
        stack.spawn(Svc::Registry)?;
        stack.wait_ready(Svc::Registry).await?;
        for &service in services.iter().filter(|service| **service != Svc::Registry) {
            stack.spawn(service)?;
        }
        for &service in services {
            stack.wait_ready(service).await?;
        }
        tracing::info!(run = %stack.run_id, logs = %stack.log_dir.display(), "stack ready");
        Ok(stack)
    }

    /// `<run prefix><service>`: the broker user of `service` with `broker_users`.
    pub fn broker_user(&self, service: Svc) -> String {
        format!("{}{}", self.broker().prefix, service.binary())
    }

    /// The AMQP URL `service` logs in with (`guest` without `broker_users`).
    pub fn amqp_url(&self, service: Svc) -> String {
        match self.broker_users.get(&service) {
            Some((user, password)) => format!("amqp://{user}:{password}@127.0.0.1:5672/%2f"),
            None => self.broker().settings.amqp_url.expose_secret().to_owned(),
        }
    }

    /// Creates every service's broker user with the permissions of
    /// `broker-permissions` (the same module), a few `rabbitmqctl` at a time.
    async fn create_broker_users(&mut self) -> anyhow::Result<()> {
        let broker = self.broker();
        let mut commands: Vec<Vec<String>> = Vec::new();
        let mut users = BTreeMap::new();
        for &service in self.options.services {
            let user = self.broker_user(service);
            // A test-only user on a local broker: v7 ids carry 74 random bits each.
            let password = format!("{}{}", Uuid::now_v7().simple(), Uuid::now_v7().simple());
            let permissions =
                BrokerPermissions::for_service(service.binary(), broker.names(), &broker.topology);
            commands.push(vec!["add_user".into(), user.clone(), password.clone()]);
            commands.push(vec![
                "set_permissions".into(),
                "-p".into(),
                "/".into(),
                user.clone(),
                permissions.configure,
                permissions.write,
                permissions.read,
            ]);
            users.insert(service, (user, password));
        }
        // Users first (permissions need them), then permissions.
        for phase in [0, 1] {
            let runs = commands.iter().skip(phase).step_by(2).map(|arguments| {
                let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
                async move { rabbitmqctl(&arguments).await }
            });
            futures::future::join_all(runs).await;
        }
        self.broker_users = users;
        Ok(())
    }

    /// The run's id, part of every schema, queue and connection name.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// A (lazily connecting) channel to `service`; it survives restarts.
    pub fn channel(&self, service: Svc) -> Channel {
        self.channels[&service].clone()
    }

    /// `service`'s gRPC address.
    pub fn addr(&self, service: Svc) -> SocketAddr {
        self.addrs[&service]
    }

    /// Where `service` serves `/metrics`, while it runs.
    pub fn metrics_addr(&self, service: Svc) -> Option<SocketAddr> {
        self.running
            .get(&service)
            .map(|running| running.metrics_addr)
    }

    /// A pool on `service`'s schema, for invariant queries.
    pub fn db(&self, service: Svc) -> &DatabaseConnection {
        self.schemas[&service].db()
    }

    /// `service`'s schema name.
    pub fn schema(&self, service: Svc) -> &str {
        self.schemas[&service].name()
    }

    /// The private topology's broker admin connection (queue depths, gets).
    pub fn admin(&self) -> &Admin {
        &self.broker().admin
    }

    /// The private topology's test broker (its names and settings).
    pub fn broker(&self) -> &TestBroker {
        match &self.broker {
            Some(broker) => broker,
            None => unreachable!("the broker is only taken by finish"),
        }
    }

    /// Every event any service publishes, in the order the broker got them
    /// (none when [`StackOptions::tap`] is off).
    pub fn tap(&self) -> EventTap<'_> {
        EventTap {
            admin: &self.broker().admin,
            queue: &self.tap_queue,
        }
    }

    /// The directory of the services' logs.
    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// Where IAM and notifications write their mails (the file mailer's
    /// `.eml` files), as `scripts/up`'s `var/mail`.
    pub fn mail_dir(&self) -> PathBuf {
        self.log_dir.join("mail")
    }

    /// The last `lines` lines of `service`'s log.
    pub fn log_tail(&self, service: Svc, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log_path(service)).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// SIGKILLs `service` (no shutdown of any kind) and reaps it.
    pub async fn kill(&mut self, service: Svc) -> anyhow::Result<()> {
        let Some(mut running) = self.running.remove(&service) else {
            bail!("{} is not running", service.binary());
        };
        running.child.start_kill()?;
        running.child.wait().await?;
        tracing::info!(service = service.binary(), pid = running.pid, "killed");
        Ok(())
    }

    /// Starts `service` again (same schema, topology and port) and waits
    /// until it is ready.
    pub async fn restart(&mut self, service: Svc) -> anyhow::Result<()> {
        if self.running.contains_key(&service) {
            bail!("{} is still running", service.binary());
        }
        self.spawn(service)?;
        self.wait_ready(service).await
    }

    /// Whether `service`'s process is alive (not exited since it started).
    pub fn is_running(&mut self, service: Svc) -> bool {
        self.running
            .get_mut(&service)
            .is_some_and(|running| matches!(running.child.try_wait(), Ok(None)))
    }

    /// Stops every service (SIGTERM, SIGKILL after 10 s), then drops the
    /// schemas and deletes the topology, checking nothing is left.
    pub async fn finish(mut self) -> anyhow::Result<()> {
        for mut extra in std::mem::take(&mut self.extras) {
            terminate(&mut extra).await?;
        }
        let services: Vec<Svc> = self.running.keys().copied().collect();
        for service in services.iter().rev() {
            self.terminate(*service).await?;
        }
        for (_, schema) in std::mem::take(&mut self.schemas) {
            schema.drop_schema().await?;
        }
        let users: Vec<String> = std::mem::take(&mut self.broker_users)
            .into_values()
            .map(|(user, _)| user)
            .collect();
        futures::future::join_all(
            users
                .iter()
                .map(|user| async move { rabbitmqctl(&["delete_user", user]).await }),
        )
        .await;
        if let Some(broker) = self.broker.take() {
            broker.finish().await;
        }
        std::fs::remove_dir_all(&self.log_dir).ok();
        Ok(())
    }

    async fn terminate(&mut self, service: Svc) -> anyhow::Result<()> {
        match self.running.remove(&service) {
            Some(mut running) => terminate(&mut running).await,
            None => Ok(()),
        }
    }

    fn log_path(&self, service: Svc) -> PathBuf {
        self.log_dir.join(format!("{}.log", service.binary()))
    }

    fn spawn(&mut self, service: Svc) -> anyhow::Result<()> {
        let running = self.launch(service, self.addrs[&service], &[])?;
        self.running.insert(service, running);
        Ok(())
    }

    /// Starts one more process of `service` on a port of its own, with
    /// `args` (e.g. `["--roles", "relay,consumers"]`), on the same schema and
    /// topology; waits until it answers health. It runs until
    /// [`Stack::finish`] (or the stack is dropped). Returns its address.
    pub async fn spawn_extra(&mut self, service: Svc, args: &[&str]) -> anyhow::Result<SocketAddr> {
        let addr = free_loopback_addr()?;
        let running = self.launch(service, addr, args)?;
        self.extras.push(running);
        let channel = Endpoint::from_shared(format!("http://{addr}"))?.connect_lazy();
        let started = Instant::now();
        loop {
            if let Some(running) = self.extras.last_mut()
                && let Some(status) = running.child.try_wait()?
            {
                bail!(
                    "the extra {} exited with {status}; its log ends with:\n{}",
                    service.binary(),
                    self.log_tail(service, 30)
                );
            }
            let check =
                tokio::time::timeout(Duration::from_secs(2), health_check(channel.clone(), ""))
                    .await;
            if let Ok(Ok(ServingStatus::Serving)) = check {
                return Ok(addr);
            }
            if started.elapsed() > self.options.ready_timeout {
                bail!("the extra {} is not SERVING", service.binary());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts `service`'s binary listening on `addr`; its output goes to the
    /// service's log.
    fn launch(&self, service: Svc, addr: SocketAddr, args: &[&str]) -> anyhow::Result<Running> {
        let log_path = self.log_path(service);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot open {}", log_path.display()))?;
        let prefix = service.env_prefix();
        let broker = self.broker();
        let metrics_addr = free_loopback_addr()?;
        let mut command = Command::new(self.bin_dir.join(service.binary()));
        command
            .args(args)
            .env(format!("{prefix}_GRPC_ADDR"), addr.to_string())
            .env(format!("{prefix}_METRICS_ADDR"), metrics_addr.to_string())
            // Tagged with the schema, so a panicking test's cleanup ends the
            // sessions a killed process left behind.
            .env("DATABASE_URL", self.schemas[&service].application_url())
            .env(format!("{prefix}_DB_SCHEMA"), self.schemas[&service].name())
            // 10 services x 4 keeps a stack at 40 connections, so a stack and
            // the parallel suite fit in Postgres' default max_connections (100).
            .env(
                format!("{prefix}_DB_MAX_CONNECTIONS"),
                DEFAULT_DB_MAX_CONNECTIONS,
            )
            .env(TOPOLOGY_PREFIX_VAR, &broker.prefix)
            .env(
                "AMQP_CONNECTION_NAME",
                format!("{}{}", broker.prefix, service.binary()),
            )
            .env("IAM_MAILER", "file")
            .env("IAM_MAIL_DIR", self.mail_dir())
            .env("NOTIFICATIONS_MAILER", "file")
            .env("NOTIFICATIONS_MAIL_DIR", self.mail_dir())
            .env(
                "RUST_LOG",
                std::env::var(SERVICE_LOG_VAR).unwrap_or_else(|_| "info".to_owned()),
            )
            // An error ending a service is one log line, not a backtrace that
            // pushes it out of the tail a failing test prints (panics keep
            // theirs with RUST_BACKTRACE).
            .env("RUST_LIB_BACKTRACE", "0")
            // No traces exported from tests, whatever the caller's shell says.
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            // The per-name topology variables would bypass the prefix's isolation.
            .env_remove("UNROUTED_EXCHANGE")
            .env_remove("UNROUTED_QUEUE")
            .env_remove("DEAD_LETTER_EXCHANGE");
        // The services it dials, when the stack runs them. A smaller stack
        // (`StackOptions::services`) leaves the others' variables unset, so
        // nothing from the caller's shell points at a process outside it.
        for (variable, upstream) in UPSTREAM_URL_VARS {
            match self.addrs.get(&upstream) {
                Some(upstream_addr) => command.env(variable, format!("http://{upstream_addr}")),
                None => command.env_remove(variable),
            };
        }
        if self.broker_users.contains_key(&service) {
            command
                .env(format!("{prefix}_AMQP_URL"), self.amqp_url(service))
                .env(
                    AMQP_EVENT_PRODUCER_USER_VAR,
                    format!("{}{SERVICE_PLACEHOLDER}", broker.prefix),
                );
        }
        for (name, value) in &self.options.env {
            command.env(name, value);
        }
        for (_, name, value) in self
            .options
            .service_env
            .iter()
            .filter(|(target, _, _)| *target == service)
        {
            command.env(name, value);
        }
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", service.binary()))?;
        let pid = child.id().unwrap_or_default();
        tracing::info!(service = service.binary(), pid, %addr, ?args, "started");
        Ok(Running {
            child,
            pid,
            metrics_addr,
        })
    }

    async fn wait_ready(&mut self, service: Svc) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(running) = self.running.get_mut(&service)
                && let Some(status) = running.child.try_wait()?
            {
                bail!(
                    "{} exited with {status} before it was ready; its log ends with:\n{}",
                    service.binary(),
                    self.log_tail(service, 30)
                );
            }
            let check = tokio::time::timeout(
                Duration::from_secs(2),
                health_check(self.channel(service), service.api()),
            )
            .await;
            if let Ok(Ok(ServingStatus::Serving)) = check {
                tracing::debug!(service = service.binary(), after = ?started.elapsed(), "ready");
                return Ok(());
            }
            if started.elapsed() > self.options.ready_timeout {
                bail!(
                    "{} not SERVING after {:?}; its log ends with:\n{}",
                    service.binary(),
                    self.options.ready_timeout,
                    self.log_tail(service, 30)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.extras.clear();
        if self.running.is_empty() {
            return;
        }
        if std::thread::panicking() {
            for &service in self.options.services {
                eprintln!(
                    "---- {} log (last 40 lines; all in {}) ----\n{}",
                    service.binary(),
                    self.log_dir.display(),
                    self.log_tail(service, 40)
                );
            }
        }
        // kill_on_drop SIGKILLs the processes; the schemas' and the broker's
        // own guards then remove what the stack made.
        self.running.clear();
        for (user, _) in std::mem::take(&mut self.broker_users).into_values() {
            let _ = std::process::Command::new("rabbitmqctl")
                .args(["delete_user", &user])
                .output();
        }
    }
}

/// SIGTERM (the services drain and close), SIGKILL after 10 s.
async fn terminate(running: &mut Running) -> anyhow::Result<()> {
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &running.pid.to_string()])
        .status();
    if signalled.is_ok_and(|status| status.success())
        && tokio::time::timeout(Duration::from_secs(10), running.child.wait())
            .await
            .is_ok()
    {
        return Ok(());
    }
    running.child.start_kill().ok();
    running.child.wait().await?;
    Ok(())
}

/// A loopback address with a port nobody listens on right now, below the
/// kernel's ephemeral range: `bind(0)` elsewhere (the in-process test
/// servers) and outgoing connections take their ports from that range, so
/// one of them could grab a port picked there before the service binds it.
pub fn free_loopback_addr() -> anyhow::Result<SocketAddr> {
    const LOWEST: u16 = 20_000;
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768)
        .max(LOWEST + 1_000);
    let span = u32::from(ephemeral_start - LOWEST);
    // A random start, so stacks in other processes rarely probe the same ports.
    let start = (Uuid::now_v7().as_u128() as u32) % span; // v7: the low bits are random
    // Never the same port twice in one process: a port handed out is free
    // until its service binds it, so a later pick could land on it (a stack
    // picks two per service, gRPC and metrics).
    static HANDED_OUT: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for offset in 0..span {
        let port = LOWEST + ((start + offset) % span) as u16;
        if handed_out.contains(&port) {
            continue;
        }
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            handed_out.insert(port);
            return Ok(listener.local_addr()?);
        }
    }
    bail!("no free port between {LOWEST} and {ephemeral_start}")
}

/// The directory of the service binaries: `E2E_BIN_DIR` when set, else the
/// running executable's (`target/<profile>`, also from `target/<profile>/deps`).
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os(BIN_DIR_VAR).filter(|dir| !dir.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().context("cannot locate the running executable")?;
    let mut dir = exe
        .parent()
        .context("the executable has no directory")?
        .to_path_buf();
    if dir.file_name().is_some_and(|name| name == "deps") {
        dir.pop();
    }
    Ok(dir)
}
