//! Typed against dynamic decoding of the checkout saga's envelopes, each on
//! one thread in a tight loop: `decode_envelope` (the generated types),
//! `SchemaCache::decode_dynamic` over a warmed cache (the registered
//! descriptors), and that plus `DynamicEvent::to_json`.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use ecommerce_events::{
    Event, EventMetadata, RegistrySchemaSource, SchemaCache, TraceContext, decode_envelope, encode,
};
use ecommerce_proto::ecommerce::fulfillment::v1::{ShipmentCreated, ShipmentLine};
use ecommerce_proto::ecommerce::inventory::v1::{StockCommitted, StockLine, StockReserved};
use ecommerce_proto::ecommerce::orders::v1::{OrderConfirmed, OrderPlaced};
use ecommerce_proto::ecommerce::payments::v1::PaymentAuthorized;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::measure::{round1, round3};
use crate::workload::order_placed;

/// Checkouts in the corpus: each gives one envelope of every saga type.
const CHECKOUTS: u64 = 32;
/// The clock is read once per this many decodes, so reading it costs
/// nothing next to a decode.
const CLOCK_EVERY: u64 = 64;

/// Encoded envelopes of the checkout saga, each stamped with its type's
/// registry id, in saga order.
#[derive(Debug)]
pub struct Corpus {
    pub bodies: Vec<Vec<u8>>,
    pub event_types: Vec<&'static str>,
}

impl Corpus {
    pub fn mean_bytes(&self) -> f64 {
        if self.bodies.is_empty() {
            return 0.0;
        }
        self.bodies.iter().map(Vec::len).sum::<usize>() as f64 / self.bodies.len() as f64
    }

    pub fn to_json(&self) -> Value {
        json!({
            "envelopes": self.bodies.len(),
            "event_types": self.event_types,
            "mean_bytes": round1(self.mean_bytes()),
        })
    }
}

/// `payload` encoded with `metadata`, stamped with its type's registry id.
fn stamped<E: Event>(
    payload: &E,
    metadata: &EventMetadata,
    ids: &HashMap<&str, i64>,
) -> anyhow::Result<Vec<u8>> {
    let id = ids
        .get(E::EVENT_TYPE)
        .copied()
        .with_context(|| format!("{} was not registered", E::EVENT_TYPE))?;
    let metadata = EventMetadata {
        schema_registry_id: Some(id),
        ..metadata.clone()
    };
    Ok(encode(payload, &metadata).body)
}

/// The metadata a service gives a saga step: caused by the step before,
/// same correlation id, a trace context of its own.
fn step_metadata(aggregate_type: &str, aggregate_id: &str, cause: &EventMetadata) -> EventMetadata {
    let trace_id = Uuid::now_v7().simple().to_string();
    let span_id = &Uuid::now_v7().simple().to_string()[16..];
    EventMetadata::new(aggregate_type, aggregate_id)
        .caused_by(cause)
        .with_trace_context(TraceContext {
            traceparent: format!("00-{trace_id}-{span_id}-01"),
            tracestate: String::new(),
        })
}

/// Six envelopes per checkout: order placed, stock reserved, payment
/// authorized, stock committed, shipment created, order confirmed, shaped
/// like the services' (two lines, money, ids, causation chain, trace).
pub fn saga_corpus(ids: &HashMap<&str, i64>) -> anyhow::Result<Corpus> {
    let mut bodies = Vec::new();
    let mut event_types = Vec::new();
    for sequence in 0..CHECKOUTS {
        let order_id = Uuid::now_v7();
        let (placed, placed_metadata) = order_placed(order_id, sequence);
        bodies.push(stamped(&placed, &placed_metadata, ids)?);

        let lines: Vec<(String, i32)> = placed
            .lines
            .iter()
            .map(|line| (line.sku.clone(), line.quantity))
            .collect();
        let stock_lines: Vec<StockLine> = lines
            .iter()
            .map(|(sku, quantity)| StockLine {
                sku: sku.clone(),
                quantity: *quantity,
            })
            .collect();
        let reservation_id = Uuid::now_v7().to_string();
        let reserved = StockReserved {
            reservation_id: reservation_id.clone(),
            order_id: placed.order_id.clone(),
            lines: stock_lines.clone(),
            expires_at: Some(prost_types::Timestamp {
                seconds: placed_metadata.occurred_at.timestamp() + 900,
                nanos: 0,
            }),
        };
        let reserved_metadata =
            step_metadata("stock_reservation", &reservation_id, &placed_metadata);
        bodies.push(stamped(&reserved, &reserved_metadata, ids)?);

        let payment_id = Uuid::now_v7().to_string();
        let authorized = PaymentAuthorized {
            payment_id: payment_id.clone(),
            order_id: placed.order_id.clone(),
            amount: placed.total.clone(),
            provider_reference: format!("pi_{}", Uuid::now_v7().simple()),
        };
        let authorized_metadata = step_metadata("payment", &payment_id, &placed_metadata);
        bodies.push(stamped(&authorized, &authorized_metadata, ids)?);

        let committed = StockCommitted {
            reservation_id: reservation_id.clone(),
            order_id: placed.order_id.clone(),
            lines: stock_lines,
        };
        let committed_metadata =
            step_metadata("stock_reservation", &reservation_id, &authorized_metadata);
        bodies.push(stamped(&committed, &committed_metadata, ids)?);

        let shipment_id = Uuid::now_v7().to_string();
        let shipment = ShipmentCreated {
            shipment_id: shipment_id.clone(),
            order_id: placed.order_id.clone(),
            lines: lines
                .iter()
                .map(|(sku, quantity)| ShipmentLine {
                    sku: sku.clone(),
                    quantity: *quantity,
                })
                .collect(),
            shipping_option_id: placed.shipping_option_id.clone(),
        };
        let shipment_metadata = step_metadata("shipment", &shipment_id, &committed_metadata);
        bodies.push(stamped(&shipment, &shipment_metadata, ids)?);

        let confirmed = OrderConfirmed {
            order_id: placed.order_id.clone(),
            user_id: placed.user_id.clone(),
        };
        let confirmed_metadata = step_metadata("order", &placed.order_id, &shipment_metadata);
        bodies.push(stamped(&confirmed, &confirmed_metadata, ids)?);

        if sequence == 0 {
            event_types = vec![
                OrderPlaced::EVENT_TYPE,
                StockReserved::EVENT_TYPE,
                PaymentAuthorized::EVENT_TYPE,
                StockCommitted::EVENT_TYPE,
                ShipmentCreated::EVENT_TYPE,
                OrderConfirmed::EVENT_TYPE,
            ];
        }
    }
    Ok(Corpus {
        bodies,
        event_types,
    })
}

/// A schema cache over the registry at `url`, holding every id of `ids`.
pub async fn warmed_cache(url: &str, ids: &[i64]) -> anyhow::Result<Arc<SchemaCache>> {
    let source = RegistrySchemaSource::connect_lazy(url)?;
    let cache = Arc::new(SchemaCache::new(Arc::new(source)));
    for id in ids {
        cache
            .schema(*id)
            .await
            .with_context(|| format!("fetching schema {id} into the cache"))?;
    }
    Ok(cache)
}

/// Checks, before anything is timed, that both paths decode every envelope
/// to the same event with the same schema id, and that it renders as JSON.
pub async fn check_agreement(corpus: &Corpus, cache: &SchemaCache) -> anyhow::Result<()> {
    for body in &corpus.bodies {
        let typed = decode_envelope(body).context("typed decode of the corpus")?;
        let dynamic = cache
            .decode_dynamic(body)
            .await
            .context("dynamic decode of the corpus")?;
        if typed.event.event_type() != dynamic.event_type
            || typed.metadata.schema_registry_id != Some(dynamic.schema_id())
            || typed.metadata != dynamic.metadata
        {
            bail!(
                "typed and dynamic decoding disagree on a {} envelope",
                dynamic.event_type
            );
        }
        dynamic
            .to_json()
            .with_context(|| format!("{} as JSON", dynamic.event_type))?;
    }
    Ok(())
}

/// Decodes per second of one tight loop.
#[derive(Clone, Copy, Debug, Default)]
pub struct Throughput {
    pub decodes: u64,
    pub seconds: f64,
}

impl Throughput {
    pub fn per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.decodes as f64 / self.seconds
        } else {
            0.0
        }
    }

    pub fn nanos_per_decode(&self) -> f64 {
        let per_second = self.per_second();
        if per_second > 0.0 {
            1e9 / per_second
        } else {
            0.0
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "decodes": self.decodes,
            "seconds": round3(self.seconds),
            "decodes_per_s": round1(self.per_second()),
            "ns_per_decode": round1(self.nanos_per_decode()),
        })
    }
}

/// Counts iterations, reading the clock every [`CLOCK_EVERY`]: the first
/// `warmup` is not counted, then `duration` is.
struct Meter {
    warm_until: Instant,
    measure_for: Duration,
    measuring_since: Option<Instant>,
    end: Option<Instant>,
    iterations: u64,
    ended_at: Option<Instant>,
}

impl Meter {
    fn new(warmup: Duration, duration: Duration) -> Self {
        Self {
            warm_until: Instant::now() + warmup,
            measure_for: duration,
            measuring_since: None,
            end: None,
            iterations: 0,
            ended_at: None,
        }
    }

    /// Whether to go on; call once per iteration.
    fn go_on(&mut self) -> bool {
        self.iterations += 1;
        if self.iterations % CLOCK_EVERY != 0 {
            return true;
        }
        let now = Instant::now();
        match self.end {
            None if now >= self.warm_until => {
                self.measuring_since = Some(now);
                self.end = Some(now + self.measure_for);
                self.iterations = 0;
                true
            }
            None => true,
            Some(end) if now >= end => {
                self.ended_at = Some(now);
                false
            }
            Some(_) => true,
        }
    }

    fn throughput(&self) -> Throughput {
        match (self.measuring_since, self.ended_at) {
            (Some(since), Some(ended)) => Throughput {
                decodes: self.iterations,
                seconds: ended.duration_since(since).as_secs_f64(),
            },
            _ => Throughput::default(),
        }
    }
}

/// What one loop decodes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    Typed,
    Dynamic,
    DynamicJson,
}

impl Path {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Typed => "typed decode_envelope",
            Self::Dynamic => "dynamic decode_dynamic",
            Self::DynamicJson => "dynamic + to_json",
        }
    }
}

/// Decodes the corpus round and round on one blocking thread for `warmup`
/// then `duration`; the results go through `black_box`, so nothing is
/// optimised away.
pub async fn measure(
    path: Path,
    corpus: Arc<Corpus>,
    cache: Arc<SchemaCache>,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Throughput> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        handle.block_on(async move {
            let bodies = &corpus.bodies;
            if bodies.is_empty() {
                bail!("the corpus is empty");
            }
            let mut meter = Meter::new(warmup, duration);
            let mut index = 0_usize;
            while meter.go_on() {
                let body = black_box(bodies[index].as_slice());
                index = (index + 1) % bodies.len();
                match path {
                    Path::Typed => {
                        black_box(decode_envelope(body)?);
                    }
                    Path::Dynamic => {
                        black_box(cache.decode_dynamic(body).await?);
                    }
                    Path::DynamicJson => {
                        let event = cache.decode_dynamic(body).await?;
                        black_box(event.to_json()?);
                    }
                }
            }
            Ok(meter.throughput())
        })
    })
    .await?
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ids() -> HashMap<&'static str, i64> {
        ecommerce_events::EVENT_TYPES
            .iter()
            .zip(1_i64..)
            .map(|(info, id)| (info.event_type, id))
            .collect()
    }

    #[test]
    fn the_corpus_holds_the_saga_in_order_stamped_with_ids() {
        let ids = ids();
        let corpus = saga_corpus(&ids).unwrap();
        assert_eq!(corpus.event_types.len(), 6);
        assert_eq!(corpus.bodies.len(), 6 * CHECKOUTS as usize);
        for (index, body) in corpus.bodies.iter().enumerate() {
            let decoded = decode_envelope(body).unwrap();
            let event_type = corpus.event_types[index % 6];
            assert_eq!(decoded.event.event_type(), event_type);
            assert_eq!(decoded.metadata.schema_registry_id, Some(ids[event_type]));
        }
        assert!(corpus.mean_bytes() > 100.0);
    }

    #[test]
    fn an_unregistered_type_is_an_error() {
        let mut ids = ids();
        ids.remove("orders.order_confirmed.v1");
        assert!(saga_corpus(&ids).is_err());
    }

    #[test]
    fn the_meter_counts_only_after_the_warmup() {
        let mut meter = Meter::new(Duration::from_millis(5), Duration::from_millis(20));
        let started = Instant::now();
        while meter.go_on() {}
        let throughput = meter.throughput();
        assert!(started.elapsed() >= Duration::from_millis(25));
        assert!(throughput.seconds >= 0.02);
        assert!(throughput.decodes > 0);
        assert!(throughput.per_second() > 0.0);
    }
}
