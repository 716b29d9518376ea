//! The RabbitMQ permissions of each service's own broker user.
//!
//! RabbitMQ grants a user three regular expressions over exchange and queue
//! names (`rabbitmqctl set_permissions <user> <configure> <write> <read>`).
//! Every service declares the whole topology at start-up, so each may
//! configure every name of it and bind every queue (binding needs write on
//! the queue and read on the exchange). Beyond that a service may
//!
//! - **write** (publish) only to its own events exchanges, plus the
//!   dead-letter exchange (its consumers' DLQ copies) and `unrouted` (the
//!   alternate exchange of its own);
//! - **read** (consume) only its own consumer queues, the revocations stream
//!   and, for reporting-svc, the reporting stream;
//! - declare, bind, publish to and read the delayed-retry path of its own
//!   queues (`<queue>.retry`, `<queue>.retry.wait`), which no other service
//!   may touch: a delivery through it is trusted to say where it came from.
//!
//! A service's own: the exchanges listed for it in [`publishers`], and the
//! queues whose default name starts with its context (`inventory.…` →
//! `inventory-svc`). Names are matched exactly (`^(a|b)$`, escaped).

use crate::topology::{
    ConsumerQueue, EventsExchange, Topology, TopologyNames, retry_exchange_name,
    retry_wait_queue_name,
};

/// The services whose broker user may publish to `exchange`.
pub const fn publishers(exchange: EventsExchange) -> &'static [&'static str] {
    match exchange {
        EventsExchange::Catalog => &["catalog-svc"],
        EventsExchange::Iam | EventsExchange::IamSecurity => &["iam-svc"],
        EventsExchange::Inventory => &["inventory-svc"],
        // Shared with payments, as in the system this replaces.
        EventsExchange::Orders => &["orders-svc", "payments-svc"],
        EventsExchange::Fulfillment => &["fulfillment-svc"],
    }
}

/// The service that consumes `queue`: its default name's first segment plus `-svc`.
pub fn consumer(queue: ConsumerQueue) -> String {
    let context = queue.default_name().split('.').next().unwrap_or_default();
    format!("{context}-svc")
}

/// The streams `service` may read: every service reads the revocations
/// stream, and reporting-svc its own.
fn readable_streams<'a>(service: &str, names: &'a TopologyNames) -> Vec<&'a str> {
    let mut streams = vec![names.revocations_stream()];
    if service == "reporting-svc" {
        streams.push(names.reporting_stream());
    }
    streams
}

/// One user's `configure`, `write` and `read` expressions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerPermissions {
    pub configure: String,
    pub write: String,
    pub read: String,
}

impl BrokerPermissions {
    /// What `service` (a binary name such as `orders-svc`) may do on `topology`
    /// declared under `names`.
    pub fn for_service(service: &str, names: &TopologyNames, topology: &Topology) -> Self {
        let exchanges = topology
            .exchanges
            .iter()
            .map(|exchange| exchange.name.as_str());
        let queues = topology.queues.iter().map(|queue| queue.name.as_str());
        // The delayed-retry path of each of its own queues: its alone to
        // declare (which needs read on the wait queue and write on the
        // exchange it dead-letters to), bind, and publish to.
        let own_queues: Vec<&str> = ConsumerQueue::ALL
            .into_iter()
            .filter(|queue| consumer(*queue) == service)
            .map(|queue| names.queue(queue))
            .collect();
        let retry_path: Vec<String> = own_queues
            .iter()
            .flat_map(|queue| [retry_exchange_name(queue), retry_wait_queue_name(queue)])
            .collect();
        let retry_path = retry_path.iter().map(String::as_str);
        let configure = exactly(
            exchanges
                .clone()
                .chain(queues.clone())
                .chain(retry_path.clone()),
        );

        let own_exchanges = EventsExchange::ALL
            .into_iter()
            .filter(|exchange| publishers(*exchange).contains(&service))
            .map(|exchange| names.exchange(exchange));
        let write = exactly(
            own_exchanges
                .chain([names.dead_letter_exchange(), names.unrouted_exchange()])
                .chain(queues)
                .chain(retry_path.clone()),
        );

        let read = exactly(
            own_queues
                .iter()
                .copied()
                .chain(readable_streams(service, names))
                .chain(exchanges)
                .chain(retry_path),
        );
        Self {
            configure,
            write,
            read,
        }
    }
}

/// `^(a|b|…)$` matching exactly these names.
fn exactly<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut alternatives: Vec<String> = names.map(escape).collect();
    alternatives.sort();
    alternatives.dedup();
    format!("^({})$", alternatives.join("|"))
}

fn escape(name: &str) -> String {
    let mut escaped = String::with_capacity(name.len());
    for character in name.chars() {
        if "\\.^$|?*+()[]{}".contains(character) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permissions(service: &str) -> BrokerPermissions {
        let names = TopologyNames::default();
        BrokerPermissions::for_service(service, &names, &Topology::system(&names))
    }

    fn alternatives(expression: &str) -> Vec<String> {
        expression
            .trim_start_matches("^(")
            .trim_end_matches(")$")
            .split('|')
            .map(|name| name.replace('\\', ""))
            .collect()
    }

    #[test]
    fn a_service_writes_only_its_own_exchanges_and_reads_only_its_own_queues() {
        let inventory = permissions("inventory-svc");
        let writes = alternatives(&inventory.write);
        assert!(writes.contains(&"inventory.events".to_owned()));
        for foreign in ["orders.events", "catalog.events", "iam.events"] {
            assert!(!writes.contains(&foreign.to_owned()), "{foreign}");
        }
        assert!(writes.contains(&"dead-letter".to_owned()));
        let reads = alternatives(&inventory.read);
        assert!(reads.contains(&"inventory.order-events".to_owned()));
        assert!(reads.contains(&"inventory.catalog-events".to_owned()));
        assert!(reads.contains(&"iam.revocations".to_owned()));
        assert!(!reads.contains(&"orders.inventory-events".to_owned()));
        assert!(!reads.contains(&"inventory.order-events.dlq".to_owned()));

        let payments = alternatives(&permissions("payments-svc").write);
        assert!(payments.contains(&"orders.events".to_owned()));
        assert!(!payments.contains(&"inventory.events".to_owned()));
        let registry = permissions("schema-registry");
        assert!(
            !alternatives(&registry.write)
                .iter()
                .any(|name| name.ends_with(".events"))
        );
    }

    #[test]
    fn only_a_queue_s_consumer_may_touch_its_retry_path() {
        let inventory = permissions("inventory-svc");
        for granted in [&inventory.configure, &inventory.write, &inventory.read] {
            let granted = alternatives(granted);
            assert!(granted.contains(&"inventory.order-events.retry".to_owned()));
            assert!(granted.contains(&"inventory.order-events.retry.wait".to_owned()));
        }
        let orders = permissions("orders-svc");
        for granted in [&orders.configure, &orders.write, &orders.read] {
            let granted = alternatives(granted);
            assert!(
                !granted
                    .iter()
                    .any(|name| name.starts_with("inventory.order-events.retry"))
            );
            assert!(granted.contains(&"orders.payment-events.retry".to_owned()));
        }
    }

    #[test]
    fn notifications_reads_its_three_queues_and_publishes_no_events() {
        let notifications = permissions("notifications-svc");
        let reads = alternatives(&notifications.read);
        for queue in [
            "notifications.iam-events",
            "notifications.order-events",
            "notifications.fulfillment-events",
            "iam.revocations",
        ] {
            assert!(reads.contains(&queue.to_owned()), "{queue}");
        }
        assert!(!reads.contains(&"fulfillment.order-events".to_owned()));
        assert!(
            !alternatives(&notifications.write)
                .iter()
                .any(|name| name.ends_with(".events")),
            "{}",
            notifications.write
        );
    }

    #[test]
    fn only_reporting_reads_the_reporting_stream_and_it_publishes_nothing() {
        let reporting = permissions("reporting-svc");
        let reads = alternatives(&reporting.read);
        assert!(
            reads.contains(&"reporting.event-stream".to_owned()),
            "{reads:?}"
        );
        assert!(reads.contains(&"iam.revocations".to_owned()), "{reads:?}");
        assert!(!reads.contains(&"notifications.order-events".to_owned()));
        assert!(
            !alternatives(&reporting.write)
                .iter()
                .any(|name| name.ends_with(".events")),
            "{}",
            reporting.write
        );
        for other in ["orders-svc", "notifications-svc", "catalog-svc"] {
            let reads = alternatives(&permissions(other).read);
            assert!(
                !reads.contains(&"reporting.event-stream".to_owned()),
                "{other}"
            );
        }
    }

    #[test]
    fn names_are_matched_exactly() {
        let catalog = permissions("catalog-svc");
        assert!(catalog.write.starts_with("^(") && catalog.write.ends_with(")$"));
        assert!(catalog.write.contains("catalog\\.events"));
        assert!(!catalog.write.contains("catalog.events"));
        let configure = alternatives(&catalog.configure);
        let names = TopologyNames::default();
        let topology = Topology::system(&names);
        assert_eq!(
            configure.len(),
            topology.exchanges.len() + topology.queues.len() - 1,
            "every name once (`unrouted` is an exchange and a queue)"
        );
    }
}
