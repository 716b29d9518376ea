//! `ecomctl saga`: the story of one checkout from the services' outbox
//! tables, as a timeline and as a causation tree.
//!
//! Every event of one checkout shares a correlation id, and each names the
//! event that caused it. Published outbox rows are kept for
//! `OUTBOX_RETENTION_HOURS` (a week by default), so the outboxes hold the
//! whole story, including what was never published (pending or failed
//! rows), which no broker-side view could show.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use sea_orm::{QueryResult, Value};
use serde_json::{Value as Json, json};
use uuid::Uuid;

use crate::db::{Pools, is_missing_table, missing_table_note, query};
use crate::format;
use crate::settings::Settings;

/// Which story to tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// Every correlation an event about this order carries.
    Order(String),
    Correlation(String),
}

/// One outbox row of the story.
#[derive(Clone, Debug, PartialEq)]
pub struct SagaEvent {
    pub id: Uuid,
    /// The service whose outbox holds it.
    pub service: String,
    pub event_type: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub occurred_at: DateTime<Utc>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    /// `pending`, `published` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub published_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// The events of one or more correlations, in time order.
#[derive(Clone, Debug, PartialEq)]
pub struct Story {
    pub selector: Selector,
    pub correlations: Vec<String>,
    pub events: Vec<SagaEvent>,
}

/// Reads the story from every event-publishing service's outbox.
pub async fn load(settings: &Settings, selector: Selector) -> anyhow::Result<Story> {
    let databases = settings.service_databases()?;
    let mut pools = Pools::default();
    let mut correlations = BTreeSet::new();
    if let Selector::Correlation(correlation) = &selector {
        correlations.insert(correlation.clone());
    }
    let mut present = Vec::new();
    for database in &databases {
        let pool = pools.get(database).await?;
        let table = database.outbox.qualified();
        let rows = match &selector {
            Selector::Order(order_id) => {
                query(
                    &pool,
                    &format!(
                        "SELECT DISTINCT correlation_id FROM {table} \
                         WHERE aggregate_id = $1 AND correlation_id IS NOT NULL"
                    ),
                    vec![Value::from(order_id.clone())],
                )
                .await
            }
            Selector::Correlation(_) => {
                query(&pool, &format!("SELECT 1 FROM {table} LIMIT 0"), vec![]).await
            }
        };
        match rows {
            Ok(rows) => {
                for row in rows {
                    if let Ok(correlation) = row.try_get::<String>("", "correlation_id") {
                        correlations.insert(correlation);
                    }
                }
                present.push((database, pool));
            }
            Err(error) if is_missing_table(&error) => eprintln!("{}", missing_table_note(database)),
            Err(error) => {
                return Err(error).with_context(|| {
                    format!(
                        "cannot read {}'s outbox {}",
                        database.service.name, database.outbox
                    )
                });
            }
        }
    }
    if correlations.is_empty() {
        let Selector::Order(order_id) = &selector else {
            bail!("no correlation to look for");
        };
        bail!(
            "no event about order {order_id} in the outboxes of {} (published rows are kept \
             for OUTBOX_RETENTION_HOURS, 168 by default; is the order id right, and are the \
             schemas the services'?)",
            databases
                .iter()
                .map(|database| database.outbox.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let correlations: Vec<String> = correlations.into_iter().collect();
    let mut events = Vec::new();
    for (database, pool) in present {
        let table = database.outbox.qualified();
        let rows = query(
            &pool,
            &format!(
                "SELECT id, event_type, aggregate_type, aggregate_id, occurred_at, correlation_id, \
                 causation_id, status, attempts, published_at, last_error \
                 FROM {table} WHERE correlation_id = ANY($1)"
            ),
            vec![Value::from(correlations.clone())],
        )
        .await
        .with_context(|| {
            format!(
                "cannot read {}'s outbox {}",
                database.service.name, database.outbox
            )
        })?;
        for row in rows {
            events.push(
                read_event(&row, database.service.name)
                    .with_context(|| format!("unexpected row in {}", database.outbox))?,
            );
        }
    }
    pools.close().await;
    if events.is_empty() {
        bail!(
            "no event with correlation id {} in the outboxes (published rows are kept for \
             OUTBOX_RETENTION_HOURS, 168 by default)",
            correlations.join(", ")
        );
    }
    sort_in_time(&mut events);
    Ok(Story {
        selector,
        correlations,
        events,
    })
}

fn read_event(row: &QueryResult, service: &str) -> Result<SagaEvent, sea_orm::DbErr> {
    Ok(SagaEvent {
        id: row.try_get("", "id")?,
        service: service.to_owned(),
        event_type: row.try_get("", "event_type")?,
        aggregate_type: row.try_get("", "aggregate_type")?,
        aggregate_id: row.try_get("", "aggregate_id")?,
        occurred_at: row.try_get("", "occurred_at")?,
        correlation_id: row.try_get("", "correlation_id")?,
        causation_id: row.try_get("", "causation_id")?,
        status: row.try_get("", "status")?,
        attempts: row.try_get("", "attempts")?,
        published_at: row.try_get("", "published_at")?,
        last_error: row.try_get("", "last_error")?,
    })
}

/// Time order; the id (UUID v7) breaks ties in write order.
fn sort_in_time(events: &mut [SagaEvent]) {
    events.sort_by_key(|event| (event.occurred_at, event.id));
}

/// Each event's position in the causation tree: `(index, depth)` in
/// depth-first order, children in time order. Events whose cause is not in
/// the story are roots.
pub fn causation_order(events: &[SagaEvent]) -> Vec<(usize, usize)> {
    let by_id: HashMap<String, usize> = events
        .iter()
        .enumerate()
        .map(|(index, event)| (event.id.to_string(), index))
        .collect();
    let mut children: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut roots = Vec::new();
    for (index, event) in events.iter().enumerate() {
        match event
            .causation_id
            .as_ref()
            .and_then(|cause| by_id.get(cause))
            .filter(|cause| **cause != index)
        {
            Some(cause) => children.entry(*cause).or_default().push(index),
            None => roots.push(index),
        }
    }
    let mut order = Vec::with_capacity(events.len());
    let mut visited = HashSet::new();
    // Events are already in time order, so pushing children in reverse on
    // a stack visits them earliest first.
    let mut stack: Vec<(usize, usize)> = roots.iter().rev().map(|root| (*root, 0)).collect();
    while let Some((index, depth)) = stack.pop() {
        if !visited.insert(index) {
            continue;
        }
        order.push((index, depth));
        if let Some(kids) = children.get(&index) {
            stack.extend(kids.iter().rev().map(|kid| (*kid, depth + 1)));
        }
    }
    // A causation cycle (impossible by construction) would leave events
    // unvisited: show them as roots rather than hide them.
    for index in 0..events.len() {
        if !visited.contains(&index) {
            order.push((index, 0));
        }
    }
    order
}

/// The event `event` was caused by, when it is in the story.
fn cause_of<'a>(events: &'a [SagaEvent], event: &SagaEvent) -> Option<&'a SagaEvent> {
    let cause = event.causation_id.as_deref()?;
    events
        .iter()
        .find(|candidate| candidate.id.to_string() == cause)
}

fn publication(event: &SagaEvent) -> String {
    let last_error = || {
        event
            .last_error
            .as_deref()
            .map(|error| format!(": {}", format::truncate(&format::one_line(error), 80)))
            .unwrap_or_default()
    };
    match event.status.as_str() {
        "published" => match &event.published_at {
            Some(published_at) => {
                format!("after {}", format::span(&event.occurred_at, published_at))
            }
            None => "published".to_owned(),
        },
        "failed" => format!(
            "FAILED after {}{}",
            format::plural(event.attempts, "attempt"),
            last_error()
        ),
        "pending" if event.attempts > 0 => format!(
            "pending after {}{}",
            format::plural(event.attempts, "attempt"),
            last_error()
        ),
        other => other.to_owned(),
    }
}

/// The whole text `ecomctl saga` prints.
pub fn render(story: &Story) -> Vec<String> {
    let events = &story.events;
    let mut lines = Vec::new();
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return lines;
    };
    let subject = match &story.selector {
        Selector::Order(order_id) => format!("order {order_id}"),
        Selector::Correlation(correlation) => format!("correlation {correlation}"),
    };
    let label = if story.correlations.len() == 1 {
        "correlation"
    } else {
        "correlations"
    };
    match &story.selector {
        Selector::Order(_) => lines.push(format!(
            "{subject}: {label} {}",
            story.correlations.join(", ")
        )),
        Selector::Correlation(_) => lines.push(subject),
    }
    let services: BTreeSet<&str> = events.iter().map(|event| event.service.as_str()).collect();
    let mut summary = format!(
        "{} events from {} services, {} to {} ({})",
        events.len(),
        services.len(),
        format::timestamp(&first.occurred_at),
        format::timestamp(&last.occurred_at),
        format::span(&first.occurred_at, &last.occurred_at)
    );
    let pending = events
        .iter()
        .filter(|event| event.status == "pending")
        .count();
    let failed = events
        .iter()
        .filter(|event| event.status == "failed")
        .count();
    if pending > 0 {
        summary.push_str(&format!("; {pending} not published yet"));
    }
    if failed > 0 {
        summary.push_str(&format!(
            "; {failed} FAILED (ecomctl outbox retry --failed)"
        ));
    }
    lines.push(summary);

    lines.push(String::new());
    lines.push("TIMELINE".to_owned());
    let mut rows = vec![vec![
        "OFFSET".to_owned(),
        "STEP".to_owned(),
        "SERVICE".to_owned(),
        "EVENT".to_owned(),
        "AGGREGATE".to_owned(),
        "PUBLISHED".to_owned(),
    ]];
    for event in events {
        let step = cause_of(events, event).map_or_else(
            || "-".to_owned(),
            |cause| format::span(&cause.occurred_at, &event.occurred_at),
        );
        rows.push(vec![
            format::offset(&first.occurred_at, &event.occurred_at),
            step,
            event.service.clone(),
            event.event_type.clone(),
            format!("{}:{}", event.aggregate_type, event.aggregate_id),
            publication(event),
        ]);
    }
    lines.extend(
        format::table(&rows, &[0, 1])
            .into_iter()
            .map(|line| format!("  {line}")),
    );

    lines.push(String::new());
    lines.push("CAUSATION".to_owned());
    lines.extend(causation_tree(events, &first.occurred_at));
    lines
}

/// The tree, one line per event: `├─`/`└─` branches, the offset from the
/// story's start and the time since the cause.
fn causation_tree(events: &[SagaEvent], start: &DateTime<Utc>) -> Vec<String> {
    let order = causation_order(events);
    let mut lines = Vec::with_capacity(order.len());
    for (position, (index, depth)) in order.iter().enumerate() {
        let event = &events[*index];
        // Whether each ancestor level (and this one) has a later sibling,
        // looking ahead for the next entry at that depth before a shallower one.
        let has_later_sibling = |level: usize| {
            order[position + 1..]
                .iter()
                .take_while(|(_, later_depth)| *later_depth >= level)
                .any(|(_, later_depth)| *later_depth == level)
        };
        let mut prefix = String::new();
        for level in 1..*depth {
            prefix.push_str(if has_later_sibling(level) {
                "│  "
            } else {
                "   "
            });
        }
        if *depth > 0 {
            prefix.push_str(if has_later_sibling(*depth) {
                "├─ "
            } else {
                "└─ "
            });
        }
        let mut line = format!(
            "{prefix}{}  {}  {}",
            event.event_type,
            event.service,
            format::offset(start, &event.occurred_at)
        );
        match cause_of(events, event) {
            Some(cause) => line.push_str(&format!(
                "  ({} after {})",
                format::span(&cause.occurred_at, &event.occurred_at),
                cause.event_type
            )),
            None => {
                if let Some(cause) = &event.causation_id {
                    line.push_str(&format!("  (caused by {cause}, not in the outboxes)"));
                }
            }
        }
        if event.status != "published" {
            line.push_str(&format!("  [{}]", event.status.to_uppercase()));
        }
        lines.push(line);
    }
    lines
}

/// The story as JSON (`--json`): the events in causation order with their depth.
pub fn json(story: &Story) -> Json {
    let events = &story.events;
    let start = events.first().map(|event| event.occurred_at);
    let items: Vec<Json> = causation_order(events)
        .into_iter()
        .map(|(index, depth)| {
            let event = &events[index];
            let cause = cause_of(events, event);
            json!({
                "id": event.id.to_string(),
                "service": event.service,
                "type": event.event_type,
                "aggregate": {"type": event.aggregate_type, "id": event.aggregate_id},
                "occurred_at": format::timestamp(&event.occurred_at),
                "offset_ms": start.map(|start| (event.occurred_at - start).num_milliseconds()),
                "correlation_id": event.correlation_id,
                "causation_id": event.causation_id,
                "depth": depth,
                "step_ms": cause.map(|cause| (event.occurred_at - cause.occurred_at).num_milliseconds()),
                "status": event.status,
                "attempts": event.attempts,
                "published_at": event.published_at.as_ref().map(format::timestamp),
                "last_error": event.last_error,
            })
        })
        .collect();
    json!({
        "correlations": story.correlations,
        "events": items,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone as _;

    use super::*;

    fn event(
        id: u128,
        service: &str,
        event_type: &str,
        millis: i64,
        cause: Option<u128>,
        status: &str,
    ) -> SagaEvent {
        let start = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        let occurred_at = start + chrono::Duration::milliseconds(millis);
        SagaEvent {
            id: Uuid::from_u128(id),
            service: service.to_owned(),
            event_type: event_type.to_owned(),
            aggregate_type: "order".to_owned(),
            aggregate_id: "o-1".to_owned(),
            occurred_at,
            correlation_id: Some("c-1".to_owned()),
            causation_id: cause.map(|cause| Uuid::from_u128(cause).to_string()),
            status: status.to_owned(),
            attempts: if status == "failed" { 20 } else { 1 },
            published_at: (status == "published")
                .then(|| occurred_at + chrono::Duration::milliseconds(4)),
            last_error: (status == "failed").then(|| "returned: NO_ROUTE".to_owned()),
        }
    }

    fn checkout() -> Vec<SagaEvent> {
        let mut events = vec![
            event(
                1,
                "orders-svc",
                "orders.order_placed.v1",
                0,
                None,
                "published",
            ),
            event(
                2,
                "inventory-svc",
                "inventory.stock.reserved.v1",
                45,
                Some(1),
                "published",
            ),
            event(
                3,
                "payments-svc",
                "payments.payment_authorized.v1",
                75,
                Some(2),
                "published",
            ),
            event(
                4,
                "inventory-svc",
                "inventory.stock.committed.v1",
                95,
                Some(3),
                "published",
            ),
            event(
                5,
                "orders-svc",
                "orders.order_paid.v1",
                90,
                Some(3),
                "pending",
            ),
            event(
                6,
                "fulfillment-svc",
                "fulfillment.shipment.created.v1",
                130,
                Some(4),
                "failed",
            ),
        ];
        sort_in_time(&mut events);
        events
    }

    #[test]
    fn the_tree_visits_causes_before_their_effects_earliest_child_first() {
        let events = checkout();
        let order: Vec<(u128, usize)> = causation_order(&events)
            .into_iter()
            .map(|(index, depth)| (events[index].id.as_u128(), depth))
            .collect();
        assert_eq!(order, vec![(1, 0), (2, 1), (3, 2), (5, 3), (4, 3), (6, 4)]);
    }

    #[test]
    fn a_cause_outside_the_story_makes_a_root() {
        let mut events = checkout();
        events[0].causation_id = Some("request-9".to_owned());
        let order = causation_order(&events);
        assert_eq!(order.len(), events.len());
        assert_eq!(order[0], (0, 0));
    }

    #[test]
    fn the_story_renders_as_a_timeline_and_a_tree() {
        let story = Story {
            selector: Selector::Order("o-1".to_owned()),
            correlations: vec!["c-1".to_owned()],
            events: checkout(),
        };
        let text = render(&story).join("\n");
        let expected = "\
order o-1: correlation c-1
6 events from 4 services, 2026-03-01T10:00:00.000Z to 2026-03-01T10:00:00.130Z (130ms); 1 not published yet; 1 FAILED (ecomctl outbox retry --failed)

TIMELINE
   OFFSET  STEP  SERVICE          EVENT                            AGGREGATE  PUBLISHED
  +0.000s     -  orders-svc       orders.order_placed.v1           order:o-1  after 4ms
  +0.045s  45ms  inventory-svc    inventory.stock.reserved.v1      order:o-1  after 4ms
  +0.075s  30ms  payments-svc     payments.payment_authorized.v1   order:o-1  after 4ms
  +0.090s  15ms  orders-svc       orders.order_paid.v1             order:o-1  pending after 1 attempt
  +0.095s  20ms  inventory-svc    inventory.stock.committed.v1     order:o-1  after 4ms
  +0.130s  35ms  fulfillment-svc  fulfillment.shipment.created.v1  order:o-1  FAILED after 20 attempts: returned: NO_ROUTE

CAUSATION
orders.order_placed.v1  orders-svc  +0.000s
└─ inventory.stock.reserved.v1  inventory-svc  +0.045s  (45ms after orders.order_placed.v1)
   └─ payments.payment_authorized.v1  payments-svc  +0.075s  (30ms after inventory.stock.reserved.v1)
      ├─ orders.order_paid.v1  orders-svc  +0.090s  (15ms after payments.payment_authorized.v1)  [PENDING]
      └─ inventory.stock.committed.v1  inventory-svc  +0.095s  (20ms after payments.payment_authorized.v1)
         └─ fulfillment.shipment.created.v1  fulfillment-svc  +0.130s  (35ms after inventory.stock.committed.v1)  [FAILED]";
        assert_eq!(text, expected);
    }

    #[test]
    fn json_lists_the_events_in_causation_order() {
        let story = Story {
            selector: Selector::Correlation("c-1".to_owned()),
            correlations: vec!["c-1".to_owned()],
            events: checkout(),
        };
        let value = json(&story);
        let types: Vec<&str> = value["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|event| event["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "orders.order_placed.v1",
                "inventory.stock.reserved.v1",
                "payments.payment_authorized.v1",
                "orders.order_paid.v1",
                "inventory.stock.committed.v1",
                "fulfillment.shipment.created.v1"
            ]
        );
        assert_eq!(value["events"][5]["depth"], 4);
        assert_eq!(value["events"][5]["step_ms"], 35);
    }
}
