//! Honest health: what `grpc.health.v1` says about each part of a service.
//!
//! | entry | SERVING while | NOT_SERVING when |
//! |---|---|---|
//! | the API (`ecommerce.orders.v1.OrderService`, …) | the database answers `SELECT 1` within [`HealthSettings::database_timeout`] | it does not: nothing the API does can work |
//! | `broker` | the broker connection is up with the topology declared | it is down or reconnecting |
//! | `outbox` (services that emit events) | the oldest pending event of every outbox is younger than [`HealthSettings::outbox_max_age`] | one is older (the relay cannot keep up or cannot publish), or the backlog cannot be read |
//! | `""` (the process) | always, until shutdown | shutdown began |
//!
//! A service keeps accepting writes while the broker is down (the outbox
//! holds its events): health then says *degraded* (`broker`, later
//! `outbox`, NOT_SERVING) while the API stays SERVING. The monitor checks
//! every [`HealthSettings::interval`], logs each change, and stops when
//! shutdown begins (the server then marks everything NOT_SERVING).
//!
//! Each check also refreshes the runtime's gauges (see [`crate::metrics`]):
//! the outboxes' backlog and the database pools' connections.

use std::sync::Arc;
use std::time::Duration;

use ecommerce_broker::{Broker, BrokerState};
use ecommerce_outbox::Outbox;
use ecommerce_platform::settings::{EnvSource, SettingsError};
use sea_orm::{ConnectionTrait as _, DatabaseConnection};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// The health entry of the broker connection.
pub const BROKER_HEALTH_SERVICE: &str = "broker";
/// The health entry of the outbox lag.
pub const OUTBOX_HEALTH_SERVICE: &str = "outbox";

/// Variable: milliseconds between two health checks.
pub const HEALTH_INTERVAL_VAR: &str = "HEALTH_CHECK_INTERVAL_MS";
/// Variable: seconds the oldest pending outbox row may wait before
/// `outbox` goes NOT_SERVING.
pub const OUTBOX_MAX_AGE_VAR: &str = "HEALTH_OUTBOX_MAX_AGE_SECS";

/// How the monitor checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthSettings {
    /// `HEALTH_CHECK_INTERVAL_MS` (default 2000).
    pub interval: Duration,
    /// How long `SELECT 1` may take (the interval, at most 2 s).
    pub database_timeout: Duration,
    /// `HEALTH_OUTBOX_MAX_AGE_SECS` (default 60).
    pub outbox_max_age: Duration,
}

impl Default for HealthSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(2),
            database_timeout: Duration::from_secs(2),
            outbox_max_age: Duration::from_secs(60),
        }
    }
}

impl HealthSettings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_source(&EnvSource::process())
    }

    pub fn from_source(source: &EnvSource) -> Result<Self, SettingsError> {
        let defaults = Self::default();
        let interval_ms: u64 = source.or(
            HEALTH_INTERVAL_VAR,
            u64::try_from(defaults.interval.as_millis()).unwrap_or(2000),
        )?;
        if interval_ms == 0 {
            return Err(SettingsError::Invalid {
                variable: HEALTH_INTERVAL_VAR.to_owned(),
                value: "0".to_owned(),
                reason: "must be at least 1".to_owned(),
            });
        }
        let max_age_secs: u64 = source.or(OUTBOX_MAX_AGE_VAR, defaults.outbox_max_age.as_secs())?;
        let interval = Duration::from_millis(interval_ms);
        Ok(Self {
            interval,
            database_timeout: interval.min(Duration::from_secs(2)),
            outbox_max_age: Duration::from_secs(max_age_secs),
        })
    }
}

/// What the monitor watches.
pub(crate) struct Watched {
    pub db: DatabaseConnection,
    /// The relays' own pool, when the process runs relays (its gauges).
    pub relay_db: Option<DatabaseConnection>,
    pub broker: Broker,
    pub outboxes: Vec<Outbox>,
    /// The API entries (every service the server added).
    pub apis: Vec<&'static str>,
}

/// One check's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Verdict {
    database: bool,
    broker: bool,
    /// `None` for a service without outboxes.
    outbox: Option<bool>,
}

/// Runs the checks until `stopping` completes, setting `reporter`'s entries.
pub(crate) async fn monitor(
    watched: Arc<Watched>,
    settings: HealthSettings,
    reporter: HealthReporter,
    stopping: impl std::future::Future<Output = ()> + Send,
) {
    let mut stopping = std::pin::pin!(stopping);
    let mut previous: Option<Verdict> = None;
    // Re-asserted now and then: the server marks every API SERVING when it
    // starts serving, which may come after the first check.
    let mut since_assert = 0_u32;
    loop {
        let verdict = tokio::select! {
            () = &mut stopping => return,
            verdict = check(&watched, settings) => verdict,
        };
        let reassert = since_assert >= 5;
        if previous != Some(verdict) || reassert {
            log_changes(previous, verdict);
            report(&watched, &reporter, verdict).await;
            previous = Some(verdict);
            since_assert = 0;
        } else {
            since_assert += 1;
        }
        tokio::select! {
            () = &mut stopping => return,
            () = tokio::time::sleep(settings.interval) => {}
        }
    }
}

async fn check(watched: &Watched, settings: HealthSettings) -> Verdict {
    let database = matches!(
        tokio::time::timeout(
            settings.database_timeout,
            watched.db.execute_unprepared("SELECT 1")
        )
        .await,
        Ok(Ok(_))
    );
    crate::metrics::record_pool("service", &watched.db);
    if let Some(relay_db) = &watched.relay_db {
        crate::metrics::record_pool("relay", relay_db);
    }
    let broker = *watched.broker.state().borrow() == BrokerState::Connected;
    let outbox = if watched.outboxes.is_empty() {
        None
    } else {
        let mut fresh = database;
        for outbox in &watched.outboxes {
            if !fresh {
                break;
            }
            let backlog =
                tokio::time::timeout(settings.database_timeout, outbox.backlog(&watched.db)).await;
            fresh = match backlog {
                Ok(Ok(backlog)) => {
                    crate::metrics::record_backlog(&outbox.table().to_string(), &backlog);
                    backlog
                        .oldest_pending_age
                        .is_none_or(|age| age <= settings.outbox_max_age)
                }
                _ => false,
            };
        }
        Some(fresh)
    };
    Verdict {
        database,
        broker,
        outbox,
    }
}

fn status(serving: bool) -> ServingStatus {
    if serving {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    }
}

async fn report(watched: &Watched, reporter: &HealthReporter, verdict: Verdict) {
    for api in &watched.apis {
        reporter
            .set_service_status(api, status(verdict.database))
            .await;
    }
    reporter
        .set_service_status(BROKER_HEALTH_SERVICE, status(verdict.broker))
        .await;
    if let Some(outbox) = verdict.outbox {
        reporter
            .set_service_status(OUTBOX_HEALTH_SERVICE, status(outbox))
            .await;
    }
}

impl Verdict {
    /// Each part and whether it is healthy (`None`: not watched).
    fn parts(self) -> [(&'static str, Option<bool>); 3] {
        [
            ("database", Some(self.database)),
            ("broker", Some(self.broker)),
            ("outbox", self.outbox),
        ]
    }
}

/// One line per part that changed (or starts unhealthy).
fn log_changes(previous: Option<Verdict>, now: Verdict) {
    for (index, (part, is)) in now.parts().into_iter().enumerate() {
        let was = previous.map(|previous| previous.parts()[index].1);
        let changed = match was {
            Some(was) => was != is,
            None => is == Some(false),
        };
        if !changed {
            continue;
        }
        match is {
            Some(true) => tracing::info!(part, "healthy again"),
            Some(false) => tracing::warn!(part, "unhealthy: health says NOT_SERVING"),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn settings_default_and_refuse_a_zero_interval() {
        let defaults = HealthSettings::from_source(&EnvSource::from_pairs([])).unwrap();
        assert_eq!(defaults, HealthSettings::default());
        let set = HealthSettings::from_source(&EnvSource::from_pairs([
            (HEALTH_INTERVAL_VAR, "200"),
            (OUTBOX_MAX_AGE_VAR, "5"),
        ]))
        .unwrap();
        assert_eq!(set.interval, Duration::from_millis(200));
        assert_eq!(set.database_timeout, Duration::from_millis(200));
        assert_eq!(set.outbox_max_age, Duration::from_secs(5));
        let zero =
            HealthSettings::from_source(&EnvSource::from_pairs([(HEALTH_INTERVAL_VAR, "0")]))
                .unwrap_err();
        assert!(zero.to_string().contains(HEALTH_INTERVAL_VAR), "{zero}");
    }
}
