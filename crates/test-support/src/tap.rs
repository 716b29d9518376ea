//! An event tap: a queue of a private topology bound with `#` to some
//! exchanges, read with `basic.get` and decoded with the generated codec,
//! so a test sees every event the services under test publish.

use std::time::Duration;

use ecommerce_broker::lapin::message::BasicGetMessage;
use ecommerce_broker::properties::from_basic_properties;
use ecommerce_broker::topology::{BindingDeclaration, QueueDeclaration, Topology, TopologyNames};
use ecommerce_broker::{ConsumerQueue, EventsExchange};
use ecommerce_events::{DecodedEvent, EVENT_TYPES, ReceivedEvent};

use crate::rabbitmq::Admin;

/// Adds the queue `name` to `topology`, bound with `#` to each of `tapped`.
pub fn declare_tap(
    topology: &mut Topology,
    names: &TopologyNames,
    name: &str,
    tapped: &[EventsExchange],
) {
    topology.queues.push(QueueDeclaration::quorum(name));
    for exchange in tapped {
        topology.bindings.push(BindingDeclaration {
            exchange: names.exchange(*exchange).to_owned(),
            queue: name.to_owned(),
            routing_key: "#".to_owned(),
        });
    }
}

/// Reads the tap queue `queue` through `admin`.
#[derive(Clone, Copy)]
pub struct EventTap<'a> {
    pub admin: &'a Admin,
    pub queue: &'a str,
}

impl EventTap<'_> {
    /// The next event off the tap, decoded with the generated codec, within
    /// `timeout`; `None` when none came.
    pub async fn next_event(&self, timeout: Duration) -> Option<ReceivedEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(message) = self.admin.get(self.queue).await {
                return Some(decode(&message));
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Events off the tap until one of `event_type` comes (returned) or
    /// `timeout` passes (panics, naming what did come).
    pub async fn expect_event(&self, event_type: &str, timeout: Duration) -> ReceivedEvent {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        while let Some(event) = self
            .next_event(deadline.saturating_duration_since(tokio::time::Instant::now()))
            .await
        {
            if event.event.event_type() == event_type {
                return event;
            }
            seen.push(event.event.event_type().to_owned());
        }
        panic!("no {event_type} within {timeout:?}; saw {seen:?}");
    }

    /// Waits `quiet` and asserts no event of `event_type` arrived meanwhile
    /// (events of other types are consumed and ignored).
    pub async fn expect_no_event(&self, event_type: &str, quiet: Duration) {
        while let Some(event) = self.next_event(quiet).await {
            assert_ne!(
                event.event.event_type(),
                event_type,
                "unexpected {event_type}: {:?}",
                event.metadata
            );
        }
    }

    /// Every event until the tap stays empty for `quiet`.
    pub async fn drain(&self, quiet: Duration) -> Vec<ReceivedEvent> {
        let mut events = Vec::new();
        while let Some(event) = self.next_event(quiet).await {
            events.push(event);
        }
        events
    }
}

/// Decodes a tapped message as a consumer would (properties checked against
/// the envelope); the AMQP correlation id must match the envelope's.
#[allow(clippy::panic)]
fn decode(message: &BasicGetMessage) -> ReceivedEvent {
    let properties = from_basic_properties(&message.delivery.properties);
    let received = ecommerce_events::decode(&properties, &message.delivery.data)
        .unwrap_or_else(|error| panic!("a tapped message does not decode: {error}"));
    assert_eq!(
        properties.correlation_id, received.metadata.correlation_id,
        "AMQP correlation_id and envelope disagree"
    );
    let header_schema_id = properties
        .headers
        .get(ecommerce_events::headers::SCHEMA_ID)
        .map(|id| id.parse::<i64>().ok());
    assert_eq!(
        header_schema_id,
        received.metadata.schema_registry_id.map(Some),
        "x-schema-id header and envelope registry id disagree"
    );
    received
}

/// Checks that a consumer acts on exactly the event types `queue` is bound
/// to: `acts_on` is the consumer's own classification (e.g. orders'
/// `saga_input(event).is_some()`), asked for every event type published to
/// the queue's exchange, each with an empty payload. A binding to a type the
/// consumer ignores costs a delivery and a transaction for nothing; a type it
/// acts on but is not bound to would never reach it.
pub fn assert_binds_exactly_what_it_handles(
    queue: ConsumerQueue,
    acts_on: impl Fn(DecodedEvent) -> bool,
) {
    let names = TopologyNames::default();
    let source = names.exchange(queue.source());
    let mut handled: Vec<&str> = EVENT_TYPES
        .iter()
        .map(|info| info.event_type)
        .filter(|event_type| names.exchange_for(event_type) == Some(source))
        .filter(|event_type| {
            let event = DecodedEvent::decode_payload(event_type, &[])
                .and_then(Result::ok)
                .unwrap_or_else(|| panic!("{event_type} decodes from an empty payload"));
            acts_on(event)
        })
        .collect();
    handled.sort_unstable();
    let mut bound: Vec<&str> = queue.binding_keys().to_vec();
    bound.sort_unstable();
    assert_eq!(
        handled,
        bound,
        "{} should be bound to exactly the types its consumer acts on",
        queue.default_name()
    );
}
