//! AdjustStock's stocktake mode against the real service: on-hand becomes
//! the counted units only while it still is what the count started from
//! (ABORTED naming `stocktake.expected_on_hand` otherwise), never below the
//! reserved units, and a count that matches records nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ecommerce_events::DecodedEvent;
use ecommerce_proto::ecommerce::inventory::v1 as pb;
use ecommerce_test_support::{EVENT_WAIT, QUIET};
use tonic_types::StatusExt as _;

use crate::support::{World, order_id, violated_field};

fn stocktake(counted: Option<i32>, expected: Option<i32>) -> pb::AdjustStockRequest {
    pb::AdjustStockRequest {
        sku: "SKU-A".to_owned(),
        stocktake: Some(pb::Stocktake {
            counted_on_hand: counted,
            expected_on_hand: expected,
        }),
        ..Default::default()
    }
}

/// The field an ABORTED stocktake's `google.rpc.BadRequest` names.
fn aborted_field(status: &tonic::Status) -> String {
    assert_eq!(status.code(), tonic::Code::Aborted, "{status:?}");
    let details = status.get_error_details();
    let violations = &details.bad_request().unwrap().field_violations;
    assert_eq!(violations.len(), 1, "{violations:?}");
    violations[0].field.clone()
}

#[tokio::test]
async fn a_stocktake_sets_on_hand_only_from_the_level_it_counted() {
    let world = World::start(900).await;
    world.stock("SKU-A", 7).await;
    world
        .service
        .expect_event("inventory.stock.adjustment_applied.v1", EVENT_WAIT)
        .await;
    let order = order_id();
    let placed = world
        .place_order(&order, &[("SKU-A", 2)], "corr-count")
        .await;
    world
        .expect("inventory.stock.reserved.v1", "corr-count", placed)
        .await;

    // Counted 6 of the 7 read: on-hand 6, the event says -1.
    let counted = world
        .adjust_with(stocktake(Some(6), Some(7)))
        .await
        .unwrap();
    let level = counted.stock_level.unwrap();
    assert_eq!((level.on_hand, level.reserved, level.available), (6, 2, 4));
    assert!(!counted.adjustment_id.is_empty());
    let event = world
        .service
        .expect_event("inventory.stock.adjustment_applied.v1", EVENT_WAIT)
        .await;
    let DecodedEvent::InventoryStockAdjustmentAppliedV1(applied) = event.event else {
        panic!("not an adjustment");
    };
    assert_eq!(
        (applied.delta, applied.on_hand, applied.available),
        (-1, 6, 4)
    );
    assert_eq!(applied.adjustment_id, counted.adjustment_id);

    // The count matches: nothing recorded, nothing emitted.
    let same = world
        .adjust_with(stocktake(Some(6), Some(6)))
        .await
        .unwrap();
    assert!(same.adjustment_id.is_empty());
    assert_eq!(same.stock_level.unwrap().version, level.version);

    // A commit moves on-hand (6 -> 4) between the count and its entry: the
    // count of 6 is refused, naming the field, and changes nothing.
    let authorized = world.authorize(&order, "corr-count").await;
    world
        .expect("inventory.stock.committed.v1", "corr-count", authorized)
        .await;
    let stale = world
        .adjust_with(stocktake(Some(5), Some(6)))
        .await
        .unwrap_err();
    assert_eq!(aborted_field(&stale), "stocktake.expected_on_hand");
    assert!(stale.message().contains("4 on hand"), "{stale:?}");
    let after = world.get_stock("SKU-A").await;
    assert_eq!((after.on_hand, after.version), (4, level.version + 1));

    // Below the reserved units: refused as any adjustment is.
    let other = order_id();
    let placed = world
        .place_order(&other, &[("SKU-A", 3)], "corr-count-2")
        .await;
    world
        .expect("inventory.stock.reserved.v1", "corr-count-2", placed)
        .await;
    let below = world
        .adjust_with(stocktake(Some(2), Some(4)))
        .await
        .unwrap_err();
    assert_eq!(below.code(), tonic::Code::FailedPrecondition, "{below:?}");

    // Malformed stocktakes name their field.
    for (request, field) in [
        (
            pb::AdjustStockRequest {
                delta: 3,
                ..stocktake(Some(4), Some(4))
            },
            "delta",
        ),
        (stocktake(None, Some(4)), "stocktake.counted_on_hand"),
        (stocktake(Some(4), None), "stocktake.expected_on_hand"),
        (stocktake(Some(-1), Some(4)), "stocktake.counted_on_hand"),
    ] {
        let status = world.adjust_with(request).await.unwrap_err();
        assert_eq!(violated_field(&status), field);
    }
    world
        .service
        .expect_no_event("inventory.stock.adjustment_applied.v1", QUIET)
        .await;
    let end = world.get_stock("SKU-A").await;
    assert_eq!((end.on_hand, end.reserved), (4, 3));
    world.assert_invariants().await;
    world.finish().await;
}
