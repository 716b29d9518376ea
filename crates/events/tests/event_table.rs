//! The generated table is exactly the set of messages that carry the
//! `event_type` option, and holds every event type the system exchanges.

// In tests a failed expectation is a test failure with its message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;

use ecommerce_events::{EVENT_TYPES, event_type_info};
use prost_reflect::Value;

mod support;

/// The event types of the system, as the contracts promise them to consumers.
const EXPECTED_EVENT_TYPES: [&str; 36] = [
    "catalog.price.changed.v1",
    "catalog.product.archived.v1",
    "catalog.product.created.v1",
    "catalog.product.published.v1",
    "catalog.product.unpublished.v1",
    "catalog.product.updated.v1",
    "catalog.variant.created.v1",
    "catalog.variant.discontinued.v1",
    "catalog.variant.updated.v1",
    "fulfillment.shipment.canceled.v1",
    "fulfillment.shipment.created.v1",
    "fulfillment.shipment.delivered.v1",
    "fulfillment.shipment.shipped.v1",
    "iam.security.account_locked.v1",
    "iam.security.sign_in_failed.v1",
    "iam.user.access_synchronized.v1",
    "iam.user.email_verified.v1",
    "iam.user.profile_updated.v1",
    "iam.user.registered.v1",
    "iam.user.signed_in.v1",
    "iam.user.signed_out.v1",
    "inventory.stock.adjustment_applied.v1",
    "inventory.stock.committed.v1",
    "inventory.stock.reservation_expired.v1",
    "inventory.stock.reservation_failed.v1",
    "inventory.stock.reservation_released.v1",
    "inventory.stock.reserved.v1",
    "inventory.stock.restocked.v1",
    "orders.order_canceled.v1",
    "orders.order_confirmed.v1",
    "orders.order_placed.v1",
    "orders.order_rejected.v1",
    "payments.payment_authorized.v1",
    "payments.payment_captured.v1",
    "payments.payment_failed.v1",
    "payments.payment_voided.v1",
];

#[test]
fn table_holds_every_system_event_type() {
    let generated: Vec<&str> = EVENT_TYPES.iter().map(|info| info.event_type).collect();
    assert_eq!(
        generated, EXPECTED_EVENT_TYPES,
        "generated table differs from the system's event types"
    );
}

#[test]
fn table_equals_messages_carrying_the_option() {
    let pool = support::descriptor_pool();
    let option = pool
        .get_extension_by_name("ecommerce.events.v1.event_type")
        .expect("option defined");
    let marked: BTreeSet<(String, String)> = pool
        .all_messages()
        .filter_map(|message| {
            let options = message.options();
            if !options.has_extension(&option) {
                return None;
            }
            match options.get_extension(&option).as_ref() {
                Value::String(event_type) => {
                    Some((event_type.clone(), message.full_name().to_owned()))
                }
                other => panic!(
                    "option on {} is not a string: {other:?}",
                    message.full_name()
                ),
            }
        })
        .collect();
    let generated: BTreeSet<(String, String)> = EVENT_TYPES
        .iter()
        .map(|info| (info.event_type.to_owned(), info.message_name.to_owned()))
        .collect();
    assert_eq!(generated, marked);
}

#[test]
fn each_type_lives_in_a_package_of_its_version() {
    for info in EVENT_TYPES {
        let package = info
            .message_name
            .rsplit_once('.')
            .map(|(package, _)| package)
            .unwrap_or_default();
        assert!(
            package.ends_with(&format!(".v{}", info.version)),
            "{info:?}"
        );
        assert!(
            info.event_type.ends_with(&format!(".v{}", info.version)),
            "{info:?}"
        );
    }
}

#[test]
fn lookup_finds_known_types_only() {
    let info = event_type_info("orders.order_placed.v1").expect("known type");
    assert_eq!(info.message_name, "ecommerce.orders.v1.OrderPlaced");
    assert!(event_type_info("orders.order_placed.v2").is_none());
    assert!(event_type_info("").is_none());
}
