//! Process faults in the middle of the saga: inventory-svc and payments-svc
//! are SIGKILLed while 200 checkouts run, then restarted. Whatever a killed
//! process was doing (a consumer's transaction, an unacknowledged delivery, a
//! relay's claimed batch), every order must still end terminal, exactly once.
//!
//! In the `infra_fault` module, so the serial group runs it on its own
//! (`scripts/test faults`): it starts and kills many processes and would
//! starve the parallel suite's timeouts on a 2-core machine.

mod infra_fault {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use ecommerce_broker::ConsumerQueue;
    use ecommerce_e2e::shop::OrderStatus;
    use ecommerce_e2e::{Shop, Stack, StackOptions, Svc};
    use ecommerce_proto::ecommerce::payments::v1::PaymentStatus;
    use sea_orm::{ConnectionTrait, Statement};
    use tokio::sync::Mutex;

    const CHECKOUTS: usize = 200;
    const CUSTOMERS: usize = 25;
    const STOCK: i32 = 150;
    const TERMINAL: [OrderStatus; 3] = [
        OrderStatus::Confirmed,
        OrderStatus::Rejected,
        OrderStatus::Canceled,
    ];

    /// Waits until `placed` checkouts have returned.
    async fn wait_for_placed(placed: &AtomicUsize, at_least: usize) {
        while placed.load(Ordering::SeqCst) < at_least {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Shows how much work the kill interrupts (in the test's output).
    async fn report_in_flight(stack: &Stack, killed: &str) -> anyhow::Result<()> {
        let in_flight = count(
            stack,
            Svc::Orders,
            "SELECT count(*) AS n FROM {schema}.orders \
             WHERE status NOT IN ('confirmed', 'rejected', 'canceled')",
        )
        .await?;
        eprintln!("SIGKILL {killed}: {in_flight} orders in flight");
        Ok(())
    }

    /// `count(*) AS n` of `sql`, whose `{schema}` is `service`'s schema.
    async fn count(stack: &Stack, service: Svc, sql: &str) -> anyhow::Result<i64> {
        let row = stack
            .db(service)
            .query_one_raw(Statement::from_string(
                sea_orm::DatabaseBackend::Postgres,
                sql.replace("{schema}", stack.schema(service)),
            ))
            .await?
            .ok_or_else(|| anyhow::anyhow!("count(*) returned no row"))?;
        Ok(row.try_get::<i64>("", "n")?)
    }

    /// Rows of `table` in `service`'s schema that are not published yet.
    async fn unpublished(stack: &Stack, service: Svc, table: &str) -> anyhow::Result<i64> {
        let sql =
            format!("SELECT count(*) AS n FROM {{schema}}.{table} WHERE status <> 'published'");
        count(stack, service, &sql).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sigkill_inventory_and_payments_during_200_checkouts_loses_nothing_and_applies_nothing_twice()
     {
        let mut stack = Stack::start(StackOptions::default()).await.unwrap();
        let shop = Shop::open(&stack).await.unwrap();
        let sku = shop.sellable_sku(700, STOCK).await.unwrap();
        let customers = shop.customers(CUSTOMERS, 4).await.unwrap();

        // Each customer buys one unit at a time until 200 checkouts are placed.
        let placed = Arc::new(AtomicUsize::new(0));
        let order_ids = Arc::new(Mutex::new(Vec::new()));
        let mut shoppers = tokio::task::JoinSet::new();
        for customer in customers {
            let (shop, sku, placed, order_ids) =
                (shop.clone(), sku.clone(), placed.clone(), order_ids.clone());
            shoppers.spawn(async move {
                while placed.fetch_add(1, Ordering::SeqCst) < CHECKOUTS {
                    let order_id = shop.buy(&customer, &sku, 1).await?;
                    order_ids.lock().await.push(order_id);
                }
                Ok::<_, tonic::Status>(())
            });
        }

        let names = stack.broker().names().clone();
        wait_for_placed(&placed, 50).await;
        report_in_flight(&stack, "inventory-svc").await.unwrap();
        stack.kill(Svc::Inventory).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        stack.restart(Svc::Inventory).await.unwrap();

        wait_for_placed(&placed, 120).await;
        report_in_flight(&stack, "payments-svc").await.unwrap();
        stack.kill(Svc::Payments).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        stack.restart(Svc::Payments).await.unwrap();

        while let Some(shopper) = shoppers.join_next().await {
            shopper.unwrap().unwrap();
        }
        let order_ids = order_ids.lock().await.clone();
        assert_eq!(order_ids.len(), CHECKOUTS, "every checkout placed an order");

        // Every order ends terminal; one unit each, so exactly STOCK confirm.
        let mut confirmed = 0;
        let mut rejected = 0;
        for order_id in &order_ids {
            let order = shop
                .wait_for_status(order_id, &TERMINAL, Duration::from_secs(180))
                .await
                .unwrap();
            match order.status() {
                OrderStatus::Confirmed => {
                    confirmed += 1;
                    let payments = shop.payments(order_id).await.unwrap();
                    assert_eq!(payments.len(), 1, "one payment for {order_id}");
                    assert_eq!(payments[0].status(), PaymentStatus::Authorized);
                }
                OrderStatus::Rejected => {
                    rejected += 1;
                    let payments = shop.payments(order_id).await.unwrap();
                    assert!(
                        payments
                            .iter()
                            .all(|payment| payment.status() != PaymentStatus::Authorized),
                        "a rejected order {order_id} holds an authorization: {payments:?}"
                    );
                }
                other => panic!("order {order_id} ended {other:?}"),
            }
        }
        assert_eq!(
            (confirmed, rejected),
            (STOCK as usize, CHECKOUTS - STOCK as usize)
        );

        // Stock: every confirmed unit left on hand, nothing stays reserved.
        let stock = shop.stock(&sku).await.unwrap();
        assert_eq!(
            (stock.on_hand, stock.reserved, stock.available),
            (STOCK - confirmed as i32, 0, STOCK - confirmed as i32)
        );

        // No outbox row stuck, no consumer queue backlog, no dead letter.
        for (service, table) in [
            (Svc::Iam, "iam_outbox_events"),
            (Svc::Catalog, "catalog_outbox_events"),
            (Svc::Inventory, "inventory_outbox_events"),
            (Svc::Orders, "orders_outbox_events"),
            (Svc::Payments, "payments_outbox_events"),
            (Svc::Fulfillment, "fulfillment_outbox_events"),
        ] {
            let mut left = unpublished(&stack, service, table).await.unwrap();
            for _ in 0..100 {
                if left == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                left = unpublished(&stack, service, table).await.unwrap();
            }
            assert_eq!(left, 0, "{table} has rows the relay never published");
        }
        for queue in ConsumerQueue::ALL {
            let dead = stack
                .admin()
                .message_count(&names.dead_letter_queue(queue))
                .await;
            assert_eq!(dead, 0, "{} has dead letters", names.queue(queue));
        }
        stack.finish().await.unwrap();
    }
}
