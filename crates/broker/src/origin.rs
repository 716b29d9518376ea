//! Whether a received event came from where it claims to.
//!
//! Two facts about a delivery cannot be forged by a publisher:
//!
//! - the exchange it was published to, which RabbitMQ permissions restrict
//!   per broker user (each service may write only to its own exchanges);
//! - its AMQP `user_id`, which RabbitMQ refuses unless it is the publishing
//!   connection's user (every publisher of this crate sets it).
//!
//! [`EventOrigin::check`] compares both with what the event type says: its
//! exchange ([`TopologyNames::exchange_for`]) and, when producer users are
//! configured, its producer's broker user. Consumers dead-letter what fails.

use crate::consumer::Delivery;
use crate::settings::{BrokerSettings, SERVICE_PLACEHOLDER};
use crate::topology::TopologyNames;

/// The service that publishes `event_type`: its first segment plus `-svc`
/// (`payments.payment_authorized.v1` → `payments-svc`).
pub fn producer_service(event_type: &str) -> Option<String> {
    let context = event_type.split('.').next()?;
    if context.is_empty() {
        return None;
    }
    Some(format!("{context}-svc"))
}

/// What a consumer accepts as the origin of an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventOrigin {
    names: TopologyNames,
    producer_user_template: Option<String>,
}

impl EventOrigin {
    pub fn new(names: TopologyNames, producer_user_template: Option<String>) -> Self {
        Self {
            names,
            producer_user_template,
        }
    }

    pub fn from_settings(settings: &BrokerSettings) -> Self {
        Self::new(
            settings.names.clone(),
            settings.producer_user_template.clone(),
        )
    }

    /// The broker user expected to publish `event_type`, when configured.
    pub fn producer_user(&self, event_type: &str) -> Option<String> {
        let template = self.producer_user_template.as_deref()?;
        producer_service(event_type).map(|service| template.replace(SERVICE_PLACEHOLDER, &service))
    }

    /// `Err` with the reason when `delivery` did not come from its event
    /// type's exchange or, with producer users configured, from its producer.
    pub fn check(&self, delivery: &Delivery) -> Result<(), String> {
        let event_type = delivery.properties.event_type.as_str();
        if event_type.is_empty() {
            return Err(
                "the message has no AMQP `type`, so its origin cannot be checked".to_owned(),
            );
        }
        let Some(expected_exchange) = self.names.exchange_for(event_type) else {
            return Err(format!(
                "event `{event_type}` belongs to no context that publishes events"
            ));
        };
        if delivery.exchange != expected_exchange {
            return Err(format!(
                "event `{event_type}` is published to exchange `{expected_exchange}`, \
                 but this one came from `{}`",
                delivery.exchange
            ));
        }
        if let Some(expected_user) = self.producer_user(event_type) {
            if delivery.user_id.as_deref() != Some(expected_user.as_str()) {
                return Err(format!(
                    "event `{event_type}` is published by broker user `{expected_user}`, \
                     but this one by {}",
                    delivery
                        .user_id
                        .as_deref()
                        .map_or_else(|| "no user".to_owned(), |user| format!("`{user}`"))
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use ecommerce_events::MessageProperties;

    use super::*;
    use crate::EventsExchange;

    fn delivery(exchange: &str, event_type: &str, user_id: Option<&str>) -> Delivery {
        Delivery {
            body: Arc::from(&b""[..]),
            properties: MessageProperties {
                event_type: event_type.to_owned(),
                ..MessageProperties::default()
            },
            queue: "inventory.order-events".to_owned(),
            exchange: exchange.to_owned(),
            routing_key: event_type.to_owned(),
            redelivered: false,
            delivery_count: 0,
            user_id: user_id.map(str::to_owned),
            delayed_retries: 0,
        }
    }

    #[test]
    fn producers_are_named_after_the_event_types_context() {
        assert_eq!(
            producer_service("payments.payment_authorized.v1").as_deref(),
            Some("payments-svc")
        );
        assert_eq!(
            producer_service("iam.security.account_locked.v1").as_deref(),
            Some("iam-svc")
        );
        assert_eq!(producer_service(""), None);
        let origin = EventOrigin::new(TopologyNames::default(), Some("prod.{service}".to_owned()));
        assert_eq!(
            origin.producer_user("orders.order_placed.v1").as_deref(),
            Some("prod.orders-svc")
        );
    }

    #[test]
    fn an_event_must_come_from_its_exchange() {
        let names = TopologyNames::default();
        let orders = names.exchange(EventsExchange::Orders).to_owned();
        let catalog = names.exchange(EventsExchange::Catalog).to_owned();
        let origin = EventOrigin::new(names, None);
        origin
            .check(&delivery(&orders, "payments.payment_authorized.v1", None))
            .unwrap();
        let error = origin
            .check(&delivery(&catalog, "payments.payment_authorized.v1", None))
            .unwrap_err();
        assert!(error.contains("exchange `orders.events`"), "{error}");
        assert!(error.contains("came from `catalog.events`"), "{error}");
        for event_type in ["", "unknown.thing.v1"] {
            assert!(origin.check(&delivery(&orders, event_type, None)).is_err());
        }
    }

    #[test]
    fn with_producer_users_an_event_must_come_from_its_producer() {
        let names = TopologyNames::default();
        let orders = names.exchange(EventsExchange::Orders).to_owned();
        let origin = EventOrigin::new(names, Some("{service}".to_owned()));
        let event = "payments.payment_authorized.v1";
        origin
            .check(&delivery(&orders, event, Some("payments-svc")))
            .unwrap();
        let error = origin
            .check(&delivery(&orders, event, Some("orders-svc")))
            .unwrap_err();
        assert!(error.contains("`payments-svc`"), "{error}");
        assert!(error.contains("by `orders-svc`"), "{error}");
        let error = origin.check(&delivery(&orders, event, None)).unwrap_err();
        assert!(error.contains("no user"), "{error}");
    }
}
