//! The whole system's RabbitMQ topology as data, declared idempotently.
//!
//! [`Topology::system`] builds every exchange, queue and binding from
//! [`TopologyNames`]; [`declare`] applies it on a channel (every service does
//! so on every (re)connect, before it publishes), [`delete`] removes it (tests).
//!
//! Shape:
//! - one durable topic exchange per publishing context ([`EventsExchange`]),
//!   each with an `alternate-exchange` pointing at the fanout `unrouted`
//!   exchange, bound to the durable `unrouted` queue, so a message nobody binds
//!   is kept instead of silently dropped;
//! - one durable quorum queue per consumer ([`ConsumerQueue`]) with
//!   `x-delivery-limit` and dead-lettering to the direct `dead-letter`
//!   exchange under its own `<queue>.dlq` routing key;
//! - one durable quorum DLQ `<queue>.dlq` per consumer queue, bound to
//!   `dead-letter` with that key;
//! - one durable stream, `iam.revocations`, bound to exactly the IAM events
//!   that end access (sign-out, roles replaced, account locked): every
//!   instance of every service reads it from the start of its retention, so
//!   a restarted process still knows what was revoked while it was down;
//! - one durable stream, `reporting.event-stream`, bound to exactly the catalog,
//!   orders, payments and inventory events reporting-svc builds its read
//!   model from ([`REPORTING_EVENT_TYPES`]): a log it can replay from the
//!   first offset to rebuild that model.

use std::collections::HashSet;
use std::fmt;

use ecommerce_events::Event as _;
use ecommerce_platform::settings::{EnvSource, SettingsError};
use ecommerce_proto::ecommerce::iam::v1::{AccountLocked, UserAccessSynchronized, UserSignedOut};
use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};
use tracing::{debug, instrument};

/// Default `x-delivery-limit` of every consumer queue: after this many
/// returns the broker itself dead-letters a message, a backstop behind the
/// consumer's own (smaller) retry budget.
pub const DEFAULT_DELIVERY_LIMIT: u32 = 10;

/// Suffix of every dead-letter queue: `inventory.order-events.dlq`.
pub const DEAD_LETTER_QUEUE_SUFFIX: &str = ".dlq";

/// `x-max-length` of the `unrouted` queue (overflow drops the oldest).
pub const UNROUTED_MAX_LENGTH: u32 = 100_000;

/// Variable naming the alternate exchange that catches unroutable messages.
pub const UNROUTED_EXCHANGE_VAR: &str = "UNROUTED_EXCHANGE";
/// Variable naming the queue bound to the alternate exchange.
pub const UNROUTED_QUEUE_VAR: &str = "UNROUTED_QUEUE";
/// Variable naming the direct exchange every DLQ is bound to.
pub const DEAD_LETTER_EXCHANGE_VAR: &str = "DEAD_LETTER_EXCHANGE";
/// Variable naming the stream of revocation events (see [`REVOCATION_EVENT_TYPES`]).
pub const REVOCATIONS_STREAM_VAR: &str = "AUTH_REVOCATIONS_STREAM";
/// How long the revocations stream keeps a message (`x-max-age`): longer
/// than any access token lives, so replaying it covers every live token.
/// Part of the stream's declaration, so every service must agree on it.
pub const REVOCATIONS_STREAM_MAX_AGE: &str = "1h";
/// The IAM events that end access granted before them, bound one by one to
/// the revocations stream: `(exchange, event type)`.
pub const REVOCATION_EVENT_TYPES: [(EventsExchange, &str); 3] = [
    (EventsExchange::Iam, UserSignedOut::EVENT_TYPE),
    (EventsExchange::Iam, UserAccessSynchronized::EVENT_TYPE),
    (EventsExchange::IamSecurity, AccountLocked::EVENT_TYPE),
];
/// Variable naming reporting-svc's stream (see [`REPORTING_EVENT_TYPES`]).
pub const REPORTING_STREAM_VAR: &str = "REPORTING_EVENTS_STREAM";
/// How long the reporting stream keeps a message (`x-max-age`): what a
/// rebuild of the reports can replay. Part of the stream's declaration;
/// change a running broker's with a policy (see the README).
pub const REPORTING_STREAM_MAX_AGE: &str = "90D";
/// The most the reporting stream keeps (`x-max-length-bytes`), whichever
/// of age and size is reached first: 20 GiB.
pub const REPORTING_STREAM_MAX_BYTES: u64 = 20 * 1024 * 1024 * 1024;
/// Segment size of the reporting stream: retention drops whole segments.
pub const REPORTING_STREAM_SEGMENT_BYTES: u64 = 100 * 1024 * 1024;
/// The events reporting-svc reads, bound one by one to its stream.
pub const REPORTING_EVENT_TYPES: [(EventsExchange, &str); 18] = [
    (EventsExchange::Catalog, "catalog.product.created.v1"),
    (EventsExchange::Catalog, "catalog.product.updated.v1"),
    (EventsExchange::Catalog, "catalog.variant.created.v1"),
    (EventsExchange::Catalog, "catalog.variant.discontinued.v1"),
    (EventsExchange::Orders, "orders.order_placed.v1"),
    (EventsExchange::Orders, "orders.order_confirmed.v1"),
    (EventsExchange::Orders, "orders.order_rejected.v1"),
    (EventsExchange::Orders, "orders.order_canceled.v1"),
    (EventsExchange::Orders, "payments.payment_authorized.v1"),
    (EventsExchange::Orders, "payments.payment_failed.v1"),
    (EventsExchange::Orders, "payments.payment_captured.v1"),
    (
        EventsExchange::Inventory,
        "inventory.stock.adjustment_applied.v1",
    ),
    (EventsExchange::Inventory, "inventory.stock.reserved.v1"),
    (
        EventsExchange::Inventory,
        "inventory.stock.reservation_failed.v1",
    ),
    (EventsExchange::Inventory, "inventory.stock.committed.v1"),
    (
        EventsExchange::Inventory,
        "inventory.stock.reservation_released.v1",
    ),
    (
        EventsExchange::Inventory,
        "inventory.stock.reservation_expired.v1",
    ),
    (EventsExchange::Inventory, "inventory.stock.restocked.v1"),
];
/// Variable holding a prefix put in front of every name (after the per-name
/// variables are read), so a whole stack of processes can own a private copy
/// of the topology on a shared broker: end-to-end tests and benchmarks.
pub const TOPOLOGY_PREFIX_VAR: &str = "AMQP_TOPOLOGY_PREFIX";

const DEFAULT_UNROUTED_EXCHANGE: &str = "unrouted";
const DEFAULT_UNROUTED_QUEUE: &str = "unrouted";
const DEFAULT_DEAD_LETTER_EXCHANGE: &str = "dead-letter";
const DEFAULT_REVOCATIONS_STREAM: &str = "iam.revocations";
const DEFAULT_REPORTING_STREAM: &str = "reporting.event-stream";

/// An exchange a bounded context publishes its events to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventsExchange {
    Catalog,
    Iam,
    IamSecurity,
    Inventory,
    /// Orders' and payments' events share it, as in the system this replaces.
    Orders,
    Fulfillment,
}

impl EventsExchange {
    pub const ALL: [Self; 6] = [
        Self::Catalog,
        Self::Iam,
        Self::IamSecurity,
        Self::Inventory,
        Self::Orders,
        Self::Fulfillment,
    ];

    /// The variable that overrides the exchange name.
    pub const fn env_var(self) -> &'static str {
        match self {
            Self::Catalog => "CATALOG_EVENTS_EXCHANGE",
            Self::Iam => "IAM_EVENTS_EXCHANGE",
            Self::IamSecurity => "IAM_SECURITY_EVENTS_EXCHANGE",
            Self::Inventory => "INVENTORY_EVENTS_EXCHANGE",
            Self::Orders => "ORDER_EVENTS_EXCHANGE",
            Self::Fulfillment => "FULFILLMENT_EVENTS_EXCHANGE",
        }
    }

    /// The historic name, used when the variable is unset.
    pub const fn default_name(self) -> &'static str {
        match self {
            Self::Catalog => "catalog.events",
            Self::Iam => "iam.events",
            Self::IamSecurity => "iam.security-events",
            Self::Inventory => "inventory.events",
            Self::Orders => "orders.events",
            Self::Fulfillment => "fulfillment.events",
        }
    }

    /// The exchange an event type is published to: its first segment names
    /// the context, except that `payments.*` shares the orders exchange and
    /// `iam.security.*` has its own. `None` for a context that publishes nothing.
    pub fn for_event_type(event_type: &str) -> Option<Self> {
        if event_type.starts_with("iam.security.") {
            return Some(Self::IamSecurity);
        }
        let context = event_type.split('.').next()?;
        match context {
            "catalog" => Some(Self::Catalog),
            "iam" => Some(Self::Iam),
            "inventory" => Some(Self::Inventory),
            "orders" | "payments" => Some(Self::Orders),
            "fulfillment" => Some(Self::Fulfillment),
            _ => None,
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// A consumer's queue, from DESIGN's topology table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConsumerQueue {
    InventoryOrderEvents,
    InventoryCatalogEvents,
    OrdersInventoryEvents,
    OrdersPaymentEvents,
    OrdersFulfillmentEvents,
    PaymentsOrderEvents,
    PaymentsInventoryEvents,
    PaymentsFulfillmentEvents,
    FulfillmentInventoryEvents,
    FulfillmentOrderEvents,
    CartCatalogEvents,
    NotificationsIamEvents,
    NotificationsOrderEvents,
    NotificationsFulfillmentEvents,
}

impl ConsumerQueue {
    pub const ALL: [Self; 14] = [
        Self::InventoryOrderEvents,
        Self::InventoryCatalogEvents,
        Self::OrdersInventoryEvents,
        Self::OrdersPaymentEvents,
        Self::OrdersFulfillmentEvents,
        Self::PaymentsOrderEvents,
        Self::PaymentsInventoryEvents,
        Self::PaymentsFulfillmentEvents,
        Self::FulfillmentInventoryEvents,
        Self::FulfillmentOrderEvents,
        Self::CartCatalogEvents,
        Self::NotificationsIamEvents,
        Self::NotificationsOrderEvents,
        Self::NotificationsFulfillmentEvents,
    ];

    /// The variable that overrides the queue name: `<CONSUMER>_<SOURCE>_EVENTS_QUEUE`.
    pub const fn env_var(self) -> &'static str {
        match self {
            Self::InventoryOrderEvents => "INVENTORY_ORDER_EVENTS_QUEUE",
            Self::InventoryCatalogEvents => "INVENTORY_CATALOG_EVENTS_QUEUE",
            Self::OrdersInventoryEvents => "ORDERS_INVENTORY_EVENTS_QUEUE",
            Self::OrdersPaymentEvents => "ORDERS_PAYMENT_EVENTS_QUEUE",
            Self::OrdersFulfillmentEvents => "ORDERS_FULFILLMENT_EVENTS_QUEUE",
            Self::PaymentsOrderEvents => "PAYMENTS_ORDER_EVENTS_QUEUE",
            Self::PaymentsInventoryEvents => "PAYMENTS_INVENTORY_EVENTS_QUEUE",
            Self::PaymentsFulfillmentEvents => "PAYMENTS_FULFILLMENT_EVENTS_QUEUE",
            Self::FulfillmentInventoryEvents => "FULFILLMENT_INVENTORY_EVENTS_QUEUE",
            Self::FulfillmentOrderEvents => "FULFILLMENT_ORDER_EVENTS_QUEUE",
            Self::CartCatalogEvents => "CART_CATALOG_EVENTS_QUEUE",
            Self::NotificationsIamEvents => "NOTIFICATIONS_IAM_EVENTS_QUEUE",
            Self::NotificationsOrderEvents => "NOTIFICATIONS_ORDER_EVENTS_QUEUE",
            Self::NotificationsFulfillmentEvents => "NOTIFICATIONS_FULFILLMENT_EVENTS_QUEUE",
        }
    }

    /// The historic name, used when the variable is unset.
    pub const fn default_name(self) -> &'static str {
        match self {
            Self::InventoryOrderEvents => "inventory.order-events",
            Self::InventoryCatalogEvents => "inventory.catalog-events",
            Self::OrdersInventoryEvents => "orders.inventory-events",
            Self::OrdersPaymentEvents => "orders.payment-events",
            Self::OrdersFulfillmentEvents => "orders.fulfillment-events",
            Self::PaymentsOrderEvents => "payments.order-events",
            Self::PaymentsInventoryEvents => "payments.inventory-events",
            Self::PaymentsFulfillmentEvents => "payments.fulfillment-events",
            Self::FulfillmentInventoryEvents => "fulfillment.inventory-events",
            Self::FulfillmentOrderEvents => "fulfillment.order-events",
            Self::CartCatalogEvents => "cart.catalog-events",
            Self::NotificationsIamEvents => "notifications.iam-events",
            Self::NotificationsOrderEvents => "notifications.order-events",
            Self::NotificationsFulfillmentEvents => "notifications.fulfillment-events",
        }
    }

    /// The exchange the queue is bound to.
    pub const fn source(self) -> EventsExchange {
        match self {
            Self::InventoryOrderEvents
            | Self::OrdersPaymentEvents
            | Self::PaymentsOrderEvents
            | Self::FulfillmentOrderEvents
            | Self::NotificationsOrderEvents => EventsExchange::Orders,
            Self::InventoryCatalogEvents | Self::CartCatalogEvents => EventsExchange::Catalog,
            Self::OrdersInventoryEvents
            | Self::PaymentsInventoryEvents
            | Self::FulfillmentInventoryEvents => EventsExchange::Inventory,
            Self::OrdersFulfillmentEvents
            | Self::PaymentsFulfillmentEvents
            | Self::NotificationsFulfillmentEvents => EventsExchange::Fulfillment,
            Self::NotificationsIamEvents => EventsExchange::Iam,
        }
    }

    /// The binding keys on [`Self::source`]: exactly the event types the
    /// consumer acts on (DESIGN's topology table). Every delivery costs a
    /// quorum-queue write, a consumer transaction and an inbox row, so an
    /// event delivered only to be ignored is pure waste; each service tests
    /// that its handler acts on exactly these.
    pub const fn binding_keys(self) -> &'static [&'static str] {
        match self {
            Self::InventoryOrderEvents => &[
                "orders.order_placed.v1",
                "orders.order_canceled.v1",
                "payments.payment_authorized.v1",
                "payments.payment_failed.v1",
            ],
            Self::InventoryCatalogEvents => &[
                "catalog.variant.created.v1",
                "catalog.variant.discontinued.v1",
            ],
            Self::OrdersInventoryEvents => &[
                "inventory.stock.reserved.v1",
                "inventory.stock.reservation_failed.v1",
                "inventory.stock.committed.v1",
                "inventory.stock.reservation_released.v1",
                "inventory.stock.reservation_expired.v1",
            ],
            Self::PaymentsInventoryEvents => &[
                "inventory.stock.reserved.v1",
                "inventory.stock.reservation_failed.v1",
                "inventory.stock.reservation_released.v1",
                "inventory.stock.reservation_expired.v1",
            ],
            Self::OrdersPaymentEvents => &[
                "payments.payment_authorized.v1",
                "payments.payment_failed.v1",
            ],
            Self::OrdersFulfillmentEvents => &[
                "fulfillment.shipment.shipped.v1",
                "fulfillment.shipment.delivered.v1",
            ],
            Self::PaymentsOrderEvents => &["orders.order_placed.v1", "orders.order_canceled.v1"],
            Self::PaymentsFulfillmentEvents => &["fulfillment.shipment.shipped.v1"],
            Self::FulfillmentInventoryEvents => &["inventory.stock.committed.v1"],
            Self::FulfillmentOrderEvents => &["orders.order_placed.v1", "orders.order_canceled.v1"],
            Self::CartCatalogEvents => &[
                "catalog.product.archived.v1",
                "catalog.variant.discontinued.v1",
            ],
            Self::NotificationsIamEvents => &[
                "iam.user.registered.v1",
                "iam.user.profile_updated.v1",
                "iam.user.email_verified.v1",
            ],
            Self::NotificationsOrderEvents => &[
                "orders.order_placed.v1",
                "orders.order_confirmed.v1",
                "orders.order_rejected.v1",
                "orders.order_canceled.v1",
            ],
            Self::NotificationsFulfillmentEvents => &[
                "fulfillment.shipment.shipped.v1",
                "fulfillment.shipment.delivered.v1",
            ],
        }
    }

    /// The broad patterns the queue was bound with before the bindings
    /// became exact: [`declare`] removes them from an existing broker.
    pub const fn obsolete_binding_keys(self) -> &'static [&'static str] {
        match self {
            Self::InventoryOrderEvents => &["orders.#", "payments.#"],
            Self::InventoryCatalogEvents => &["catalog.variant.#"],
            Self::OrdersInventoryEvents | Self::PaymentsInventoryEvents => &["inventory.stock.#"],
            Self::OrdersPaymentEvents => &["payments.#"],
            Self::OrdersFulfillmentEvents => &["fulfillment.shipment.#"],
            Self::PaymentsOrderEvents => &["orders.#"],
            Self::CartCatalogEvents => &["catalog.#"],
            Self::PaymentsFulfillmentEvents
            | Self::FulfillmentInventoryEvents
            | Self::FulfillmentOrderEvents
            | Self::NotificationsIamEvents
            | Self::NotificationsOrderEvents
            | Self::NotificationsFulfillmentEvents => &[],
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// Every exchange and queue name of the system, each overridable by its
/// variable. Dead-letter queue names are derived: `<queue>.dlq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopologyNames {
    exchanges: [String; EventsExchange::ALL.len()],
    queues: [String; ConsumerQueue::ALL.len()],
    unrouted_exchange: String,
    unrouted_queue: String,
    dead_letter_exchange: String,
    revocations_stream: String,
    reporting_stream: String,
}

impl Default for TopologyNames {
    fn default() -> Self {
        Self {
            exchanges: EventsExchange::ALL.map(|exchange| exchange.default_name().to_owned()),
            queues: ConsumerQueue::ALL.map(|queue| queue.default_name().to_owned()),
            unrouted_exchange: DEFAULT_UNROUTED_EXCHANGE.to_owned(),
            unrouted_queue: DEFAULT_UNROUTED_QUEUE.to_owned(),
            dead_letter_exchange: DEFAULT_DEAD_LETTER_EXCHANGE.to_owned(),
            revocations_stream: DEFAULT_REVOCATIONS_STREAM.to_owned(),
            reporting_stream: DEFAULT_REPORTING_STREAM.to_owned(),
        }
    }
}

impl TopologyNames {
    /// Reads every name from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_source(&EnvSource::process())
    }

    /// Reads every name from `source`; unset names keep their historic default.
    pub fn from_source(source: &EnvSource) -> Result<Self, SettingsError> {
        let defaults = Self::default();
        let mut names = defaults.clone();
        for exchange in EventsExchange::ALL {
            names.exchanges[exchange.index()] =
                name_or_default(source, exchange.env_var(), exchange.default_name())?;
        }
        for queue in ConsumerQueue::ALL {
            names.queues[queue.index()] =
                name_or_default(source, queue.env_var(), queue.default_name())?;
        }
        names.unrouted_exchange =
            name_or_default(source, UNROUTED_EXCHANGE_VAR, &defaults.unrouted_exchange)?;
        names.unrouted_queue =
            name_or_default(source, UNROUTED_QUEUE_VAR, &defaults.unrouted_queue)?;
        names.dead_letter_exchange = name_or_default(
            source,
            DEAD_LETTER_EXCHANGE_VAR,
            &defaults.dead_letter_exchange,
        )?;
        names.revocations_stream =
            name_or_default(source, REVOCATIONS_STREAM_VAR, &defaults.revocations_stream)?;
        names.reporting_stream =
            name_or_default(source, REPORTING_STREAM_VAR, &defaults.reporting_stream)?;
        match source.string(TOPOLOGY_PREFIX_VAR)? {
            Some(prefix) if !prefix.trim().is_empty() => {
                let prefix = prefix.trim();
                // The prefix ends up in queue names and routing keys (the DLQs'),
                // where `#`/`*` or spaces would change what a binding matches.
                if prefix.len() > 64
                    || !prefix
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                {
                    return Err(SettingsError::Invalid {
                        variable: TOPOLOGY_PREFIX_VAR.to_owned(),
                        value: prefix.to_owned(),
                        reason: "at most 64 ASCII letters, digits, '.', '-' or '_'".to_owned(),
                    });
                }
                Ok(names.with_prefix(prefix))
            }
            _ => Ok(names),
        }
    }

    /// The same names with `prefix` in front of every one of them (exchanges,
    /// queues, `unrouted`, `dead-letter`), so a test owns a private copy of the
    /// topology on a shared broker.
    pub fn with_prefix(&self, prefix: &str) -> Self {
        let prefixed = |name: &String| format!("{prefix}{name}");
        Self {
            exchanges: self.exchanges.each_ref().map(prefixed),
            queues: self.queues.each_ref().map(prefixed),
            unrouted_exchange: prefixed(&self.unrouted_exchange),
            unrouted_queue: prefixed(&self.unrouted_queue),
            dead_letter_exchange: prefixed(&self.dead_letter_exchange),
            revocations_stream: prefixed(&self.revocations_stream),
            reporting_stream: prefixed(&self.reporting_stream),
        }
    }

    pub fn exchange(&self, exchange: EventsExchange) -> &str {
        &self.exchanges[exchange.index()]
    }

    pub fn queue(&self, queue: ConsumerQueue) -> &str {
        &self.queues[queue.index()]
    }

    /// `<queue>.dlq`, which is both the DLQ's name and its routing key on
    /// the dead-letter exchange.
    pub fn dead_letter_queue(&self, queue: ConsumerQueue) -> String {
        dead_letter_queue_name(self.queue(queue))
    }

    /// The exchange `event_type` is published to (see
    /// [`EventsExchange::for_event_type`]); `None` for an unknown context.
    pub fn exchange_for(&self, event_type: &str) -> Option<&str> {
        EventsExchange::for_event_type(event_type).map(|exchange| self.exchange(exchange))
    }

    pub fn unrouted_exchange(&self) -> &str {
        &self.unrouted_exchange
    }

    pub fn unrouted_queue(&self) -> &str {
        &self.unrouted_queue
    }

    pub fn dead_letter_exchange(&self) -> &str {
        &self.dead_letter_exchange
    }

    pub fn revocations_stream(&self) -> &str {
        &self.revocations_stream
    }

    pub fn reporting_stream(&self) -> &str {
        &self.reporting_stream
    }
}

/// `<queue>.dlq`.
pub fn dead_letter_queue_name(queue: &str) -> String {
    format!("{queue}{DEAD_LETTER_QUEUE_SUFFIX}")
}

/// `<queue>.retry`: the direct exchange of a consumer queue's delayed
/// retries. Only the queue's own consumer declares it and may write to it,
/// which is why a delivery that came through it is trusted to carry its
/// original exchange and user in headers.
pub fn retry_exchange_name(queue: &str) -> String {
    format!("{queue}.retry")
}

/// `<queue>.retry.wait`: where a message waits out its retry delay (its
/// per-message TTL) before the broker dead-letters it back to `<queue>`.
pub fn retry_wait_queue_name(queue: &str) -> String {
    format!("{queue}.retry.wait")
}

/// The delayed-retry paths of every consumer queue under `names`: what a
/// test or bench cleanup deletes besides [`Topology::system`] (the consumers
/// declared them; see [`retry_path`]).
pub fn retry_paths(names: &TopologyNames) -> Topology {
    let mut paths = Topology::default();
    for queue in ConsumerQueue::ALL {
        paths.extend(retry_path(names.queue(queue)));
    }
    paths
}

/// The routing key that parks a message in the wait queue.
pub const RETRY_WAIT_ROUTING_KEY: &str = "wait";

/// The delayed-retry path of one consumer queue, declared by its consumer
/// when it starts (not by every service with the rest of the topology:
/// declaring a dead-lettering queue needs write permission on its
/// dead-letter exchange, and only the consumer may write to this one).
///
/// ```text
/// consumer ─ publish "wait", expiration = delay ─▶ <queue>.retry ─▶ <queue>.retry.wait
///                                                      │               │ expires
///                      <queue> ◀─ routing key <queue> ─┘◀── dead-lettered ┘
/// ```
pub fn retry_path(queue: &str) -> Topology {
    let exchange = retry_exchange_name(queue);
    let wait_queue = retry_wait_queue_name(queue);
    let mut wait = QueueDeclaration::quorum(&wait_queue);
    wait.dead_letter = Some(DeadLetterRoute {
        exchange: exchange.clone(),
        routing_key: queue.to_owned(),
    });
    Topology {
        exchanges: vec![ExchangeDeclaration {
            name: exchange.clone(),
            exchange_type: ExchangeType::Direct,
            alternate_exchange: None,
        }],
        queues: vec![wait],
        bindings: vec![
            BindingDeclaration {
                exchange: exchange.clone(),
                queue: wait_queue,
                routing_key: RETRY_WAIT_ROUTING_KEY.to_owned(),
            },
            BindingDeclaration {
                exchange,
                queue: queue.to_owned(),
                routing_key: queue.to_owned(),
            },
        ],
        obsolete_bindings: Vec::new(),
    }
}

fn name_or_default(
    source: &EnvSource,
    variable: &str,
    default: &str,
) -> Result<String, SettingsError> {
    let Some(name) = source.string(variable)? else {
        return Ok(default.to_owned());
    };
    let name = name.trim().to_owned();
    // AMQP names are short strings: longer ones would be refused by the broker
    // on the first declaration, far from the variable that caused it.
    if name.len() > 255 {
        return Err(SettingsError::Invalid {
            variable: variable.to_owned(),
            value: name,
            reason: "AMQP exchange and queue names are at most 255 bytes".to_owned(),
        });
    }
    Ok(name)
}

/// The kind of an exchange in the topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExchangeType {
    Topic,
    Fanout,
    Direct,
}

impl ExchangeType {
    fn lapin_kind(self) -> ExchangeKind {
        match self {
            Self::Topic => ExchangeKind::Topic,
            Self::Fanout => ExchangeKind::Fanout,
            Self::Direct => ExchangeKind::Direct,
        }
    }
}

/// One durable exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExchangeDeclaration {
    pub name: String,
    pub exchange_type: ExchangeType,
    /// `alternate-exchange`: where the broker sends what no binding matches.
    pub alternate_exchange: Option<String>,
}

impl ExchangeDeclaration {
    /// The declaration arguments, exactly as sent to the broker.
    pub fn arguments(&self) -> FieldTable {
        let mut arguments = FieldTable::default();
        if let Some(alternate_exchange) = &self.alternate_exchange {
            arguments.insert(
                "alternate-exchange".into(),
                AMQPValue::LongString(LongString::from(alternate_exchange.as_str())),
            );
        }
        arguments
    }
}

/// Where a queue dead-letters to (`x-dead-letter-exchange` and `-routing-key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetterRoute {
    pub exchange: String,
    pub routing_key: String,
}

/// What kind of durable queue a declaration makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueKind {
    /// A quorum queue: each message goes to one consumer and is gone once acked.
    Quorum,
    /// A stream: an append-only log every consumer reads in full, from an
    /// offset of its choice; messages expire after `max_age` (`x-max-age`, e.g. `1h`)
    /// or once the stream holds more than `max_bytes` (`x-max-length-bytes`),
    /// a segment (`x-stream-max-segment-size-bytes`) at a time.
    Stream {
        max_age: String,
        max_bytes: Option<u64>,
        segment_bytes: Option<u64>,
    },
}

/// One durable queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueDeclaration {
    pub name: String,
    pub kind: QueueKind,
    /// `x-delivery-limit`: returns after which the broker dead-letters a message.
    pub delivery_limit: Option<u32>,
    pub dead_letter: Option<DeadLetterRoute>,
    /// `x-max-length`, with `x-overflow: drop-head`.
    pub max_length: Option<u32>,
    /// When the queue already exists with other arguments (created before
    /// an argument was added), use it as it is and warn, instead of
    /// refusing to start: see [`queues_to_keep`].
    pub keep_existing: bool,
}

impl QueueDeclaration {
    /// A quorum queue without delivery limit or dead-lettering (DLQs, taps).
    pub fn quorum(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind: QueueKind::Quorum,
            delivery_limit: None,
            dead_letter: None,
            max_length: None,
            keep_existing: false,
        }
    }

    /// A stream keeping messages for `max_age`.
    pub fn stream(name: impl Into<String>, max_age: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind: QueueKind::Stream {
                max_age: max_age.into(),
                max_bytes: None,
                segment_bytes: None,
            },
            delivery_limit: None,
            dead_letter: None,
            max_length: None,
            keep_existing: false,
        }
    }

    /// The declaration arguments, exactly as sent to the broker.
    pub fn arguments(&self) -> FieldTable {
        let mut arguments = FieldTable::default();
        let queue_type = match &self.kind {
            QueueKind::Quorum => "quorum",
            QueueKind::Stream {
                max_age,
                max_bytes,
                segment_bytes,
            } => {
                arguments.insert(
                    "x-max-age".into(),
                    AMQPValue::LongString(LongString::from(max_age.as_str())),
                );
                let sizes = [
                    ("x-max-length-bytes", max_bytes),
                    ("x-stream-max-segment-size-bytes", segment_bytes),
                ];
                for (argument, bytes) in sizes {
                    if let Some(bytes) = bytes {
                        let bytes = i64::try_from(*bytes).unwrap_or(i64::MAX);
                        arguments.insert(argument.into(), AMQPValue::LongLongInt(bytes));
                    }
                }
                "stream"
            }
        };
        arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString(LongString::from(queue_type)),
        );
        if let Some(delivery_limit) = self.delivery_limit {
            arguments.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongLongInt(i64::from(delivery_limit)),
            );
        }
        if let Some(max_length) = self.max_length {
            arguments.insert(
                "x-max-length".into(),
                AMQPValue::LongLongInt(i64::from(max_length)),
            );
            arguments.insert(
                "x-overflow".into(),
                AMQPValue::LongString(LongString::from("drop-head")),
            );
        }
        if let Some(route) = &self.dead_letter {
            arguments.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString(LongString::from(route.exchange.as_str())),
            );
            arguments.insert(
                "x-dead-letter-routing-key".into(),
                AMQPValue::LongString(LongString::from(route.routing_key.as_str())),
            );
        }
        arguments
    }
}

/// A queue bound to an exchange with one routing key (pattern).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindingDeclaration {
    pub exchange: String,
    pub queue: String,
    pub routing_key: String,
}

/// Exchanges, queues and bindings, declared in that order; then the
/// obsolete bindings are removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    pub exchanges: Vec<ExchangeDeclaration>,
    pub queues: Vec<QueueDeclaration>,
    pub bindings: Vec<BindingDeclaration>,
    /// Bindings an earlier version declared and this one must not keep
    /// (unbinding a missing binding is a no-op for the broker).
    pub obsolete_bindings: Vec<BindingDeclaration>,
}

impl Topology {
    /// Adds everything `other` declares.
    pub fn extend(&mut self, other: Topology) {
        self.exchanges.extend(other.exchanges);
        self.queues.extend(other.queues);
        self.bindings.extend(other.bindings);
        self.obsolete_bindings.extend(other.obsolete_bindings);
    }

    /// The whole system: the events exchanges with their alternate exchange,
    /// every consumer queue of DESIGN's table with its DLQ, and their bindings.
    /// Consumer queues get [`DEFAULT_DELIVERY_LIMIT`]; see [`Self::with_delivery_limit`].
    pub fn system(names: &TopologyNames) -> Self {
        let mut topology = Self::default();

        topology.exchanges.push(ExchangeDeclaration {
            name: names.unrouted_exchange().to_owned(),
            exchange_type: ExchangeType::Fanout,
            alternate_exchange: None,
        });
        topology.exchanges.push(ExchangeDeclaration {
            name: names.dead_letter_exchange().to_owned(),
            exchange_type: ExchangeType::Direct,
            alternate_exchange: None,
        });
        for exchange in EventsExchange::ALL {
            topology.exchanges.push(ExchangeDeclaration {
                name: names.exchange(exchange).to_owned(),
                exchange_type: ExchangeType::Topic,
                alternate_exchange: Some(names.unrouted_exchange().to_owned()),
            });
        }

        // Capped: nobody consumes it, and a misrouting producer must not
        // fill the broker's disk. The oldest are dropped first.
        let mut unrouted = QueueDeclaration::quorum(names.unrouted_queue());
        unrouted.max_length = Some(UNROUTED_MAX_LENGTH);
        unrouted.keep_existing = true;
        topology.queues.push(unrouted);
        topology.bindings.push(BindingDeclaration {
            exchange: names.unrouted_exchange().to_owned(),
            queue: names.unrouted_queue().to_owned(),
            // Fanout exchanges ignore the key.
            routing_key: String::new(),
        });

        for queue in ConsumerQueue::ALL {
            let queue_name = names.queue(queue).to_owned();
            let dead_letter_queue = names.dead_letter_queue(queue);
            topology.queues.push(QueueDeclaration {
                name: queue_name.clone(),
                kind: QueueKind::Quorum,
                max_length: None,
                keep_existing: false,
                delivery_limit: Some(DEFAULT_DELIVERY_LIMIT),
                dead_letter: Some(DeadLetterRoute {
                    exchange: names.dead_letter_exchange().to_owned(),
                    routing_key: dead_letter_queue.clone(),
                }),
            });
            topology
                .queues
                .push(QueueDeclaration::quorum(dead_letter_queue.clone()));
            for routing_key in queue.binding_keys() {
                topology.bindings.push(BindingDeclaration {
                    exchange: names.exchange(queue.source()).to_owned(),
                    queue: queue_name.clone(),
                    routing_key: (*routing_key).to_owned(),
                });
            }
            for routing_key in queue.obsolete_binding_keys() {
                topology.obsolete_bindings.push(BindingDeclaration {
                    exchange: names.exchange(queue.source()).to_owned(),
                    queue: queue_name.clone(),
                    routing_key: (*routing_key).to_owned(),
                });
            }
            topology.bindings.push(BindingDeclaration {
                exchange: names.dead_letter_exchange().to_owned(),
                queue: dead_letter_queue.clone(),
                routing_key: dead_letter_queue,
            });
        }

        let stream = names.revocations_stream();
        topology
            .queues
            .push(QueueDeclaration::stream(stream, REVOCATIONS_STREAM_MAX_AGE));
        for (exchange, event_type) in REVOCATION_EVENT_TYPES {
            topology.bindings.push(BindingDeclaration {
                exchange: names.exchange(exchange).to_owned(),
                queue: stream.to_owned(),
                routing_key: event_type.to_owned(),
            });
        }

        let stream = names.reporting_stream();
        topology.queues.push(QueueDeclaration {
            kind: QueueKind::Stream {
                max_age: REPORTING_STREAM_MAX_AGE.to_owned(),
                max_bytes: Some(REPORTING_STREAM_MAX_BYTES),
                segment_bytes: Some(REPORTING_STREAM_SEGMENT_BYTES),
            },
            ..QueueDeclaration::stream(stream, REPORTING_STREAM_MAX_AGE)
        });
        for (exchange, event_type) in REPORTING_EVENT_TYPES {
            topology.bindings.push(BindingDeclaration {
                exchange: names.exchange(exchange).to_owned(),
                queue: stream.to_owned(),
                routing_key: event_type.to_owned(),
            });
        }
        topology
    }

    /// Sets `x-delivery-limit` on every queue that has one (the consumer queues).
    ///
    /// RabbitMQ refuses to redeclare an existing queue with different
    /// arguments: changing the limit of a live system needs a policy or a new queue.
    pub fn with_delivery_limit(mut self, delivery_limit: u32) -> Self {
        for queue in &mut self.queues {
            if queue.delivery_limit.is_some() {
                queue.delivery_limit = Some(delivery_limit);
            }
        }
        self
    }

    /// The declaration of the queue named `name`.
    pub fn queue(&self, name: &str) -> Option<&QueueDeclaration> {
        self.queues.iter().find(|queue| queue.name == name)
    }

    /// The exchange named `name`.
    pub fn exchange(&self, name: &str) -> Option<&ExchangeDeclaration> {
        self.exchanges.iter().find(|exchange| exchange.name == name)
    }
}

/// What a declaration or deletion was doing when the broker refused it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopologyObject {
    Exchange(String),
    Queue(String),
    Binding {
        exchange: String,
        queue: String,
        routing_key: String,
    },
}

impl fmt::Display for TopologyObject {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exchange(name) => write!(formatter, "exchange `{name}`"),
            Self::Queue(name) => write!(formatter, "queue `{name}`"),
            Self::Binding {
                exchange,
                queue,
                routing_key,
            } => write!(
                formatter,
                "binding of queue `{queue}` to exchange `{exchange}` with key `{routing_key}`"
            ),
        }
    }
}

/// The broker refused (or could not be asked) to declare or delete part of
/// the topology. After a refusal the channel is closed by the broker.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("could not declare {object}: {source}")]
    Declare {
        object: Box<TopologyObject>,
        #[source]
        source: lapin::Error,
    },
    #[error("could not delete {object}: {source}")]
    Delete {
        object: Box<TopologyObject>,
        #[source]
        source: lapin::Error,
    },
    #[error("{object} has a name that is not a valid AMQP short string (at most 255 bytes)")]
    InvalidName { object: Box<TopologyObject> },
}

fn short_string(
    value: &str,
    object: impl FnOnce() -> TopologyObject,
) -> Result<ShortString, TopologyError> {
    ShortString::try_new(value).map_err(|_| TopologyError::InvalidName {
        object: Box::new(object()),
    })
}

/// Declares every exchange, then every queue, then every binding. Idempotent:
/// redeclaring with the same arguments is a no-op for the broker; different
/// arguments on an existing queue or exchange are refused (`PRECONDITION_FAILED`).
#[instrument(skip_all, fields(exchanges = topology.exchanges.len(), queues = topology.queues.len(), bindings = topology.bindings.len()), err)]
pub async fn declare(channel: &Channel, topology: &Topology) -> Result<(), TopologyError> {
    declare_keeping(channel, topology, &HashSet::new()).await
}

/// The queues marked [`QueueDeclaration::keep_existing`] that exist with
/// other arguments than `topology` gives them (each tried on a throwaway
/// channel, since a refused declaration closes its channel): pass them to
/// [`declare_keeping`], which then uses them as they are. One warning each,
/// with the remedy.
pub async fn queues_to_keep(
    connection: &lapin::Connection,
    topology: &Topology,
) -> HashSet<String> {
    let mut kept = HashSet::new();
    for queue in topology.queues.iter().filter(|queue| queue.keep_existing) {
        let Ok(name) = ShortString::try_new(queue.name.as_str()) else {
            continue;
        };
        let Ok(channel) = connection.create_channel().await else {
            continue;
        };
        let options = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        match channel
            .queue_declare(name, options, queue.arguments())
            .await
        {
            Ok(_) => {
                let _ = channel.close(200, "queue checked".into()).await;
            }
            Err(error) => {
                tracing::warn!(
                    queue = %queue.name,
                    %error,
                    "the queue exists with other arguments (an older version declared it); \
                     using it as it is: delete it (`rabbitmqctl delete_queue {}`) to get the new ones",
                    queue.name
                );
                kept.insert(queue.name.clone());
            }
        }
    }
    kept
}

/// [`declare`], declaring the queues named in `kept` passively (they exist
/// and keep their arguments).
#[instrument(skip_all, fields(kept = kept.len()), err)]
pub async fn declare_keeping(
    channel: &Channel,
    topology: &Topology,
    kept: &HashSet<String>,
) -> Result<(), TopologyError> {
    for exchange in &topology.exchanges {
        let object = || TopologyObject::Exchange(exchange.name.clone());
        let options = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(
                short_string(&exchange.name, object)?,
                exchange.exchange_type.lapin_kind(),
                options,
                exchange.arguments(),
            )
            .await
            .map_err(|source| TopologyError::Declare {
                object: Box::new(object()),
                source,
            })?;
    }
    for queue in &topology.queues {
        let object = || TopologyObject::Queue(queue.name.clone());
        let passive = kept.contains(&queue.name);
        let options = QueueDeclareOptions {
            durable: true,
            passive,
            ..QueueDeclareOptions::default()
        };
        let arguments = if passive {
            FieldTable::default()
        } else {
            queue.arguments()
        };
        channel
            .queue_declare(short_string(&queue.name, object)?, options, arguments)
            .await
            .map_err(|source| TopologyError::Declare {
                object: Box::new(object()),
                source,
            })?;
    }
    for binding in &topology.bindings {
        let (queue, exchange, routing_key, object) = binding_names(binding)?;
        channel
            .queue_bind(
                queue,
                exchange,
                routing_key,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|source| TopologyError::Declare {
                object: Box::new(object),
                source,
            })?;
    }
    for binding in &topology.obsolete_bindings {
        let (queue, exchange, routing_key, object) = binding_names(binding)?;
        channel
            .queue_unbind(queue, exchange, routing_key, FieldTable::default())
            .await
            .map_err(|source| TopologyError::Declare {
                object: Box::new(object),
                source,
            })?;
    }
    debug!("topology declared");
    Ok(())
}

/// A binding's queue, exchange and key as AMQP names, and the binding as
/// the object an error names.
fn binding_names(
    binding: &BindingDeclaration,
) -> Result<(ShortString, ShortString, ShortString, TopologyObject), TopologyError> {
    let object = || TopologyObject::Binding {
        exchange: binding.exchange.clone(),
        queue: binding.queue.clone(),
        routing_key: binding.routing_key.clone(),
    };
    Ok((
        short_string(&binding.queue, object)?,
        short_string(&binding.exchange, object)?,
        short_string(&binding.routing_key, object)?,
        object(),
    ))
}

/// Deletes every queue (with its messages) and every exchange of `topology`.
/// Missing ones are not an error. Meant for tests that own prefixed names.
#[instrument(skip_all, fields(exchanges = topology.exchanges.len(), queues = topology.queues.len()), err)]
pub async fn delete(channel: &Channel, topology: &Topology) -> Result<(), TopologyError> {
    for queue in &topology.queues {
        let object = || TopologyObject::Queue(queue.name.clone());
        channel
            .queue_delete(
                short_string(&queue.name, object)?,
                QueueDeleteOptions::default(),
            )
            .await
            .map_err(|source| TopologyError::Delete {
                object: Box::new(object()),
                source,
            })?;
    }
    for exchange in &topology.exchanges {
        let object = || TopologyObject::Exchange(exchange.name.clone());
        channel
            .exchange_delete(
                short_string(&exchange.name, object)?,
                ExchangeDeleteOptions::default(),
            )
            .await
            .map_err(|source| TopologyError::Delete {
                object: Box::new(object()),
                source,
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use ecommerce_events::EVENT_TYPES;

    use super::*;

    fn argument<'a>(table: &'a FieldTable, key: &str) -> Option<&'a AMQPValue> {
        table.inner().get(key)
    }

    #[test]
    fn the_reporting_stream_binds_known_event_types_on_their_own_exchange_and_keeps_them_by_age_and_size()
     {
        let names = TopologyNames::default().with_prefix("t.");
        let topology = Topology::system(&names);
        for (exchange, event_type) in REPORTING_EVENT_TYPES {
            assert!(
                EVENT_TYPES.iter().any(|info| info.event_type == event_type),
                "{event_type}"
            );
            assert_eq!(EventsExchange::for_event_type(event_type), Some(exchange));
            assert!(topology.bindings.contains(&BindingDeclaration {
                exchange: names.exchange(exchange).to_owned(),
                queue: "t.reporting.event-stream".to_owned(),
                routing_key: event_type.to_owned(),
            }));
        }
        let stream = topology
            .queue("t.reporting.event-stream")
            .unwrap()
            .arguments();
        assert_eq!(
            argument(&stream, "x-queue-type"),
            Some(&AMQPValue::LongString("stream".into()))
        );
        assert_eq!(
            argument(&stream, "x-max-age"),
            Some(&AMQPValue::LongString("90D".into()))
        );
        assert_eq!(
            argument(&stream, "x-max-length-bytes"),
            Some(&AMQPValue::LongLongInt(20 * 1024 * 1024 * 1024))
        );
        // The revocations stream keeps its declaration (redeclaring an
        // existing queue with other arguments is refused).
        let revocations = topology.queue("t.iam.revocations").unwrap().arguments();
        assert_eq!(argument(&revocations, "x-max-length-bytes"), None);
    }

    #[test]
    fn default_names_are_the_historic_ones() {
        let names = TopologyNames::default();
        assert_eq!(names.exchange(EventsExchange::Catalog), "catalog.events");
        assert_eq!(names.exchange(EventsExchange::Iam), "iam.events");
        assert_eq!(
            names.exchange(EventsExchange::IamSecurity),
            "iam.security-events"
        );
        assert_eq!(
            names.exchange(EventsExchange::Inventory),
            "inventory.events"
        );
        assert_eq!(names.exchange(EventsExchange::Orders), "orders.events");
        assert_eq!(
            names.exchange(EventsExchange::Fulfillment),
            "fulfillment.events"
        );
        assert_eq!(
            names.queue(ConsumerQueue::InventoryOrderEvents),
            "inventory.order-events"
        );
        assert_eq!(
            names.dead_letter_queue(ConsumerQueue::InventoryOrderEvents),
            "inventory.order-events.dlq"
        );
        assert_eq!(names.unrouted_exchange(), "unrouted");
        assert_eq!(names.unrouted_queue(), "unrouted");
        assert_eq!(names.dead_letter_exchange(), "dead-letter");
        assert_eq!(
            TopologyNames::from_source(&EnvSource::from_pairs([])).unwrap(),
            names
        );
    }

    #[test]
    fn queue_variables_follow_consumer_source_events_queue() {
        for queue in ConsumerQueue::ALL {
            // `payments.order-events` -> `PAYMENTS_ORDER_EVENTS_QUEUE`.
            let derived = format!(
                "{}_QUEUE",
                queue.default_name().replace(['.', '-'], "_").to_uppercase()
            );
            assert_eq!(queue.env_var(), derived);
        }
    }

    #[test]
    fn every_name_is_overridable_by_its_variable() {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for exchange in EventsExchange::ALL {
            pairs.push((exchange.env_var().to_owned(), format!("x-{exchange:?}")));
        }
        for queue in ConsumerQueue::ALL {
            pairs.push((queue.env_var().to_owned(), format!("q-{queue:?}")));
        }
        pairs.push((UNROUTED_EXCHANGE_VAR.to_owned(), "ae".to_owned()));
        pairs.push((UNROUTED_QUEUE_VAR.to_owned(), "ae-queue".to_owned()));
        pairs.push((DEAD_LETTER_EXCHANGE_VAR.to_owned(), " dlx ".to_owned()));
        let source = EnvSource::from_pairs(
            pairs
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
        );
        let names = TopologyNames::from_source(&source).unwrap();
        for exchange in EventsExchange::ALL {
            assert_eq!(names.exchange(exchange), format!("x-{exchange:?}"));
        }
        for queue in ConsumerQueue::ALL {
            assert_eq!(names.queue(queue), format!("q-{queue:?}"));
            assert_eq!(names.dead_letter_queue(queue), format!("q-{queue:?}.dlq"));
        }
        assert_eq!(names.unrouted_exchange(), "ae");
        assert_eq!(names.unrouted_queue(), "ae-queue");
        assert_eq!(names.dead_letter_exchange(), "dlx");
    }

    #[test]
    fn an_overlong_name_names_its_variable() {
        let long = "q".repeat(256);
        let source = EnvSource::from_pairs([("CART_CATALOG_EVENTS_QUEUE", long.as_str())]);
        let error = TopologyNames::from_source(&source).unwrap_err();
        assert!(matches!(
            &error,
            SettingsError::Invalid { variable, .. } if variable == "CART_CATALOG_EVENTS_QUEUE"
        ));
    }

    #[test]
    fn a_prefix_applies_to_every_name() {
        let names = TopologyNames::default().with_prefix("t-1.");
        let topology = Topology::system(&names);
        for exchange in &topology.exchanges {
            assert!(exchange.name.starts_with("t-1."), "{exchange:?}");
            if let Some(alternate) = &exchange.alternate_exchange {
                assert_eq!(alternate, "t-1.unrouted");
            }
        }
        for queue in &topology.queues {
            assert!(queue.name.starts_with("t-1."), "{queue:?}");
            if let Some(route) = &queue.dead_letter {
                assert_eq!(route.exchange, "t-1.dead-letter");
                assert!(route.routing_key.starts_with("t-1."));
            }
        }
        for binding in &topology.bindings {
            assert!(binding.exchange.starts_with("t-1."), "{binding:?}");
            assert!(binding.queue.starts_with("t-1."), "{binding:?}");
        }
    }

    #[test]
    fn the_prefix_variable_prefixes_every_name_and_refuses_wildcards() {
        let source = EnvSource::from_pairs([(TOPOLOGY_PREFIX_VAR, "e2e-ab12.")]);
        let names = TopologyNames::from_source(&source).unwrap();
        assert_eq!(names, TopologyNames::default().with_prefix("e2e-ab12."));

        let source = EnvSource::from_pairs([(TOPOLOGY_PREFIX_VAR, "a.#")]);
        let error = TopologyNames::from_source(&source).unwrap_err();
        assert!(error.to_string().contains(TOPOLOGY_PREFIX_VAR), "{error}");
    }

    #[test]
    fn every_known_event_type_has_an_exchange() {
        let names = TopologyNames::default();
        for info in EVENT_TYPES {
            assert!(
                names.exchange_for(info.event_type).is_some(),
                "{} has no exchange",
                info.event_type
            );
        }
        assert_eq!(
            names.exchange_for("payments.payment_authorized.v1"),
            Some("orders.events")
        );
        assert_eq!(
            names.exchange_for("orders.order_placed.v1"),
            Some("orders.events")
        );
        assert_eq!(
            names.exchange_for("iam.security.account_locked.v1"),
            Some("iam.security-events")
        );
        assert_eq!(
            names.exchange_for("iam.user.registered.v1"),
            Some("iam.events")
        );
        assert_eq!(
            names.exchange_for("inventory.stock.reserved.v1"),
            Some("inventory.events")
        );
        assert_eq!(
            names.exchange_for("fulfillment.shipment.shipped.v1"),
            Some("fulfillment.events")
        );
        assert_eq!(
            names.exchange_for("catalog.price.changed.v1"),
            Some("catalog.events")
        );
        assert_eq!(names.exchange_for("cart.whatever.v1"), None);
        assert_eq!(names.exchange_for(""), None);
    }

    #[test]
    fn the_system_topology_matches_the_design_table() {
        let topology = Topology::system(&TopologyNames::default());
        let bindings: BTreeSet<(&str, &str, &str)> = topology
            .bindings
            .iter()
            .map(|binding| {
                (
                    binding.queue.as_str(),
                    binding.exchange.as_str(),
                    binding.routing_key.as_str(),
                )
            })
            .collect();
        // DESIGN's topology table, one row per queue: exactly the types acted on.
        let table: [(&str, &str, &[&str]); 20] = [
            (
                "inventory.order-events",
                "orders.events",
                &[
                    "orders.order_placed.v1",
                    "orders.order_canceled.v1",
                    "payments.payment_authorized.v1",
                    "payments.payment_failed.v1",
                ],
            ),
            (
                "inventory.catalog-events",
                "catalog.events",
                &[
                    "catalog.variant.created.v1",
                    "catalog.variant.discontinued.v1",
                ],
            ),
            (
                "orders.inventory-events",
                "inventory.events",
                &[
                    "inventory.stock.reserved.v1",
                    "inventory.stock.reservation_failed.v1",
                    "inventory.stock.committed.v1",
                    "inventory.stock.reservation_released.v1",
                    "inventory.stock.reservation_expired.v1",
                ],
            ),
            (
                "orders.payment-events",
                "orders.events",
                &[
                    "payments.payment_authorized.v1",
                    "payments.payment_failed.v1",
                ],
            ),
            (
                "orders.fulfillment-events",
                "fulfillment.events",
                &[
                    "fulfillment.shipment.shipped.v1",
                    "fulfillment.shipment.delivered.v1",
                ],
            ),
            (
                "payments.order-events",
                "orders.events",
                &["orders.order_placed.v1", "orders.order_canceled.v1"],
            ),
            (
                "payments.inventory-events",
                "inventory.events",
                &[
                    "inventory.stock.reserved.v1",
                    "inventory.stock.reservation_failed.v1",
                    "inventory.stock.reservation_released.v1",
                    "inventory.stock.reservation_expired.v1",
                ],
            ),
            (
                "payments.fulfillment-events",
                "fulfillment.events",
                &["fulfillment.shipment.shipped.v1"],
            ),
            (
                "fulfillment.inventory-events",
                "inventory.events",
                &["inventory.stock.committed.v1"],
            ),
            (
                "fulfillment.order-events",
                "orders.events",
                &["orders.order_placed.v1", "orders.order_canceled.v1"],
            ),
            (
                "cart.catalog-events",
                "catalog.events",
                &[
                    "catalog.product.archived.v1",
                    "catalog.variant.discontinued.v1",
                ],
            ),
            (
                "notifications.iam-events",
                "iam.events",
                &[
                    "iam.user.registered.v1",
                    "iam.user.profile_updated.v1",
                    "iam.user.email_verified.v1",
                ],
            ),
            (
                "notifications.order-events",
                "orders.events",
                &[
                    "orders.order_placed.v1",
                    "orders.order_confirmed.v1",
                    "orders.order_rejected.v1",
                    "orders.order_canceled.v1",
                ],
            ),
            (
                "notifications.fulfillment-events",
                "fulfillment.events",
                &[
                    "fulfillment.shipment.shipped.v1",
                    "fulfillment.shipment.delivered.v1",
                ],
            ),
            ("unrouted", "unrouted", &[""]),
            (
                "iam.revocations",
                "iam.events",
                &["iam.user.signed_out.v1", "iam.user.access_synchronized.v1"],
            ),
            (
                "iam.revocations",
                "iam.security-events",
                &["iam.security.account_locked.v1"],
            ),
            (
                "reporting.event-stream",
                "catalog.events",
                &[
                    "catalog.product.created.v1",
                    "catalog.product.updated.v1",
                    "catalog.variant.created.v1",
                    "catalog.variant.discontinued.v1",
                ],
            ),
            (
                "reporting.event-stream",
                "orders.events",
                &[
                    "orders.order_placed.v1",
                    "orders.order_confirmed.v1",
                    "orders.order_rejected.v1",
                    "orders.order_canceled.v1",
                    "payments.payment_authorized.v1",
                    "payments.payment_failed.v1",
                    "payments.payment_captured.v1",
                ],
            ),
            (
                "reporting.event-stream",
                "inventory.events",
                &[
                    "inventory.stock.adjustment_applied.v1",
                    "inventory.stock.reserved.v1",
                    "inventory.stock.reservation_failed.v1",
                    "inventory.stock.committed.v1",
                    "inventory.stock.reservation_released.v1",
                    "inventory.stock.reservation_expired.v1",
                    "inventory.stock.restocked.v1",
                ],
            ),
        ];
        let expected: BTreeSet<(&str, &str, &str)> = table
            .iter()
            .flat_map(|(queue, exchange, types)| {
                types
                    .iter()
                    .map(move |event_type| (*queue, *exchange, *event_type))
            })
            .chain(ConsumerQueue::ALL.iter().map(|queue| {
                let dlq = queue.default_name();
                // Leaked only in this test, to build `&'static str` tuples.
                let dlq: &'static str = Box::leak(format!("{dlq}.dlq").into_boxed_str());
                (dlq, "dead-letter", dlq)
            }))
            .collect();
        assert_eq!(bindings, expected);
        // `unrouted`, the two streams, each consumer queue and its DLQ.
        assert_eq!(topology.queues.len(), 3 + 2 * ConsumerQueue::ALL.len());
        assert_eq!(topology.exchanges.len(), 2 + EventsExchange::ALL.len());
    }

    #[test]
    fn events_exchanges_are_topic_with_the_alternate_exchange() {
        let topology = Topology::system(&TopologyNames::default());
        for exchange in EventsExchange::ALL {
            let declaration = topology.exchange(exchange.default_name()).unwrap();
            assert_eq!(declaration.exchange_type, ExchangeType::Topic);
            assert_eq!(
                argument(&declaration.arguments(), "alternate-exchange"),
                Some(&AMQPValue::LongString("unrouted".into()))
            );
        }
        let unrouted = topology.exchange("unrouted").unwrap();
        assert_eq!(unrouted.exchange_type, ExchangeType::Fanout);
        assert!(unrouted.arguments().inner().is_empty());
        let dead_letter = topology.exchange("dead-letter").unwrap();
        assert_eq!(dead_letter.exchange_type, ExchangeType::Direct);
    }

    #[test]
    fn consumer_queues_are_quorum_with_a_limit_and_their_own_dlq() {
        let topology = Topology::system(&TopologyNames::default()).with_delivery_limit(7);
        for queue in ConsumerQueue::ALL {
            let declaration = topology.queue(queue.default_name()).unwrap();
            let arguments = declaration.arguments();
            assert_eq!(
                argument(&arguments, "x-queue-type"),
                Some(&AMQPValue::LongString("quorum".into()))
            );
            assert_eq!(
                argument(&arguments, "x-delivery-limit"),
                Some(&AMQPValue::LongLongInt(7))
            );
            assert_eq!(
                argument(&arguments, "x-dead-letter-exchange"),
                Some(&AMQPValue::LongString("dead-letter".into()))
            );
            let dlq = format!("{}.dlq", queue.default_name());
            assert_eq!(
                argument(&arguments, "x-dead-letter-routing-key"),
                Some(&AMQPValue::LongString(dlq.as_str().into()))
            );
            let dlq_declaration = topology.queue(&dlq).unwrap();
            assert_eq!(dlq_declaration.delivery_limit, None);
            assert_eq!(dlq_declaration.dead_letter, None);
            assert_eq!(
                argument(&dlq_declaration.arguments(), "x-queue-type"),
                Some(&AMQPValue::LongString("quorum".into()))
            );
        }
        let default_limit = Topology::system(&TopologyNames::default());
        assert_eq!(
            default_limit
                .queue("inventory.order-events")
                .unwrap()
                .delivery_limit,
            Some(DEFAULT_DELIVERY_LIMIT)
        );
        assert_eq!(
            default_limit.queue("unrouted").unwrap().delivery_limit,
            None
        );
    }
}
