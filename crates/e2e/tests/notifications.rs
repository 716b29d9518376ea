//! notifications-svc in the whole stack: a checkout through DELIVERED
//! mails the customer, in order, at the address they signed up with, and
//! ListNotifications shows what was sent. notifications-svc is SIGKILLed
//! and restarted on the way: nothing is lost and nothing sent twice. And
//! reporting-svc's sales summary shows the sale, confirmed and captured.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ecommerce_e2e::shop::OrderStatus;
use ecommerce_e2e::{CheckoutArgs, Shop, Stack, StackOptions, Svc};
use ecommerce_proto::ecommerce::notifications::v1 as pb;
use ecommerce_proto::ecommerce::notifications::v1::notifications_service_client::NotificationsServiceClient;
use ecommerce_proto::ecommerce::reporting::v1 as reporting_pb;
use ecommerce_proto::ecommerce::reporting::v1::reporting_service_client::ReportingServiceClient;
use ecommerce_test_support::with_bearer;

const SAGA: Duration = Duration::from_secs(60);

/// `(To, Subject)` of every `.eml` file in `dir` to `to`, oldest first
/// (the file names sort by time).
fn mails_to(dir: &Path, to: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|file| {
            let text = std::fs::read_to_string(file).unwrap();
            let header = |name: &str| {
                text.lines()
                    .find_map(|line| line.strip_prefix(&format!("{name}: ")))
                    .map(str::to_owned)
            };
            (header("To")?.eq_ignore_ascii_case(to)).then(|| header("Subject"))?
        })
        .collect()
}

async fn wait_for_mails(dir: &Path, to: &str, count: usize) -> Vec<String> {
    let started = Instant::now();
    loop {
        let mails = mails_to(dir, to);
        if mails.len() >= count || started.elapsed() > SAGA {
            return mails;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_mail_a_checkout_through_delivered_in_order_once_each_across_a_restart() {
    let mut stack = Stack::start(StackOptions::default()).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let sku = shop.sellable_sku(1999, 5).await.unwrap();
    let customer = shop.customer().await.unwrap();
    let mail_dir = stack.mail_dir();

    shop.add_item(&customer, &sku, 2).await.unwrap();
    let order_id = shop
        .checkout(&customer, &CheckoutArgs::default())
        .await
        .unwrap();
    shop.wait_for_status(&order_id, &[OrderStatus::Confirmed], SAGA)
        .await
        .unwrap();
    let confirmed = format!("Your order {order_id} is confirmed");
    let mails = wait_for_mails(&mail_dir, &customer.email, 2).await;
    assert_eq!(
        mails,
        ["Confirm your email address".to_owned(), confirmed.clone()],
        "IAM's verification mail, then the confirmation"
    );

    // The mail file exists as soon as the mailer took it; the sender marks
    // it SENT in the transaction that held it. Killed in between, the
    // service sends that one mail again by design (at most one resend), so
    // the kill waits for the mark: this test is about nothing being lost
    // or sent twice once recorded.
    let mut client = NotificationsServiceClient::new(stack.channel(Svc::Notifications));
    let started = Instant::now();
    loop {
        let listed = client
            .list_notifications(with_bearer(
                pb::ListNotificationsRequest::default(),
                &customer.access_token,
            ))
            .await
            .unwrap()
            .into_inner();
        let sent = listed.notifications.iter().any(|notification| {
            notification.kind() == pb::NotificationKind::OrderConfirmed
                && notification.status() == pb::NotificationStatus::Sent
        });
        if sent {
            break;
        }
        assert!(
            started.elapsed() < SAGA,
            "the confirmation is never marked SENT"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // notifications-svc dies; the shipment leaves and arrives meanwhile.
    stack.kill(Svc::Notifications).await.unwrap();
    let shipment = shop.wait_for_shipment(&order_id, SAGA).await.unwrap();
    shop.mark_shipped(&shipment.id).await.unwrap();
    shop.mark_delivered(&shipment.id).await.unwrap();
    shop.wait_for_status(&order_id, &[OrderStatus::Delivered], SAGA)
        .await
        .unwrap();
    stack.restart(Svc::Notifications).await.unwrap();

    let expected = [
        "Confirm your email address".to_owned(),
        confirmed,
        format!("Your order {order_id} is on its way"),
        format!("Your order {order_id} was delivered"),
    ];
    let mails = wait_for_mails(&mail_dir, &customer.email, expected.len()).await;
    assert_eq!(mails, expected);

    // What was sent, when, for which event: the customer's own list.
    let mut client = NotificationsServiceClient::new(stack.channel(Svc::Notifications));
    let listed = client
        .list_notifications(with_bearer(
            pb::ListNotificationsRequest::default(),
            &customer.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    let summary: Vec<(pb::NotificationKind, pb::NotificationStatus, String)> = listed
        .notifications
        .iter()
        .map(|notification| {
            (
                notification.kind(),
                notification.status(),
                notification.event_type.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                pb::NotificationKind::ShipmentDelivered,
                pb::NotificationStatus::Sent,
                "fulfillment.shipment.delivered.v1".to_owned()
            ),
            (
                pb::NotificationKind::ShipmentShipped,
                pb::NotificationStatus::Sent,
                "fulfillment.shipment.shipped.v1".to_owned()
            ),
            (
                pb::NotificationKind::OrderConfirmed,
                pb::NotificationStatus::Sent,
                "orders.order_confirmed.v1".to_owned()
            ),
        ]
    );
    for notification in &listed.notifications {
        assert_eq!(notification.order_id, order_id);
        assert!(notification.recipient.eq_ignore_ascii_case(&customer.email));
    }

    // Nothing more arrives later.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(mails_to(&mail_dir, &customer.email), expected);

    // The reports show the sale: placed, confirmed and captured at its total.
    let order = shop.order(&customer, &order_id).await.unwrap();
    let total = order.total.unwrap();
    let admin = ecommerce_e2e::shop::admin_session(&stack).await.unwrap();
    let mut reporting = ReportingServiceClient::new(stack.channel(Svc::Reporting));
    let now = std::time::SystemTime::now();
    let request = reporting_pb::GetSalesSummaryRequest {
        from: Some((now - Duration::from_secs(3_600)).into()),
        to: Some((now + Duration::from_secs(3_600)).into()),
        ..Default::default()
    };
    // (count, amount) of one figure over every period (the day may turn).
    let sum =
        |periods: &[reporting_pb::SalesPeriod],
         pick: fn(&reporting_pb::SalesPeriod) -> &Option<reporting_pb::SalesFigure>| {
            periods
                .iter()
                .filter(|period| period.currency == total.currency)
                .filter_map(|period| pick(period).as_ref())
                .fold((0, 0), |(count, amount), figure| {
                    let money = figure.amount.clone().unwrap_or_default();
                    (count + figure.count, amount + money.amount_minor)
                })
        };
    let started = Instant::now();
    let periods = loop {
        let periods = reporting
            .get_sales_summary(with_bearer(request.clone(), &admin.access_token))
            .await
            .unwrap()
            .into_inner()
            .periods;
        if sum(&periods, |period| &period.captured).0 == 1 || started.elapsed() > SAGA {
            break periods;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let sale = (1, total.amount_minor);
    assert_eq!(sum(&periods, |period| &period.placed), sale, "{periods:?}");
    assert_eq!(sum(&periods, |period| &period.confirmed), sale);
    assert_eq!(sum(&periods, |period| &period.captured), sale);
    assert_eq!(sum(&periods, |period| &period.rejected), (0, 0));
    assert_eq!(sum(&periods, |period| &period.canceled), (0, 0));
    stack.finish().await.unwrap();
}
