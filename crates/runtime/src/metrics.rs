//! The runtime's gauges, refreshed by the health monitor at every check:
//! each outbox's backlog and each database pool's connections. The
//! `/metrics` endpoint itself is `ecommerce_platform::metrics::serve`.

use std::sync::LazyLock;

use ecommerce_outbox::OutboxBacklog;
use ecommerce_platform::metrics::prometheus::{GaugeVec, IntGaugeVec, Opts};
use ecommerce_platform::metrics::register;
use sea_orm::DatabaseConnection;

struct Gauges {
    outbox_pending: IntGaugeVec,
    outbox_failed: IntGaugeVec,
    outbox_oldest_age: GaugeVec,
    pool_connections: IntGaugeVec,
    pool_max: IntGaugeVec,
}

static GAUGES: LazyLock<Gauges> = LazyLock::new(|| {
    let int_gauge = |name: &str, help: &str, labels: &[&str]| {
        register(IntGaugeVec::new(Opts::new(name, help), labels))
    };
    Gauges {
        outbox_pending: int_gauge(
            "outbox_pending_events",
            "Events written and not yet published, by outbox.",
            &["outbox"],
        ),
        outbox_failed: int_gauge(
            "outbox_failed_events",
            "Events that ran out of publish attempts and wait for an operator, by outbox.",
            &["outbox"],
        ),
        outbox_oldest_age: register(GaugeVec::new(
            Opts::new(
                "outbox_oldest_pending_age_seconds",
                "How long the oldest pending event of an outbox has waited (0 when none): the outbox lag.",
            ),
            &["outbox"],
        )),
        pool_connections: int_gauge(
            "db_pool_connections",
            "Open connections of a database pool, by pool (service, relay) and state (in_use, idle).",
            &["pool", "state"],
        ),
        pool_max: int_gauge(
            "db_pool_max_connections",
            "The most connections a database pool opens, by pool.",
            &["pool"],
        ),
    }
});

/// Records `outbox`'s backlog.
pub(crate) fn record_backlog(outbox: &str, backlog: &OutboxBacklog) {
    let gauges = &*GAUGES;
    gauges
        .outbox_pending
        .with_label_values(&[outbox])
        .set(i64::try_from(backlog.pending).unwrap_or(i64::MAX));
    gauges
        .outbox_failed
        .with_label_values(&[outbox])
        .set(i64::try_from(backlog.failed).unwrap_or(i64::MAX));
    gauges.outbox_oldest_age.with_label_values(&[outbox]).set(
        backlog
            .oldest_pending_age
            .map_or(0.0, |age| age.as_secs_f64()),
    );
}

/// Records the connections of the pool named `pool`.
pub(crate) fn record_pool(pool: &str, db: &DatabaseConnection) {
    let pool_handle = db.get_postgres_connection_pool();
    let open = i64::from(pool_handle.size());
    let idle = i64::try_from(pool_handle.num_idle()).unwrap_or(i64::MAX);
    let gauges = &*GAUGES;
    gauges
        .pool_connections
        .with_label_values(&[pool, "idle"])
        .set(idle);
    gauges
        .pool_connections
        .with_label_values(&[pool, "in_use"])
        .set((open - idle).max(0));
    gauges
        .pool_max
        .with_label_values(&[pool])
        .set(i64::from(pool_handle.options().get_max_connections()));
}
