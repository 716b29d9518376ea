//! `ecomctl outbox`: each service's outbox backlog, and putting failed
//! rows back to pending once their cause is fixed.

use std::time::Duration;

use anyhow::{Context as _, bail};
use ecommerce_outbox::{Outbox, OutboxBacklog, OutboxError};
use sea_orm::Value;
use serde_json::{Value as Json, json};
use uuid::Uuid;

use crate::db::{Pools, is_missing_table, missing_table_note, query};
use crate::format;
use crate::settings::{ServiceDatabase, Settings};

/// One service's line of `outbox status`.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxStatus {
    pub service: String,
    pub table: String,
    /// `None` when the table does not exist.
    pub backlog: Option<OutboxBacklog>,
    /// Rows published within the window (from their `published_at`; the
    /// relay keeps published rows for the retention period).
    pub published_in_window: u64,
}

/// An outbox handle for reading and requeueing (never for writing events,
/// so the exchange is irrelevant).
fn outbox_of(database: &ServiceDatabase) -> Outbox {
    Outbox::new(database.outbox.clone(), "")
}

/// Every service's backlog and publish rate over `window`.
pub async fn statuses(
    settings: &Settings,
    services: &[String],
    window: Duration,
) -> anyhow::Result<Vec<OutboxStatus>> {
    let databases = selected(settings, services)?;
    let mut pools = Pools::default();
    let mut statuses = Vec::with_capacity(databases.len());
    for database in &databases {
        let pool = pools.get(database).await?;
        let backlog = match outbox_of(database).backlog(&pool).await {
            Ok(backlog) => Some(backlog),
            Err(OutboxError::MissingTable { .. }) => None,
            Err(error) => {
                return Err(error).with_context(|| {
                    format!(
                        "cannot read {}'s outbox {}",
                        database.service.name, database.outbox
                    )
                });
            }
        };
        let published_in_window = if backlog.is_some() {
            let rows = query(
                &pool,
                &format!(
                    "SELECT count(*) AS n FROM {} WHERE status = 'published' \
                     AND published_at >= clock_timestamp() - $1::float8 * interval '1 second'",
                    database.outbox.qualified()
                ),
                vec![Value::from(window.as_secs_f64())],
            )
            .await
            .with_context(|| format!("cannot count {}'s published rows", database.service.name))?;
            rows.first()
                .and_then(|row| row.try_get::<i64>("", "n").ok())
                .and_then(|count| u64::try_from(count).ok())
                .unwrap_or(0)
        } else {
            0
        };
        statuses.push(OutboxStatus {
            service: database.service.name.to_owned(),
            table: database.outbox.to_string(),
            backlog,
            published_in_window,
        });
    }
    pools.close().await;
    Ok(statuses)
}

/// The services named by `--service` (all event-publishing ones when none).
fn selected(settings: &Settings, services: &[String]) -> anyhow::Result<Vec<ServiceDatabase>> {
    let databases = settings.service_databases()?;
    if services.is_empty() {
        return Ok(databases);
    }
    let mut chosen = Vec::new();
    for name in services {
        let service = crate::settings::parse_service(name)?;
        let Some(database) = databases
            .iter()
            .find(|database| database.service.name == service.name)
        else {
            bail!(
                "{} has no event outbox; these do: {}",
                service.name,
                databases
                    .iter()
                    .map(|database| database.service.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        chosen.push(database.clone());
    }
    Ok(chosen)
}

/// The `outbox status` table.
pub fn status_lines(statuses: &[OutboxStatus], window: Duration) -> Vec<String> {
    let window_text = format::window(window);
    let mut rows = vec![vec![
        "SERVICE".to_owned(),
        "OUTBOX".to_owned(),
        "PENDING".to_owned(),
        "FAILED".to_owned(),
        "OLDEST PENDING".to_owned(),
        format!("PUBLISHED ({window_text})"),
        "PER SECOND".to_owned(),
    ]];
    for status in statuses {
        match &status.backlog {
            Some(backlog) => rows.push(vec![
                status.service.clone(),
                status.table.clone(),
                backlog.pending.to_string(),
                backlog.failed.to_string(),
                backlog
                    .oldest_pending_age
                    .map_or_else(|| "-".to_owned(), format::duration),
                status.published_in_window.to_string(),
                format!("{:.2}", per_second(status.published_in_window, window)),
            ]),
            None => rows.push(vec![
                status.service.clone(),
                status.table.clone(),
                "-".to_owned(),
                "-".to_owned(),
                "no such table".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
            ]),
        }
    }
    let mut lines = format::table(&rows, &[2, 3, 5, 6]);
    let failed: u64 = statuses
        .iter()
        .filter_map(|status| status.backlog.as_ref())
        .map(|backlog| backlog.failed)
        .sum();
    if failed > 0 {
        lines.push(format!(
            "{} ran out of publish attempts: `ecomctl outbox retry --failed` puts them back once the cause is fixed",
            format::plural(i64::try_from(failed).unwrap_or(i64::MAX), "row")
        ));
    }
    lines
}

fn per_second(count: u64, window: Duration) -> f64 {
    let seconds = window.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// `outbox status --json`.
pub fn status_json(statuses: &[OutboxStatus], window: Duration) -> Json {
    let services: Vec<Json> = statuses
        .iter()
        .map(|status| {
            json!({
                "service": status.service,
                "outbox": status.table,
                "exists": status.backlog.is_some(),
                "pending": status.backlog.as_ref().map(|backlog| backlog.pending),
                "failed": status.backlog.as_ref().map(|backlog| backlog.failed),
                "oldest_pending_age_ms": status.backlog.as_ref().and_then(|backlog| {
                    backlog.oldest_pending_age.map(|age| u64::try_from(age.as_millis()).unwrap_or(u64::MAX))
                }),
                "published_in_window": status.published_in_window,
                "published_per_second": per_second(status.published_in_window, window),
            })
        })
        .collect();
    json!({"window_seconds": window.as_secs_f64(), "services": services})
}

/// `outbox status`.
pub async fn status(
    settings: &Settings,
    services: &[String],
    window: Duration,
    as_json: bool,
) -> anyhow::Result<()> {
    let statuses = statuses(settings, services, window).await?;
    if as_json {
        println!("{}", status_json(&statuses, window));
    } else {
        for line in status_lines(&statuses, window) {
            println!("{line}");
        }
    }
    Ok(())
}

/// What `outbox retry` retries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetryTarget {
    AllFailed,
    Event(Uuid),
}

/// `outbox retry`: failed rows back to pending with a fresh attempt budget
/// (`Outbox::requeue_failed`); the services' relays find them on their
/// next poll (`OUTBOX_RELAY_POLL_INTERVAL_MS`).
pub async fn retry(
    settings: &Settings,
    services: &[String],
    target: RetryTarget,
) -> anyhow::Result<()> {
    let databases = selected(settings, services)?;
    let mut pools = Pools::default();
    let outcome = match &target {
        RetryTarget::AllFailed => retry_all_failed(&databases, &mut pools).await,
        RetryTarget::Event(id) => retry_one(&databases, &mut pools, *id).await,
    };
    pools.close().await;
    outcome
}

async fn retry_all_failed(databases: &[ServiceDatabase], pools: &mut Pools) -> anyhow::Result<()> {
    let mut total = 0_u64;
    for database in databases {
        let pool = pools.get(database).await?;
        let rows = query(
            &pool,
            &format!(
                "SELECT id FROM {} WHERE status = 'failed'",
                database.outbox.qualified()
            ),
            vec![],
        )
        .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(error) if is_missing_table(&error) => {
                eprintln!("{}", missing_table_note(database));
                continue;
            }
            Err(error) => {
                return Err(error).with_context(|| {
                    format!(
                        "cannot read {}'s outbox {}",
                        database.service.name, database.outbox
                    )
                });
            }
        };
        let ids: Vec<Uuid> = rows
            .iter()
            .filter_map(|row| row.try_get::<Uuid>("", "id").ok())
            .collect();
        if ids.is_empty() {
            continue;
        }
        let requeued = outbox_of(database)
            .requeue_failed(&pool, &ids)
            .await
            .with_context(|| format!("cannot requeue {}'s failed rows", database.service.name))?;
        total += requeued;
        println!(
            "{}: {} back to pending ({})",
            database.service.name,
            format::plural(i64::try_from(requeued).unwrap_or(i64::MAX), "failed row"),
            database.outbox
        );
    }
    if total == 0 {
        println!("no failed rows: nothing to retry");
    } else {
        println!(
            "{} requeued; each service's relay publishes them on its next poll",
            format::plural(i64::try_from(total).unwrap_or(i64::MAX), "row")
        );
    }
    Ok(())
}

async fn retry_one(
    databases: &[ServiceDatabase],
    pools: &mut Pools,
    id: Uuid,
) -> anyhow::Result<()> {
    for database in databases {
        let pool = pools.get(database).await?;
        let rows = query(
            &pool,
            &format!(
                "SELECT event_type, status, attempts FROM {} WHERE id = $1",
                database.outbox.qualified()
            ),
            vec![Value::from(id)],
        )
        .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(error) if is_missing_table(&error) => continue,
            Err(error) => {
                return Err(error).with_context(|| {
                    format!(
                        "cannot read {}'s outbox {}",
                        database.service.name, database.outbox
                    )
                });
            }
        };
        let Some(row) = rows.first() else {
            continue;
        };
        let event_type: String = row.try_get("", "event_type").unwrap_or_default();
        let status: String = row.try_get("", "status").unwrap_or_default();
        if status != "failed" {
            bail!(
                "event {id} ({event_type}) in {}'s outbox is {status}, not failed: nothing to retry",
                database.service.name
            );
        }
        let requeued = outbox_of(database)
            .requeue_failed(&pool, &[id])
            .await
            .with_context(|| format!("cannot requeue event {id}"))?;
        if requeued == 0 {
            bail!(
                "event {id} changed while being requeued; look again with `ecomctl outbox status`"
            );
        }
        println!(
            "event {id} ({event_type}) back to pending in {}'s outbox {}; its relay publishes it on its next poll",
            database.service.name, database.outbox
        );
        return Ok(());
    }
    bail!(
        "no event {id} in any outbox ({}); published rows are pruned after OUTBOX_RETENTION_HOURS",
        databases
            .iter()
            .map(|database| database.outbox.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_table_shows_backlog_and_rate() {
        let statuses = vec![
            OutboxStatus {
                service: "orders-svc".to_owned(),
                table: "orders.orders_outbox_events".to_owned(),
                backlog: Some(OutboxBacklog {
                    pending: 2,
                    failed: 1,
                    oldest_pending_age: Some(Duration::from_millis(3_200)),
                }),
                published_in_window: 600,
            },
            OutboxStatus {
                service: "catalog-svc".to_owned(),
                table: "catalog.catalog_outbox_events".to_owned(),
                backlog: None,
                published_in_window: 0,
            },
        ];
        assert_eq!(
            status_lines(&statuses, Duration::from_secs(300)),
            vec![
                "SERVICE      OUTBOX                         PENDING  FAILED  OLDEST PENDING  PUBLISHED (5m)  PER SECOND",
                "orders-svc   orders.orders_outbox_events          2       1  3.2s                       600        2.00",
                "catalog-svc  catalog.catalog_outbox_events        -       -  no such table                -           -",
                "1 row ran out of publish attempts: `ecomctl outbox retry --failed` puts them back once the cause is fixed",
            ]
        );
        let json = status_json(&statuses, Duration::from_secs(300));
        assert_eq!(json["services"][0]["oldest_pending_age_ms"], 3_200);
        assert_eq!(json["services"][1]["exists"], false);
    }
}
