//! `ecomctl demo` against the whole stack as processes (`ecommerce_e2e::Stack`:
//! every saga service's binary, its own schemas, a private topology), then
//! `saga`, `outbox status` and `dlq list` on what the demo left behind.
//!
//! The service binaries must be built first (`cargo build --bins`), as for
//! the end-to-end tests of `crates/e2e`. The tests are in the module
//! `e2e_stack` so the suite can run them one stack at a time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod e2e_stack {
    use ecommerce_e2e::shop::DELIVERED_SAGA_EVENTS;
    use ecommerce_e2e::{Stack, StackOptions, Svc};

    use crate::common::{closed_port, ecomctl, env, finish, start_tail};

    /// The variables that point ecomctl at `stack`.
    fn stack_env(stack: &Stack) -> Vec<(String, String)> {
        let mut variables = env(&[
            ("AMQP_TOPOLOGY_PREFIX", &stack.broker().prefix),
            (
                "SCHEMA_REGISTRY_URL",
                &format!("http://{}", stack.addr(Svc::Registry)),
            ),
        ]);
        for service in Svc::SAGA {
            let prefix = service.env_prefix();
            variables.push((
                format!("{prefix}_GRPC_ADDR"),
                stack.addr(service).to_string(),
            ));
            variables.push((
                format!("{prefix}_DB_SCHEMA"),
                stack.schema(service).to_owned(),
            ));
        }
        variables
    }

    /// Where `needle` is among `lines` (the first line containing it).
    fn position(lines: &[&str], needle: &str) -> usize {
        lines
            .iter()
            .position(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in {lines:#?}"))
    }

    #[tokio::test]
    async fn demo_walks_a_checkout_to_delivered_printing_its_events_and_saga_tells_it_back() {
        let stack = Stack::start(StackOptions {
            services: &Svc::SAGA,
            ..StackOptions::default()
        })
        .await
        .unwrap();
        let variables = stack_env(&stack);

        // A tail of the checkout's correlation beside the demo.
        let tail = start_tail(
            &[
                "--correlation",
                "demo-e2e-1",
                "--count",
                "9",
                "--for",
                "90s",
            ],
            &variables,
        )
        .await;
        let demo = ecomctl(&["demo", "--correlation", "demo-e2e-1"], &variables)
            .await
            .ok();
        let lines = demo.lines();
        assert_eq!(
            lines[0],
            "checkout walk-through, correlation demo-e2e-1 (setup calls: demo-e2e-1.setup); \
             events as the broker carries them:"
        );
        assert!(
            lines.contains(&" 1. the admin signed in (admin@ecommerce.local)"),
            "{lines:#?}"
        );
        let confirmed = position(
            &lines,
            " 6. the saga ran on its own: order CONFIRMED after ",
        );
        assert!(
            lines[confirmed].ends_with("(PENDING → RESERVED → PAID → CONFIRMED)"),
            "{}",
            lines[confirmed]
        );
        let delivered = position(&lines, " 7. the admin shipped and delivered shipment ");
        assert!(
            lines[delivered].contains(": order DELIVERED, payment CAPTURED ("),
            "{}",
            lines[delivered]
        );
        // Every event of the checkout, each printed once as it came.
        let event_lines: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|line| line.starts_with("      "))
            .collect();
        for event_type in DELIVERED_SAGA_EVENTS {
            let printed = event_lines
                .iter()
                .filter(|line| line.contains(&format!("  {event_type}  ")))
                .count();
            assert_eq!(printed, 1, "{event_type} in {event_lines:#?}");
        }
        assert!(
            event_lines
                .iter()
                .any(|line| line.contains("  catalog.variant.created.v1  ")),
            "the setup's events are printed too: {event_lines:#?}"
        );
        let reserved = event_lines
            .iter()
            .find(|line| line.contains("  inventory.stock.reserved.v1  "))
            .unwrap();
        assert!(
            reserved.contains(" after orders.order_placed.v1)"),
            "{reserved}"
        );
        let done = lines.last().unwrap();
        assert!(done.starts_with("done in "), "{done}");
        let order_id = done
            .split(": order ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap()
            .to_owned();

        let tail = finish(tail).await.ok();
        let mut tailed: Vec<&str> = tail
            .lines()
            .iter()
            .map(|line| line.split_whitespace().nth(1).unwrap())
            .collect();
        tailed.sort_unstable();
        let mut expected = DELIVERED_SAGA_EVENTS.to_vec();
        expected.sort_unstable();
        assert_eq!(tailed, expected, "{}", tail.stdout);
        assert!(
            tail.lines()
                .iter()
                .all(|line| line.contains("  correlation=demo-e2e-1  causation=")),
            "{}",
            tail.stdout
        );

        // The same checkout, told back from the outboxes.
        let saga = ecomctl(&["saga", &order_id], &variables).await.ok();
        let lines = saga.lines();
        assert_eq!(
            lines[0],
            format!("order {order_id}: correlation demo-e2e-1")
        );
        assert!(
            !saga.stdout.contains("FAILED") && !saga.stdout.contains("PENDING"),
            "{}",
            saga.stdout
        );
        let tree = &lines[position(&lines, "CAUSATION") + 1..];
        assert!(
            tree[0].starts_with("orders.order_placed.v1  orders-svc  +0.000s"),
            "{tree:#?}"
        );
        let at = |event_type: &str| position(tree, &format!("{event_type}  "));
        for (cause, effect) in [
            ("orders.order_placed.v1", "inventory.stock.reserved.v1"),
            (
                "inventory.stock.reserved.v1",
                "payments.payment_authorized.v1",
            ),
            (
                "payments.payment_authorized.v1",
                "inventory.stock.committed.v1",
            ),
            (
                "inventory.stock.committed.v1",
                "fulfillment.shipment.created.v1",
            ),
            (
                "fulfillment.shipment.shipped.v1",
                "payments.payment_captured.v1",
            ),
        ] {
            assert!(at(cause) < at(effect), "{cause} before {effect}: {tree:#?}");
            assert!(
                tree[at(effect)].contains(&format!(" after {cause})")),
                "{effect} caused by {cause}: {}",
                tree[at(effect)]
            );
        }

        let status = ecomctl(&["outbox", "status"], &variables).await.ok();
        for line in &status.lines()[1..] {
            let cells: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cells[2..4], ["0", "0"], "nothing pending or failed: {line}");
        }
        assert_eq!(status.lines().len(), 7, "{}", status.stdout);

        let dlq = ecomctl(&["dlq", "list"], &variables).await.ok();
        assert!(
            dlq.stdout.contains("14 dead-letter queues, 0 messages;"),
            "{}",
            dlq.stdout
        );
        // A declined card: the saga cancels the order, and the demo says so.
        let declined = ecomctl(
            &[
                "demo",
                "--card",
                "pm_card_declined",
                "--correlation",
                "demo-e2e-2",
            ],
            &variables,
        )
        .await
        .ok();
        let lines = declined.lines();
        let canceled = position(&lines, " 6. the saga ran on its own: order CANCELED after ");
        assert!(
            lines[canceled].contains("(PENDING → "),
            "{}",
            lines[canceled]
        );
        assert!(!declined.stdout.contains(" 7. "), "{}", declined.stdout);
        assert!(
            lines
                .iter()
                .any(|line| line.contains("  payments.payment_failed.v1  ")),
            "{lines:#?}"
        );
        stack.finish().await.unwrap();
    }

    #[tokio::test]
    async fn demo_names_the_service_it_cannot_reach() {
        let port = closed_port();
        let variables = env(&[("IAM_GRPC_ADDR", &format!("127.0.0.1:{port}"))]);
        assert_eq!(
            ecomctl(&["demo"], &variables).await.error(),
            format!(
                "error: cannot reach iam-svc at http://127.0.0.1:{port} (IAM_GRPC_ADDR): \
                 connection refused — is it running? (scripts/up starts it)"
            )
        );
    }
}
