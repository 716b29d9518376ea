//! notifications-svc as the binary runs it (runtime, migrator, the three
//! consumers, the auth layer), with real Postgres and RabbitMQ: IAM's,
//! orders' and fulfillment's events are published into the topology
//! through upstream outboxes in the test's schema (as those services
//! would), and the mails are read from the file mailer's directory.
//!
//! The service starts with its consumers only (`start_consumers`): each
//! test runs [`MailSender`]s itself, and the exactly-once test aborts one
//! in the middle of a send.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use ecommerce_broker::EventsExchange;
use ecommerce_events::{DecodedEvent, EventMetadata};
use ecommerce_kernel::SystemClock;
use ecommerce_mailer::{MailError, MailSettings, MailVars, Mailer, OutgoingMail};
use ecommerce_outbox::{Outbox, OutboxTable};
use ecommerce_proto::ecommerce::common::v1 as common_pb;
use ecommerce_proto::ecommerce::fulfillment::v1 as fulfillment_pb;
use ecommerce_proto::ecommerce::iam::v1 as iam_pb;
use ecommerce_proto::ecommerce::notifications::v1 as pb;
use ecommerce_proto::ecommerce::notifications::v1::notifications_service_client::NotificationsServiceClient;
use ecommerce_proto::ecommerce::orders::v1 as orders_pb;
use ecommerce_test_support::{
    EVENT_WAIT, TestAuth, TestService, assert_standard_grpc_surface, with_bearer,
};
use notifications_svc::SenderSettings;
use notifications_svc::app::sender::MailSender;
use notifications_svc::domain::RetryPolicy;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use uuid::Uuid;

const SENDER: SenderSettings = SenderSettings {
    poll_interval: Duration::from_millis(50),
    retry: RetryPolicy {
        max_attempts: 3,
        base: Duration::from_millis(50),
        cap: Duration::from_millis(200),
    },
};

struct World {
    service: TestService,
    client: NotificationsServiceClient<Channel>,
    auth: TestAuth,
    iam: Outbox,
    orders: Outbox,
    fulfillment: Outbox,
    mail_dir: tempfile::TempDir,
}

/// A customer as IAM's events describe them.
struct Customer {
    user_id: Uuid,
    email: String,
}

impl World {
    async fn start() -> Self {
        let mut service = TestService::start::<notifications_migration::Migrator>(
            &notifications_svc::SERVICE,
            &[],
        )
        .await
        .unwrap();
        let runtime = service.runtime.clone();
        let mail_dir = tempfile::tempdir().unwrap();
        let app = notifications_svc::start_consumers(&runtime, Arc::new(SystemClock)).unwrap();
        let iam = service
            .upstream(&OutboxTable::IAM, EventsExchange::Iam)
            .await
            .unwrap();
        let orders = service
            .upstream(&OutboxTable::ORDERS, EventsExchange::Orders)
            .await
            .unwrap();
        let fulfillment = service
            .upstream(&OutboxTable::FULFILLMENT, EventsExchange::Fulfillment)
            .await
            .unwrap();
        let auth = TestAuth::new();
        let layer = auth.layer();
        service
            .serve(&notifications_svc::SERVICE, move |server| {
                notifications_svc::register(server, &layer, app)
            })
            .await
            .unwrap();
        let client = NotificationsServiceClient::new(service.channel());
        Self {
            service,
            client,
            auth,
            iam,
            orders,
            fulfillment,
            mail_dir,
        }
    }

    fn sender(&self, mailer: Arc<dyn Mailer>) -> MailSender {
        MailSender::new(
            self.service.runtime.db().clone(),
            mailer,
            Arc::new(SystemClock),
            SENDER,
        )
    }

    /// A sender writing into the mail directory, running until aborted.
    fn spawn_sender(&self) -> JoinHandle<()> {
        let sender = self.sender(file_mailer(self.mail_dir.path()));
        tokio::spawn(sender.run(std::future::pending()))
    }

    /// Publishes `event` as its service would: with a correlation id (the
    /// services always set one; the inbox's batch insert of records
    /// currently panics on a batch holding an event without one).
    async fn publish(&self, outbox: &Outbox, event: impl Into<DecodedEvent>, aggregate: &str) {
        let metadata = EventMetadata::new(aggregate, Uuid::now_v7().to_string())
            .with_correlation_id(format!("test-{}", Uuid::now_v7().simple()));
        self.service.publish(outbox, event, metadata).await.unwrap();
    }

    fn customer(&self) -> Customer {
        let user_id = Uuid::now_v7();
        Customer {
            user_id,
            email: format!("jane-{}@example.com", user_id.simple()),
        }
    }

    async fn register(&self, customer: &Customer) {
        let registered = iam_pb::UserRegistered {
            user_id: customer.user_id.to_string(),
            email: customer.email.to_uppercase(),
            name: "Jane".to_owned(),
        };
        self.publish(&self.iam, registered, "user").await;
    }

    /// orders' `order_placed` for a new order of `customer`; its id.
    async fn place(&self, customer: &Customer) -> String {
        let order_id = Uuid::now_v7().to_string();
        let money = |amount_minor| {
            Some(common_pb::Money {
                amount_minor,
                currency: "EUR".to_owned(),
            })
        };
        let placed = orders_pb::OrderPlaced {
            order_id: order_id.clone(),
            user_id: customer.user_id.to_string(),
            lines: vec![orders_pb::OrderLine {
                sku: "TEE-RED-M".to_owned(),
                title: "Red tee".to_owned(),
                quantity: 2,
                unit_price: money(1999),
                line_total: money(3998),
                ..Default::default()
            }],
            total: money(4497),
            currency: "EUR".to_owned(),
            payment_method_token: "pm_card_visa".to_owned(),
            shipping_option_id: "01936b2e-0000-7000-8000-000000000001".to_owned(),
        };
        self.publish(&self.orders, placed, "order").await;
        order_id
    }

    async fn confirm(&self, customer: &Customer, order_id: &str) {
        let confirmed = orders_pb::OrderConfirmed {
            order_id: order_id.to_owned(),
            user_id: customer.user_id.to_string(),
        };
        self.publish(&self.orders, confirmed, "order").await;
    }

    async fn ship(&self, order_id: &str) {
        let shipped = fulfillment_pb::ShipmentShipped {
            shipment_id: Uuid::now_v7().to_string(),
            order_id: order_id.to_owned(),
            carrier: "DHL".to_owned(),
            tracking_number: "JJD000390007".to_owned(),
        };
        self.publish(&self.fulfillment, shipped, "shipment").await;
    }

    async fn deliver(&self, order_id: &str) {
        let delivered = fulfillment_pb::ShipmentDelivered {
            shipment_id: Uuid::now_v7().to_string(),
            order_id: order_id.to_owned(),
        };
        self.publish(&self.fulfillment, delivered, "shipment").await;
    }

    async fn count(&self, sql: &str) -> i64 {
        self.service.count(sql).await
    }

    /// Polls `sql` (a count) until it is `expected`; panics naming `what`.
    async fn wait_for_count(&self, what: &str, sql: &str, expected: i64) {
        let deadline = tokio::time::Instant::now() + EVENT_WAIT;
        loop {
            let count = self.count(sql).await;
            if count == expected {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: {count}, expected {expected}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_for_mails(&self, expected: usize) -> Vec<Mail> {
        let deadline = tokio::time::Instant::now() + EVENT_WAIT;
        loop {
            let mails = read_mails(self.mail_dir.path());
            if mails.len() >= expected {
                assert_eq!(mails.len(), expected, "{mails:#?}");
                return mails;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} mails, expected {expected}: {mails:#?}",
                mails.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn list(
        &self,
        token: &str,
        request: pb::ListNotificationsRequest,
    ) -> Result<pb::ListNotificationsResponse, tonic::Status> {
        self.client
            .clone()
            .list_notifications(with_bearer(request, token))
            .await
            .map(tonic::Response::into_inner)
    }

    async fn finish(self) {
        self.service.finish().await.unwrap();
    }
}

/// The file mailer writing into `dir`, as the service builds it.
fn file_mailer(dir: &Path) -> Arc<dyn Mailer> {
    MailSettings::file(MailVars::of("TEST"), dir)
        .unwrap()
        .build()
        .unwrap()
}

/// One `.eml` file, as much of it as the tests read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mail {
    file: PathBuf,
    to: String,
    subject: String,
    text: String,
}

/// The mails in the directory, oldest first (the file names sort by time).
fn read_mails(dir: &Path) -> Vec<Mail> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).unwrap();
            let header = |name: &str| {
                text.lines()
                    .find_map(|line| line.strip_prefix(&format!("{name}: ")))
                    .unwrap_or_default()
                    .to_owned()
            };
            Mail {
                to: header("To"),
                subject: header("Subject"),
                file,
                text,
            }
        })
        .collect()
}

#[tokio::test]
async fn a_checkout_through_delivery_mails_the_customer_in_order_and_lists_what_was_sent() {
    let world = World::start().await;
    assert_standard_grpc_surface(
        world.service.server.as_ref().unwrap(),
        "ecommerce.notifications.v1.NotificationsService",
    )
    .await;
    let sender = world.spawn_sender();
    let customer = world.customer();
    world.register(&customer).await;
    let order_id = world.place(&customer).await;
    world.confirm(&customer, &order_id).await;
    world.wait_for_mails(1).await;
    world.ship(&order_id).await;
    world.wait_for_mails(2).await;
    world.deliver(&order_id).await;
    let mails = world.wait_for_mails(3).await;

    let subjects: Vec<&str> = mails.iter().map(|mail| mail.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            format!("Your order {order_id} is confirmed"),
            format!("Your order {order_id} is on its way"),
            format!("Your order {order_id} was delivered"),
        ]
    );
    for mail in &mails {
        assert_eq!(mail.to, customer.email, "lower case, as IAM stores it");
        assert!(mail.text.contains("multipart/alternative"), "{}", mail.text);
        assert!(mail.text.contains("Hello Jane,"), "{}", mail.text);
    }
    assert!(
        mails[0]
            .text
            .contains("2 x Red tee (TEE-RED-M) at EUR 19.99: EUR 39.98")
    );
    assert!(mails[0].text.contains("Total: EUR 44.97"));
    assert!(mails[1].text.contains("Tracking number: JJD000390007"));

    // The owner lists them, newest first, with the events they were for.
    let owner = world.auth.token(customer.user_id, &[]);
    let listed = world
        .list(&owner, pb::ListNotificationsRequest::default())
        .await
        .unwrap();
    let kinds: Vec<pb::NotificationKind> = listed
        .notifications
        .iter()
        .map(|notification| notification.kind())
        .collect();
    assert_eq!(
        kinds,
        [
            pb::NotificationKind::ShipmentDelivered,
            pb::NotificationKind::ShipmentShipped,
            pb::NotificationKind::OrderConfirmed,
        ]
    );
    for notification in &listed.notifications {
        assert_eq!(notification.status(), pb::NotificationStatus::Sent);
        assert_eq!(notification.recipient, customer.email);
        assert_eq!(notification.order_id, order_id);
        assert_eq!(notification.user_id, customer.user_id.to_string());
        assert!(notification.sent_at.is_some());
        assert!(Uuid::parse_str(&notification.event_id).is_ok());
    }
    assert_eq!(
        listed.notifications[2].event_type,
        "orders.order_confirmed.v1"
    );
    assert_eq!(listed.next_page_token, "");

    // Pages of one: three pages, then none.
    let first = world
        .list(
            &owner,
            pb::ListNotificationsRequest {
                page_size: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(first.notifications.len(), 1);
    let second = world
        .list(
            &owner,
            pb::ListNotificationsRequest {
                page_size: 2,
                page_token: first.next_page_token.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(second.notifications.len(), 2);
    assert_eq!(second.next_page_token, "");
    assert_eq!(
        second.notifications[1].id, listed.notifications[2].id,
        "the pages continue where the last ended"
    );

    // Another customer may not name them; an admin may; nobody anonymous.
    let stranger = world.auth.customer_token();
    let by_name = pb::ListNotificationsRequest {
        user_id: customer.user_id.to_string(),
        ..Default::default()
    };
    let refused = world.list(&stranger, by_name.clone()).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    assert!(
        world
            .list(&stranger, pb::ListNotificationsRequest::default())
            .await
            .unwrap()
            .notifications
            .is_empty()
    );
    let admin = world.auth.admin_token();
    assert_eq!(
        world
            .list(&admin, by_name)
            .await
            .unwrap()
            .notifications
            .len(),
        3
    );
    let anonymous = world
        .client
        .clone()
        .list_notifications(pb::ListNotificationsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);
    let invalid = world
        .list(
            &owner,
            pb::ListNotificationsRequest {
                page_size: -1,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), tonic::Code::InvalidArgument);
    assert!(invalid.message().contains("page_size"), "{invalid:?}");

    sender.abort();
    world.finish().await;
}

#[tokio::test]
async fn mails_wait_for_the_address_and_the_order_and_go_when_they_arrive() {
    let world = World::start().await;
    let sender = world.spawn_sender();
    let customer = world.customer();
    let order_id = Uuid::now_v7().to_string();

    // The shipment overtakes everything: no customer, no order, no address.
    world.ship(&order_id).await;
    // A rejected and a canceled order of the same customer, before IAM's
    // registration reached notifications.
    let rejected_order = Uuid::now_v7().to_string();
    let rejected = orders_pb::OrderRejected {
        order_id: rejected_order.clone(),
        user_id: customer.user_id.to_string(),
        reason: orders_pb::OrderRejectionReason::OutOfStock.into(),
        short_lines: vec![orders_pb::ShortLine {
            sku: "MUG-BLUE".to_owned(),
            requested: 3,
            available: 1,
        }],
    };
    world.publish(&world.orders, rejected, "order").await;
    let canceled_order = Uuid::now_v7().to_string();
    let canceled = orders_pb::OrderCanceled {
        order_id: canceled_order.clone(),
        user_id: customer.user_id.to_string(),
        reason: "payment declined: card_declined".to_owned(),
        cause: orders_pb::OrderCancellationCause::PaymentFailed.into(),
    };
    world.publish(&world.orders, canceled, "order").await;
    world
        .wait_for_count(
            "pending notifications",
            "SELECT count(*) AS n FROM notifications WHERE status = 'pending'",
            3,
        )
        .await;
    assert_eq!(
        world
            .count("SELECT count(*) AS n FROM notifications WHERE user_id IS NULL")
            .await,
        1,
        "the shipment names no customer yet"
    );

    // The order arrives: the shipment mail now knows its customer, but
    // still not their address.
    let placed_order = {
        let money = |amount_minor| {
            Some(common_pb::Money {
                amount_minor,
                currency: "EUR".to_owned(),
            })
        };
        orders_pb::OrderPlaced {
            order_id: order_id.clone(),
            user_id: customer.user_id.to_string(),
            lines: vec![orders_pb::OrderLine {
                sku: "TEE-RED-M".to_owned(),
                title: "Red tee".to_owned(),
                quantity: 1,
                unit_price: money(1999),
                line_total: money(1999),
                ..Default::default()
            }],
            total: money(2498),
            currency: "EUR".to_owned(),
            ..Default::default()
        }
    };
    world.publish(&world.orders, placed_order, "order").await;
    world
        .wait_for_count(
            "notifications without a customer",
            "SELECT count(*) AS n FROM notifications WHERE user_id IS NULL",
            0,
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        read_mails(world.mail_dir.path()).is_empty(),
        "no address, no mail"
    );

    // The registration arrives: all three go, in the order of their events.
    world.register(&customer).await;
    let mails = world.wait_for_mails(3).await;
    let subjects: Vec<&str> = mails.iter().map(|mail| mail.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            format!("Your order {order_id} is on its way"),
            format!("We could not accept your order {rejected_order}"),
            format!("Your order {canceled_order} was canceled"),
        ]
    );
    assert!(mails.iter().all(|mail| mail.to == customer.email));
    assert!(
        mails[1]
            .text
            .contains("MUG-BLUE (MUG-BLUE): 3 ordered, 1 available"),
        "{}",
        mails[1].text
    );
    assert!(mails[2].text.contains("Your payment was declined."));
    assert!(
        mails[2]
            .text
            .contains("Reason: payment declined: card_declined")
    );

    // A later verification of the same address changes nothing sent.
    let verified = iam_pb::UserEmailVerified {
        user_id: customer.user_id.to_string(),
        email: customer.email.clone(),
    };
    world.publish(&world.iam, verified, "user").await;
    world
        .wait_for_count(
            "verified contacts",
            "SELECT count(*) AS n FROM contacts WHERE email_verified",
            1,
        )
        .await;
    assert_eq!(
        world
            .count("SELECT count(*) AS n FROM notifications WHERE status = 'sent'")
            .await,
        3
    );
    assert_eq!(read_mails(world.mail_dir.path()).len(), 3);
    sender.abort();
    world.finish().await;
}

/// Hands the first `sends_before_crash - 1` mails to the inner mailer; the
/// next one too, and then the sender's task hangs after the mailer took the
/// mail and before the sender could mark it sent, until the test aborts it:
/// a crash at the worst moment.
#[derive(Debug)]
struct CrashAfterSend {
    inner: Arc<dyn Mailer>,
    sends_before_crash: u32,
    sent: AtomicU32,
    crashed: Arc<Notify>,
}

#[async_trait]
impl Mailer for CrashAfterSend {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        self.inner.send(mail).await?;
        if self.sent.fetch_add(1, Ordering::SeqCst) + 1 == self.sends_before_crash {
            self.crashed.notify_one();
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

#[tokio::test]
async fn duplicate_deliveries_record_each_mail_once_and_a_crash_resends_only_the_mail_in_flight() {
    const ORDERS: usize = 5;
    let world = World::start().await;
    let customer = world.customer();
    world.register(&customer).await;
    let mut order_ids = Vec::new();
    for _ in 0..ORDERS {
        let order_id = world.place(&customer).await;
        world.confirm(&customer, &order_id).await;
        order_ids.push(order_id);
    }
    world
        .wait_for_count(
            "recorded notifications",
            "SELECT count(*) AS n FROM notifications",
            ORDERS as i64,
        )
        .await;

    // Every event again, under the same ids (as a relay killed after the
    // broker's confirm publishes them): the inbox recognises each.
    let republished = world
        .count(
            "WITH republished AS (\
               UPDATE orders_outbox_events SET status = 'pending', published_at = NULL, \
                 next_attempt_at = clock_timestamp() RETURNING 1) \
             SELECT count(*) AS n FROM republished",
        )
        .await;
    assert_eq!(republished, 2 * ORDERS as i64);
    world
        .count(
            "WITH republished AS (\
               UPDATE iam_outbox_events SET status = 'pending', published_at = NULL, \
                 next_attempt_at = clock_timestamp() RETURNING 1) \
             SELECT count(*) AS n FROM republished",
        )
        .await;
    // A new order after them on the same queue: once it is noted, the
    // copies before it were handled.
    let sentinel = world.place(&customer).await;
    world
        .wait_for_count(
            "the sentinel order",
            &format!("SELECT count(*) AS n FROM orders WHERE order_id = '{sentinel}'"),
            1,
        )
        .await;
    world
        .wait_for_count(
            "every event published again",
            "SELECT count(*) AS n FROM orders_outbox_events WHERE status = 'published'",
            2 * ORDERS as i64 + 1,
        )
        .await;
    assert_eq!(
        world.count("SELECT count(*) AS n FROM notifications").await,
        ORDERS as i64,
        "one notification per event and template"
    );
    assert_eq!(world.count("SELECT count(*) AS n FROM contacts").await, 1);
    assert_eq!(
        world.count("SELECT count(*) AS n FROM orders").await,
        ORDERS as i64 + 1
    );

    // A sender takes the mailer's third mail and dies before marking it.
    let crashed = Arc::new(Notify::new());
    let crashing = world.sender(Arc::new(CrashAfterSend {
        inner: file_mailer(world.mail_dir.path()),
        sends_before_crash: 3,
        sent: AtomicU32::new(0),
        crashed: crashed.clone(),
    }));
    let task = tokio::spawn(crashing.run(std::future::pending()));
    tokio::time::timeout(EVENT_WAIT, crashed.notified())
        .await
        .expect("the third mail is sent");
    task.abort();
    let _ = task.await;
    assert_eq!(read_mails(world.mail_dir.path()).len(), 3);
    // Its transaction is gone with it: the third is still pending.
    world
        .wait_for_count(
            "sent before the crash",
            "SELECT count(*) AS n FROM notifications WHERE status = 'sent'",
            2,
        )
        .await;

    // A new sender sends the rest, the one in flight again.
    let sender = world.spawn_sender();
    world
        .wait_for_count(
            "sent after the restart",
            "SELECT count(*) AS n FROM notifications WHERE status = 'sent'",
            ORDERS as i64,
        )
        .await;
    let mails = world.wait_for_mails(ORDERS + 1).await;
    let mut subjects: Vec<String> = mails.iter().map(|mail| mail.subject.clone()).collect();
    let in_flight = subjects[2].clone();
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), ORDERS, "every order's mail at least once");
    let twice: Vec<&Mail> = mails
        .iter()
        .filter(|mail| mail.subject == in_flight)
        .collect();
    assert_eq!(twice.len(), 2, "only the mail in flight went twice");
    for order_id in &order_ids {
        assert!(
            mails
                .iter()
                .any(|mail| mail.subject == format!("Your order {order_id} is confirmed"))
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        read_mails(world.mail_dir.path()).len(),
        ORDERS + 1,
        "nothing more"
    );
    sender.abort();
    world.finish().await;
}

/// Refuses every mail as a full disk would (a failure worth retrying).
#[derive(Debug, Default)]
struct FullDisk {
    attempts: AtomicU32,
}

#[async_trait]
impl Mailer for FullDisk {
    async fn send(&self, _mail: &OutgoingMail) -> Result<(), MailError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        Err(MailError::Write {
            path: PathBuf::from("/var/mail"),
            source: std::io::Error::other("no space left on device"),
        })
    }
}

#[tokio::test]
async fn a_mail_the_mailer_keeps_refusing_is_retried_with_backoff_then_failed() {
    let world = World::start().await;
    let customer = world.customer();
    world.register(&customer).await;
    let order_id = world.place(&customer).await;
    world.confirm(&customer, &order_id).await;
    world
        .wait_for_count(
            "recorded notifications",
            "SELECT count(*) AS n FROM notifications",
            1,
        )
        .await;
    let mailer = Arc::new(FullDisk::default());
    let task = tokio::spawn(world.sender(mailer.clone()).run(std::future::pending()));
    world
        .wait_for_count(
            "failed notifications",
            "SELECT count(*) AS n FROM notifications WHERE status = 'failed' AND attempts = 3",
            1,
        )
        .await;
    task.abort();
    assert_eq!(
        mailer.attempts.load(Ordering::SeqCst),
        3,
        "max_attempts sends"
    );
    let listed = world
        .list(
            &world.auth.token(customer.user_id, &[]),
            pb::ListNotificationsRequest::default(),
        )
        .await
        .unwrap();
    let notification = &listed.notifications[0];
    assert_eq!(notification.status(), pb::NotificationStatus::Failed);
    assert_eq!(notification.failed_attempts, 3);
    assert_eq!(notification.recipient, "", "never sent");
    assert!(notification.sent_at.is_none());
    assert_eq!(
        world
            .count(
                "SELECT count(*) AS n FROM notifications WHERE last_error LIKE '%no space left%'"
            )
            .await,
        1
    );
    world.finish().await;
}
