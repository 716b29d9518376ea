//! What each service sends and receives, read from the declarations the
//! services run on: the topology a default-configured service declares
//! ([`BrokerSettings::topology`]), the broker permissions
//! ([`permissions::publishers`], [`permissions::consumer`]), the producer of
//! each event type ([`producer_service`]) and the generated event table.

use ecommerce_broker::origin::producer_service;
use ecommerce_broker::permissions;
use ecommerce_broker::topology::{BindingDeclaration, ExchangeDeclaration, QueueDeclaration};
use ecommerce_broker::{BrokerSettings, ConsumerQueue, EventsExchange, Topology};
use ecommerce_events::{EVENT_TYPES, EventTypeInfo, event_type_info};
use ecommerce_platform::services;
use ecommerce_platform::settings::ServiceInfo;

use crate::AsyncApiError;

/// Whether `service` follows the `iam.revocations` stream: every service
/// whose gRPC server verifies access tokens through the runtime's
/// `ServiceRuntime::auth_layer` does, which is all of them but iam-svc: it
/// issues the tokens and checks its own sessions and locks. This is what
/// each service's `main` calls, not data the broker crate declares (its
/// permissions let every service read the stream), so `tests/runtime.rs`
/// checks it against the services' sources.
pub fn follows_revocations(service: &str) -> bool {
    service != services::IAM.name
}

/// Whether `service` reads the reporting stream: reporting-svc alone (the
/// broker permissions let no other service read it).
pub fn reads_reporting_stream(service: &str) -> bool {
    service == services::REPORTING.name
}

/// How a service reads one of its queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// A consumer queue of the topology: competing consumers, acks,
    /// retries and a dead-letter queue.
    Consumer(ConsumerQueue),
    /// The `iam.revocations` stream, replayed from one retention back on
    /// every attachment.
    RevocationsStream,
    /// The `reporting.event-stream` stream, from the offset reporting-svc
    /// keeps in its database.
    ReportingStream,
}

impl Reading {
    /// The variable that overrides the queue's name.
    pub fn env_var(self) -> &'static str {
        match self {
            Self::Consumer(queue) => queue.env_var(),
            Self::RevocationsStream => ecommerce_broker::topology::REVOCATIONS_STREAM_VAR,
            Self::ReportingStream => ecommerce_broker::topology::REPORTING_STREAM_VAR,
        }
    }
}

/// An event type a service publishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub event: &'static EventTypeInfo,
    /// The exchange it is published to, with the event type as routing key.
    pub exchange: String,
}

/// A queue or stream a service reads, with what is bound to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consumed {
    pub queue: QueueDeclaration,
    pub reading: Reading,
    /// Its bindings, each an exact event type on that type's exchange,
    /// sorted by exchange and key.
    pub bindings: Vec<BindingDeclaration>,
}

/// Everything one service's document says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceFacts {
    pub service: ServiceInfo,
    /// Sorted by event type.
    pub sends: Vec<Sent>,
    /// Sorted by queue name.
    pub consumes: Vec<Consumed>,
}

impl ServiceFacts {
    /// Neither sends nor receives anything.
    pub fn is_silent(&self) -> bool {
        self.sends.is_empty() && self.consumes.is_empty()
    }

    /// The exchanges the service publishes to or reads from, sorted.
    pub fn exchanges(&self) -> Vec<&str> {
        let mut exchanges: Vec<&str> = self
            .sends
            .iter()
            .map(|sent| sent.exchange.as_str())
            .chain(self.consumes.iter().flat_map(|consumed| {
                consumed
                    .bindings
                    .iter()
                    .map(|binding| binding.exchange.as_str())
            }))
            .collect();
        exchanges.sort_unstable();
        exchanges.dedup();
        exchanges
    }

    /// The event types the service sends or receives, sorted.
    pub fn event_types(&self) -> Vec<&'static EventTypeInfo> {
        let mut events: Vec<&'static EventTypeInfo> = self
            .sends
            .iter()
            .map(|sent| sent.event)
            .chain(self.consumes.iter().flat_map(|consumed| {
                consumed
                    .bindings
                    .iter()
                    .filter_map(|binding| event_type_info(&binding.routing_key))
            }))
            .collect();
        events.sort_by_key(|info| info.event_type);
        events.dedup_by_key(|info| info.event_type);
        events
    }
}

/// The whole system as a default-configured service declares it.
#[derive(Clone, Debug)]
pub struct System {
    pub settings: BrokerSettings,
    pub topology: Topology,
}

impl Default for System {
    fn default() -> Self {
        let settings = BrokerSettings::default();
        let topology = settings.topology();
        Self { settings, topology }
    }
}

impl System {
    /// What `service` sends and receives. Fails when the declarations
    /// disagree: an event type with no exchange or whose producer may not
    /// write to it, a binding that is not an exact known event type on its
    /// own exchange, a queue the topology does not declare.
    pub fn facts(&self, service: &ServiceInfo) -> Result<ServiceFacts, AsyncApiError> {
        let mut sends = Vec::new();
        for event in EVENT_TYPES {
            if producer_service(event.event_type).as_deref() != Some(service.name) {
                continue;
            }
            let exchange = EventsExchange::for_event_type(event.event_type).ok_or_else(|| {
                AsyncApiError::Topology(format!("{} has no exchange", event.event_type))
            })?;
            if !permissions::publishers(exchange).contains(&service.name) {
                return Err(AsyncApiError::Topology(format!(
                    "{} produces {} but may not publish to {}",
                    service.name,
                    event.event_type,
                    exchange.default_name()
                )));
            }
            sends.push(Sent {
                event,
                exchange: self.settings.names.exchange(exchange).to_owned(),
            });
        }
        sends.sort_by_key(|sent| sent.event.event_type);

        let mut readings: Vec<(String, Reading)> = ConsumerQueue::ALL
            .into_iter()
            .filter(|queue| permissions::consumer(*queue) == service.name)
            .map(|queue| {
                (
                    self.settings.names.queue(queue).to_owned(),
                    Reading::Consumer(queue),
                )
            })
            .collect();
        if follows_revocations(service.name) {
            readings.push((
                self.settings.names.revocations_stream().to_owned(),
                Reading::RevocationsStream,
            ));
        }
        if reads_reporting_stream(service.name) {
            readings.push((
                self.settings.names.reporting_stream().to_owned(),
                Reading::ReportingStream,
            ));
        }
        let mut consumes = Vec::new();
        for (name, reading) in readings {
            let queue = self.topology.queue(&name).cloned().ok_or_else(|| {
                AsyncApiError::Topology(format!(
                    "{} reads {name}, which is not declared",
                    service.name
                ))
            })?;
            let mut bindings: Vec<BindingDeclaration> = self
                .topology
                .bindings
                .iter()
                .filter(|binding| binding.queue == name)
                .cloned()
                .collect();
            for binding in &bindings {
                self.check_binding(binding)?;
            }
            bindings.sort_by(|left, right| {
                (&left.exchange, &left.routing_key).cmp(&(&right.exchange, &right.routing_key))
            });
            consumes.push(Consumed {
                queue,
                reading,
                bindings,
            });
        }
        consumes.sort_by(|left, right| left.queue.name.cmp(&right.queue.name));

        Ok(ServiceFacts {
            service: *service,
            sends,
            consumes,
        })
    }

    /// A binding of a consumer queue or stream must be an exact, known
    /// event type on the exchange that type is published to.
    fn check_binding(&self, binding: &BindingDeclaration) -> Result<(), AsyncApiError> {
        if event_type_info(&binding.routing_key).is_none() {
            return Err(AsyncApiError::Topology(format!(
                "{} is bound to {} with `{}`, which is not a known event type",
                binding.queue, binding.exchange, binding.routing_key
            )));
        }
        if self.settings.names.exchange_for(&binding.routing_key) != Some(binding.exchange.as_str())
        {
            return Err(AsyncApiError::Topology(format!(
                "{} is bound to {} with `{}`, an event type published elsewhere",
                binding.queue, binding.exchange, binding.routing_key
            )));
        }
        Ok(())
    }

    /// The declaration of the exchange named `name`.
    pub fn exchange(&self, name: &str) -> Result<&ExchangeDeclaration, AsyncApiError> {
        self.topology
            .exchange(name)
            .ok_or_else(|| AsyncApiError::Topology(format!("exchange {name} is not declared")))
    }

    /// The events exchange named `name`.
    pub fn events_exchange(&self, name: &str) -> Option<EventsExchange> {
        EventsExchange::ALL
            .into_iter()
            .find(|exchange| self.settings.names.exchange(*exchange) == name)
    }

    /// The queues and streams bound to `exchange` with `routing_key`, sorted.
    pub fn bound_queues(&self, exchange: &str, routing_key: &str) -> Vec<&str> {
        let mut queues: Vec<&str> = self
            .topology
            .bindings
            .iter()
            .filter(|binding| binding.exchange == exchange && binding.routing_key == routing_key)
            .map(|binding| binding.queue.as_str())
            .collect();
        queues.sort_unstable();
        queues
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use ecommerce_broker::permissions::BrokerPermissions;
    use ecommerce_broker::topology::{REPORTING_EVENT_TYPES, REVOCATION_EVENT_TYPES};

    use super::*;

    fn facts_of(service: &ServiceInfo) -> ServiceFacts {
        System::default().facts(service).unwrap()
    }

    fn received(facts: &ServiceFacts) -> BTreeSet<(String, String, String)> {
        facts
            .consumes
            .iter()
            .flat_map(|consumed| {
                consumed.bindings.iter().map(|binding| {
                    (
                        binding.queue.clone(),
                        binding.exchange.clone(),
                        binding.routing_key.clone(),
                    )
                })
            })
            .collect()
    }

    fn revocations() -> impl Iterator<Item = (String, String, String)> {
        REVOCATION_EVENT_TYPES.iter().map(|(exchange, event_type)| {
            (
                "iam.revocations".to_owned(),
                exchange.default_name().to_owned(),
                (*event_type).to_owned(),
            )
        })
    }

    #[test]
    fn inventory_receives_exactly_its_binding_keys_and_sends_exactly_the_inventory_events() {
        let facts = facts_of(&services::INVENTORY);
        let expected: BTreeSet<(String, String, String)> = [
            ConsumerQueue::InventoryOrderEvents,
            ConsumerQueue::InventoryCatalogEvents,
        ]
        .into_iter()
        .flat_map(|queue| {
            queue.binding_keys().iter().map(move |key| {
                (
                    queue.default_name().to_owned(),
                    queue.source().default_name().to_owned(),
                    (*key).to_owned(),
                )
            })
        })
        .chain(revocations())
        .collect();
        assert_eq!(received(&facts), expected);

        let sent: Vec<&str> = facts
            .sends
            .iter()
            .map(|sent| sent.event.event_type)
            .collect();
        let inventory_events: Vec<&str> = EVENT_TYPES
            .iter()
            .map(|info| info.event_type)
            .filter(|event_type| event_type.starts_with("inventory."))
            .collect();
        assert!(!inventory_events.is_empty());
        assert_eq!(sent, inventory_events);
        assert!(
            facts
                .sends
                .iter()
                .all(|sent| sent.exchange == "inventory.events")
        );
    }

    #[test]
    fn payments_publishes_its_own_events_to_the_shared_orders_exchange() {
        let facts = facts_of(&services::PAYMENTS);
        assert!(!facts.sends.is_empty());
        for sent in &facts.sends {
            assert!(sent.event.event_type.starts_with("payments."), "{sent:?}");
            assert_eq!(sent.exchange, "orders.events");
        }
        let orders = facts_of(&services::ORDERS);
        assert!(
            orders
                .sends
                .iter()
                .all(|sent| sent.event.event_type.starts_with("orders.")
                    && sent.exchange == "orders.events")
        );
    }

    #[test]
    fn iam_follows_no_stream_and_the_registry_only_the_revocations() {
        let iam = facts_of(&services::IAM);
        assert!(iam.consumes.is_empty(), "{:?}", iam.consumes);
        let exchanges: BTreeSet<&str> = iam
            .sends
            .iter()
            .map(|sent| sent.exchange.as_str())
            .collect();
        assert_eq!(
            exchanges,
            BTreeSet::from(["iam.events", "iam.security-events"])
        );

        let registry = facts_of(&services::SCHEMA_REGISTRY);
        assert!(registry.sends.is_empty());
        assert_eq!(received(&registry), revocations().collect());
        assert_eq!(registry.consumes[0].reading, Reading::RevocationsStream);
    }

    #[test]
    fn reporting_reads_its_stream_bound_to_exactly_the_reporting_events() {
        let facts = facts_of(&services::REPORTING);
        assert!(facts.sends.is_empty());
        let stream = facts
            .consumes
            .iter()
            .find(|consumed| consumed.reading == Reading::ReportingStream)
            .unwrap();
        assert_eq!(stream.queue.name, "reporting.event-stream");
        assert!(matches!(
            stream.queue.kind,
            ecommerce_broker::QueueKind::Stream { .. }
        ));
        let bound: BTreeSet<(&str, &str)> = stream
            .bindings
            .iter()
            .map(|binding| (binding.exchange.as_str(), binding.routing_key.as_str()))
            .collect();
        let expected: BTreeSet<(&str, &str)> = REPORTING_EVENT_TYPES
            .iter()
            .map(|(exchange, event_type)| (exchange.default_name(), *event_type))
            .collect();
        assert_eq!(bound, expected);
    }

    #[test]
    fn every_event_type_has_one_sender_and_every_queue_one_reader() {
        let system = System::default();
        let all: Vec<ServiceFacts> = services::ALL
            .iter()
            .map(|service| system.facts(service).unwrap())
            .collect();
        for info in EVENT_TYPES {
            let senders = all
                .iter()
                .filter(|facts| facts.sends.iter().any(|sent| sent.event == info))
                .count();
            assert_eq!(senders, 1, "{}", info.event_type);
        }
        for queue in ConsumerQueue::ALL {
            let readers: Vec<&str> = all
                .iter()
                .filter(|facts| {
                    facts
                        .consumes
                        .iter()
                        .any(|consumed| consumed.reading == Reading::Consumer(queue))
                })
                .map(|facts| facts.service.name)
                .collect();
            assert_eq!(readers, [permissions::consumer(queue)], "{queue:?}");
        }
    }

    #[test]
    fn a_service_is_allowed_to_read_what_it_reads_and_write_where_it_sends() {
        let system = System::default();
        for service in services::ALL {
            let facts = system.facts(&service).unwrap();
            let granted = BrokerPermissions::for_service(
                service.name,
                &system.settings.names,
                &system.topology,
            );
            let names = |expression: &str| -> BTreeSet<String> {
                expression
                    .trim_start_matches("^(")
                    .trim_end_matches(")$")
                    .split('|')
                    .map(|name| name.replace('\\', ""))
                    .collect()
            };
            let readable = names(&granted.read);
            for consumed in &facts.consumes {
                assert!(
                    readable.contains(&consumed.queue.name),
                    "{} reads {}",
                    service.name,
                    consumed.queue.name
                );
            }
            let writable = names(&granted.write);
            for sent in &facts.sends {
                assert!(writable.contains(&sent.exchange), "{}", service.name);
            }
        }
    }

    #[test]
    fn a_binding_that_is_not_an_exact_event_type_stops_the_generation() {
        let system = System::default();
        let pattern = BindingDeclaration {
            exchange: "orders.events".to_owned(),
            queue: "inventory.order-events".to_owned(),
            routing_key: "orders.#".to_owned(),
        };
        let error = system.check_binding(&pattern).unwrap_err();
        assert!(error.to_string().contains("orders.#"), "{error}");
        let elsewhere = BindingDeclaration {
            routing_key: "inventory.stock.reserved.v1".to_owned(),
            ..pattern
        };
        assert!(system.check_binding(&elsewhere).is_err());
    }
}
