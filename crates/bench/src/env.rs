//! The run's private resources: a fresh schema (business table + outbox
//! table), a prefixed copy of the system topology, the pools and the
//! broker; and their removal, also for `relay-bench cleanup` after a crash.

use std::time::Duration;

use anyhow::Context as _;
use ecommerce_broker::lapin::options::{QueueDeclareOptions, QueuePurgeOptions};
use ecommerce_broker::lapin::types::FieldTable;
use ecommerce_broker::lapin::{Channel, Connection, ConnectionProperties};
use ecommerce_broker::{
    Broker, BrokerSettings, ConsumerQueue, EventsExchange, Topology, TopologyNames, topology,
};
use ecommerce_outbox::{Outbox, OutboxTable, create_outbox_table};
use ecommerce_test_support::TestSchema;
use ecommerce_test_support::postgres::{connect_creating_database, database_url};
use futures::future::try_join_all;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait, Value};
use secrecy::ExposeSecret as _;

use crate::progress;
use crate::workload::{business_table, create_business_table_sql};

/// `t_bench_<run id>_<uuid>`: TestSchema adds the `t_` and the uuid.
pub fn schema_prefix(run_id: &str) -> String {
    format!("bench_{run_id}")
}

/// `bench-<run id>.` in front of every exchange and queue name.
pub fn amqp_prefix(run_id: &str) -> String {
    format!("bench-{run_id}.")
}

/// The broker settings of a run: the environment's (URL, names), every
/// name under the run's prefix.
pub fn broker_settings(run_id: &str) -> anyhow::Result<BrokerSettings> {
    let mut settings = BrokerSettings::from_env().context("broker settings")?;
    settings.names = settings.names.with_prefix(&amqp_prefix(run_id));
    settings.connection_name = format!("relay-bench-{run_id}");
    Ok(settings)
}

/// What a run owns and must remove: armed before anything is created.
pub struct Resources {
    pub run_id: String,
    pub settings: BrokerSettings,
    pub topology: Topology,
    pub schema: Option<TestSchema>,
}

impl Resources {
    pub fn new(run_id: &str) -> anyhow::Result<Self> {
        let settings = broker_settings(run_id)?;
        let mut topology = settings.topology();
        // Its consumers declare their retry paths; the cleanup deletes them.
        topology.extend(topology::retry_paths(&settings.names));
        Ok(Self {
            run_id: run_id.to_owned(),
            settings,
            topology,
            schema: None,
        })
    }

    /// Deletes the topology and drops the schema; reports what failed
    /// without stopping half-way.
    pub async fn remove(mut self) -> anyhow::Result<()> {
        let mut failures = Vec::new();
        if let Err(error) = delete_topology(&self.settings, &self.topology).await {
            failures.push(format!("topology: {error:#}"));
        }
        if let Some(schema) = self.schema.take() {
            let name = schema.name().to_owned();
            match schema.drop_schema().await {
                Ok(()) => progress!("dropped schema {name}"),
                Err(error) => failures.push(format!("schema {name}: {error:#}")),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("cleanup incomplete: {}", failures.join("; "))
        }
    }
}

async fn delete_topology(settings: &BrokerSettings, topology: &Topology) -> anyhow::Result<()> {
    let connection = Connection::connect(
        settings.amqp_url.expose_secret(),
        ConnectionProperties::default()
            .with_connection_name(format!("{}-cleanup", settings.connection_name).into()),
    )
    .await
    .context("cleanup connection to the broker")?;
    let channel = connection.create_channel().await?;
    topology::delete(&channel, topology).await?;
    let _ = connection.close(200, "cleanup done".into()).await;
    progress!(
        "deleted topology {}* ({} queues, {} exchanges)",
        settings
            .names
            .unrouted_exchange()
            .trim_end_matches("unrouted"),
        topology.queues.len(),
        topology.exchanges.len()
    );
    Ok(())
}

/// `relay-bench cleanup --run-id ID`: what a killed run left behind.
pub async fn cleanup_run(run_id: &str) -> anyhow::Result<()> {
    let resources = Resources::new(run_id)?;
    let mut failures = Vec::new();
    if let Err(error) = delete_topology(&resources.settings, &resources.topology).await {
        failures.push(format!("topology: {error:#}"));
    }
    if let Err(error) = drop_run_schemas(run_id).await {
        failures.push(format!("schemas: {error:#}"));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("cleanup incomplete: {}", failures.join("; "))
    }
}

async fn drop_run_schemas(run_id: &str) -> anyhow::Result<()> {
    let admin = connect_creating_database(&database_url()).await?;
    let pattern = format!("t_{}\\_%", schema_prefix(run_id));
    let rows = admin
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
            [Value::from(pattern)],
        ))
        .await?;
    for row in rows {
        let name: String = row.try_get("", "nspname")?;
        admin
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1 AND pid <> pg_backend_pid()",
                [Value::from(name.clone())],
            ))
            .await?;
        admin
            .execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
            .await?;
        progress!("dropped schema {name}");
    }
    admin.close().await.ok();
    Ok(())
}

/// Everything the phases use.
pub struct BenchEnv {
    pub schema_name: String,
    pub business_table: String,
    pub outbox_table: OutboxTable,
    pub outbox: Outbox,
    /// The writers' pool: one connection per client.
    pub clients_db: DatabaseConnection,
    /// The relays' pool (a batch holds its connection while the broker confirms).
    pub relay_db: DatabaseConnection,
    /// Setup, truncates and result queries.
    pub admin_db: DatabaseConnection,
    pub settings: BrokerSettings,
    pub broker: Broker,
    pub exchange: String,
    /// The two queues `orders.#` routes `orders.order_placed.v1` to.
    pub recorded_queue: String,
    pub other_queue: String,
}

impl BenchEnv {
    pub async fn open(
        resources: &mut Resources,
        clients: usize,
        relays: usize,
    ) -> anyhow::Result<Self> {
        let schema = TestSchema::create(&schema_prefix(&resources.run_id)).await?;
        let schema_name = schema.name().to_owned();
        progress!("schema {schema_name}");
        let admin_db = schema.db().clone();
        let clients_db = schema.connect(u32::try_from(clients)?).await?;
        let relay_db = schema.connect(u32::try_from(relays + 1)?).await?;
        resources.schema = Some(schema);

        let business_table = business_table(&schema_name);
        admin_db
            .execute_unprepared(&create_business_table_sql(&business_table))
            .await?;
        let outbox_table = OutboxTable::ORDERS.in_schema(&schema_name)?;
        create_outbox_table(&admin_db, &outbox_table).await?;

        let settings = resources.settings.clone();
        let names: &TopologyNames = &settings.names;
        let exchange = names.exchange(EventsExchange::Orders).to_owned();
        let recorded_queue = names.queue(ConsumerQueue::InventoryOrderEvents).to_owned();
        let other_queue = names.queue(ConsumerQueue::PaymentsOrderEvents).to_owned();
        let outbox = Outbox::new(outbox_table.clone(), exchange.clone());

        let broker = Broker::connect(settings.clone(), resources.topology.clone())
            .await
            .context("broker connects and declares the topology")?;
        progress!(
            "topology {}* declared on {}",
            amqp_prefix(&resources.run_id),
            settings.connection_name
        );
        let env = Self {
            schema_name,
            business_table,
            outbox_table,
            outbox,
            clients_db,
            relay_db,
            admin_db,
            settings,
            broker,
            exchange,
            recorded_queue,
            other_queue,
        };
        warm_pool(&env.clients_db, clients).await?;
        warm_pool(&env.relay_db, relays + 1).await?;
        env.classify_backends().await?;
        Ok(env)
    }

    /// Waits (up to 20 s) until Postgres and RabbitMQ are quiet again, so a
    /// phase does not pay for the one before (vacuum, quorum queue
    /// segment writes and compaction after a burst).
    pub async fn settle(&self) {
        settle().await;
    }

    /// Tells the CPU accounting which Postgres backends are this run's.
    pub async fn classify_backends(&self) -> anyhow::Result<()> {
        crate::measure::classify_postgres_backends(&self.admin_db, &self.schema_name).await
    }

    /// `"schema"."orders_outbox_events"`.
    pub fn outbox_sql_name(&self) -> String {
        format!(
            "\"{}\".\"{}\"",
            self.outbox_table.schema(),
            self.outbox_table.table()
        )
    }

    /// Empties the outbox and the business table between phases.
    pub async fn truncate(&self) -> anyhow::Result<()> {
        self.admin_db
            .execute_unprepared(&format!(
                "TRUNCATE {}, {}",
                self.outbox_sql_name(),
                self.business_table
            ))
            .await?;
        Ok(())
    }

    /// `VACUUM ANALYZE` of the outbox, so each phase starts from the same
    /// table state (no dead index entries from the phase before).
    pub async fn vacuum_outbox(&self) -> anyhow::Result<()> {
        self.admin_db
            .execute_unprepared(&format!("VACUUM ANALYZE {}", self.outbox_sql_name()))
            .await?;
        Ok(())
    }

    /// A plain lapin connection of its own (the raw publish baseline,
    /// purges), opened per use: other test suites on a shared broker may
    /// close every connection (fault tests), and a phase should not inherit
    /// a dead one.
    pub async fn amqp(&self, purpose: &str) -> anyhow::Result<AmqpSession> {
        let connection = Connection::connect(
            self.settings.amqp_url.expose_secret(),
            ConnectionProperties::default().with_connection_name(
                format!("{}-{purpose}", self.settings.connection_name).into(),
            ),
        )
        .await
        .with_context(|| format!("lapin connection for {purpose}"))?;
        let channel = connection.create_channel().await?;
        Ok(AmqpSession {
            connection,
            channel,
        })
    }

    /// Empties both bound queues and the unrouted queue; returns how many
    /// messages were dropped.
    pub async fn purge_queues(&self) -> anyhow::Result<u64> {
        let session = self.amqp("purge").await?;
        let mut purged = 0_u64;
        for queue in [
            self.recorded_queue.as_str(),
            self.other_queue.as_str(),
            self.settings.names.unrouted_queue(),
        ] {
            purged += u64::from(
                session
                    .channel
                    .queue_purge(queue.into(), QueuePurgeOptions::default())
                    .await
                    .with_context(|| format!("purge {queue}"))?,
            );
        }
        session.close().await;
        Ok(purged)
    }

    /// Ready messages and consumers of `queue`.
    pub async fn queue_state(&self, queue: &str) -> anyhow::Result<(u32, u32)> {
        let session = self.amqp("inspect").await?;
        let declared = session
            .channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .with_context(|| format!("inspect {queue}"))?;
        session.close().await;
        Ok((declared.message_count(), declared.consumer_count()))
    }

    pub fn unrouted_queue(&self) -> &str {
        self.settings.names.unrouted_queue()
    }

    pub async fn close(self) {
        self.broker.close().await;
        self.clients_db.close().await.ok();
        self.relay_db.close().await.ok();
    }
}

/// A lapin connection and one channel on it.
pub struct AmqpSession {
    pub connection: Connection,
    pub channel: Channel,
}

impl AmqpSession {
    pub async fn close(self) {
        let _ = self.connection.close(200, "done".into()).await;
    }
}

/// Opens `size` connections now, so no phase pays for connecting.
async fn warm_pool(db: &DatabaseConnection, size: usize) -> anyhow::Result<()> {
    let transactions = try_join_all((0..size).map(|_| db.begin())).await?;
    for transaction in transactions {
        transaction.commit().await?;
    }
    Ok(())
}

/// Waits (up to 20 s) until Postgres and RabbitMQ are quiet again, so a
/// phase does not pay for the one before (vacuum, quorum queue segment
/// writes and compaction after a burst).
pub async fn settle() {
    let started = std::time::Instant::now();
    loop {
        let before = crate::measure::CpuSnapshot::take();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = crate::measure::CpuSnapshot::take();
        let busy: f64 = ["postgres", "postgres_shared", "rabbitmq", "bench"]
            .iter()
            .map(|group| after.group_cores_since(&before, group))
            .sum();
        if busy < 0.2 {
            return;
        }
        if started.elapsed() >= Duration::from_secs(20) {
            progress!("  (still {busy:.2} cores busy after 20 s; going on)");
            return;
        }
    }
}

/// How long to wait for something that should be quick before failing.
pub const PATIENCE: Duration = Duration::from_secs(60);
