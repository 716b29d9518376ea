//! The consumer runtime: manual acks after the handler, bounded retries,
//! dead-lettering with a reason, reconnects and graceful shutdown.
//!
//! [`Consumer::run`] consumes one queue until its shutdown future completes.
//! Each delivery goes to the [`MessageHandler`]; the message is acknowledged
//! only after the handler returned (the inbox runs its database transaction
//! inside the handler, so the ack follows the commit). The handler's
//! [`HandlerOutcome`] decides the rest:
//!
//! - `Ack`: `basic.ack`.
//! - `Retry`: a transient failure. Wait (capped exponential backoff with
//!   jitter), then `basic.nack(requeue)`; the quorum queue counts the return in
//!   `x-delivery-count`. Once that count has reached the retry budget the
//!   message is dead-lettered instead.
//! - `DeadLetter`: publish a copy to the dead-letter exchange under the
//!   queue's DLQ routing key, with `x-death-reason` and the original queue,
//!   exchange and routing key in headers, wait for its confirm, then ack the
//!   original. If that publish fails the message is requeued, never dropped.
//!
//! A handler that panics counts as a `Retry`.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use ecommerce_events::MessageProperties;
use futures::{FutureExt as _, StreamExt as _};
use lapin::message::Delivery as AmqpDelivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{Instrument as _, debug, error, info, info_span, instrument, warn};

use crate::connection::Broker;
use crate::origin::EventOrigin;

/// Messages a consumer settled, by queue and how (`handled`: acknowledged
/// after its handler; `retried`: a transient failure, requeued or parked for
/// a delayed retry; `dead_lettered`: sent to the DLQ).
static CONSUMER_MESSAGES: std::sync::LazyLock<consumer_metrics::Counters> =
    std::sync::LazyLock::new(consumer_metrics::Counters::register);

mod consumer_metrics {
    use ecommerce_platform::metrics::prometheus::{IntCounterVec, Opts};
    use ecommerce_platform::metrics::register;

    pub(super) struct Counters {
        pub handled: IntCounterVec,
        pub retried: IntCounterVec,
        pub dead_lettered: IntCounterVec,
    }

    impl Counters {
        pub(super) fn register() -> Self {
            let counter = |name: &str, help: &str| {
                register(IntCounterVec::new(Opts::new(name, help), &["queue"]))
            };
            Self {
                handled: counter(
                    "consumer_handled_messages_total",
                    "Messages a consumer handled and acknowledged, by queue.",
                ),
                retried: counter(
                    "consumer_retried_messages_total",
                    "Transient failures a consumer retried (requeued or parked for a delayed retry), by queue.",
                ),
                dead_lettered: counter(
                    "consumer_dead_lettered_messages_total",
                    "Messages a consumer sent to its dead-letter queue, by queue.",
                ),
            }
        }
    }
}
use crate::properties::{
    DELIVERY_COUNT_HEADER, delivery_count, from_basic_properties, header_count, header_string,
};
use crate::publisher::{PreparedMessage, Publisher};
use crate::settings::ConsumerSettings;
use crate::topology::{
    self, DeadLetterRoute, RETRY_WAIT_ROUTING_KEY, retry_exchange_name, retry_path,
};

/// Header of a dead-lettered copy: why the consumer gave up on it.
pub const DEATH_REASON_HEADER: &str = "x-death-reason";
/// Header of a dead-lettered copy: the queue it was consumed from.
pub const ORIGINAL_QUEUE_HEADER: &str = "x-original-queue";
/// Header of a dead-lettered copy: the exchange it was first published to.
pub const ORIGINAL_EXCHANGE_HEADER: &str = "x-original-exchange";
/// Header of a dead-lettered copy: the routing key it was first published with.
pub const ORIGINAL_ROUTING_KEY_HEADER: &str = "x-original-routing-key";
/// Header of a dead-lettered copy: the broker user that first published it
/// (the copy's own `user_id` is the consumer's, as RabbitMQ requires).
pub const ORIGINAL_USER_ID_HEADER: &str = "x-original-user-id";

/// Header of a delayed-retry copy: how many delayed retries it has had.
pub const RETRY_COUNT_HEADER: &str = "x-retry-count";
/// Header of a delayed-retry copy: why the last attempt failed.
pub const RETRY_REASON_HEADER: &str = "x-retry-reason";

/// How long shutdown waits for the broker to confirm `basic.cancel`.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(5);

/// One received message, as the handler sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub body: Arc<[u8]>,
    /// The AMQP properties in event terms (scalar headers as text).
    pub properties: MessageProperties,
    /// The queue it was consumed from.
    pub queue: String,
    pub exchange: String,
    pub routing_key: String,
    /// The broker delivered it before (to this or another consumer).
    pub redelivered: bool,
    /// `x-delivery-count`: how many times it was returned to the queue before
    /// this delivery (0 the first time).
    pub delivery_count: u32,
    /// The AMQP `user_id`: the broker user that published it (RabbitMQ
    /// refuses a publish whose `user_id` is not the connection's user).
    pub user_id: Option<String>,
    /// How many delayed retries it has had (0 unless it came back from its
    /// queue's wait queue).
    pub delayed_retries: u32,
}

impl Delivery {
    pub(crate) fn from_amqp(delivery: &AmqpDelivery, queue: &str) -> Self {
        let origin = PublishedAs::of(delivery, queue);
        Self {
            body: Arc::from(delivery.data.as_slice()),
            properties: from_basic_properties(&delivery.properties),
            queue: queue.to_owned(),
            exchange: origin.exchange,
            routing_key: origin.routing_key,
            redelivered: delivery.redelivered,
            delivery_count: delivery_count(&delivery.properties),
            user_id: origin.user_id,
            delayed_retries: origin.delayed_retries,
        }
    }
}

/// How a delivery was first published. For one that came back through its
/// queue's retry exchange (which only this queue's consumer may write to,
/// and the broker names the exchange a delivery came through), that is what
/// the consumer recorded in the headers when it parked the message;
/// otherwise the delivery's own exchange, routing key and user.
struct PublishedAs {
    exchange: String,
    routing_key: String,
    user_id: Option<String>,
    delayed_retries: u32,
}

impl PublishedAs {
    fn of(delivery: &AmqpDelivery, queue: &str) -> Self {
        let properties = &delivery.properties;
        let user_id = properties
            .user_id()
            .as_ref()
            .map(|user_id| user_id.as_str().to_owned());
        if delivery.exchange.as_str() == retry_exchange_name(queue) {
            return Self {
                exchange: header_string(properties, ORIGINAL_EXCHANGE_HEADER).unwrap_or_default(),
                routing_key: header_string(properties, ORIGINAL_ROUTING_KEY_HEADER)
                    .unwrap_or_default(),
                user_id: header_string(properties, ORIGINAL_USER_ID_HEADER),
                delayed_retries: header_count(properties, RETRY_COUNT_HEADER),
            };
        }
        Self {
            exchange: delivery.exchange.as_str().to_owned(),
            routing_key: delivery.routing_key.as_str().to_owned(),
            user_id,
            delayed_retries: 0,
        }
    }
}

/// What the handler decided about a delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandlerOutcome {
    /// Handled (or already handled before): acknowledge.
    Ack,
    /// A transient failure: requeue after a backoff, up to the retry budget.
    Retry { reason: String },
    /// It will never succeed (undecodable, invalid): to the DLQ with `reason`.
    DeadLetter { reason: String },
}

impl HandlerOutcome {
    pub fn retry(reason: impl Into<String>) -> Self {
        Self::Retry {
            reason: reason.into(),
        }
    }

    pub fn dead_letter(reason: impl Into<String>) -> Self {
        Self::DeadLetter {
            reason: reason.into(),
        }
    }
}

/// Handles deliveries. Implemented for every
/// `Fn(Delivery) -> impl Future<Output = HandlerOutcome>` closure.
pub trait MessageHandler: Send + Sync + 'static {
    fn handle(&self, delivery: Delivery) -> impl Future<Output = HandlerOutcome> + Send;

    /// Whether [`handle_batch`](Self::handle_batch) gains anything from
    /// several deliveries at once (the inbox: one transaction). When it does
    /// not (the default), the consumer hands over one delivery at a time.
    fn handles_batches(&self) -> bool {
        false
    }

    /// Handles deliveries that arrived together (at most
    /// [`ConsumerSettings::batch_size`], in queue order) and returns one
    /// outcome per delivery, in the same order. The default handles them one
    /// at a time, a panic counting as that delivery's `Retry`; the inbox
    /// overrides it to apply a batch in one transaction.
    fn handle_batch(
        &self,
        deliveries: Vec<Delivery>,
    ) -> impl Future<Output = Vec<HandlerOutcome>> + Send {
        async move {
            let mut outcomes = Vec::with_capacity(deliveries.len());
            for delivery in deliveries {
                let outcome = AssertUnwindSafe(self.handle(delivery))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|panic| HandlerOutcome::retry(panic_message(&*panic)));
                outcomes.push(outcome);
            }
            outcomes
        }
    }
}

impl<Function, HandlerFuture> MessageHandler for Function
where
    Function: Fn(Delivery) -> HandlerFuture + Send + Sync + 'static,
    HandlerFuture: Future<Output = HandlerOutcome> + Send,
{
    fn handle(&self, delivery: Delivery) -> impl Future<Output = HandlerOutcome> + Send {
        self(delivery)
    }
}

/// Why [`Consumer::run`] could not consume at all.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error("queue `{queue}` is not in the topology or has no dead-letter route")]
    NoDeadLetterRoute { queue: String },
    #[error("queue name `{queue}` is not a valid AMQP short string")]
    InvalidQueueName { queue: String },
    #[error("the broker was closed while consuming `{queue}`")]
    BrokerClosed { queue: String },
}

/// Consumes queues of a [`Broker`]; obtained from [`Broker::consumer`].
#[derive(Clone, Debug)]
pub struct Consumer {
    broker: Broker,
    settings: ConsumerSettings,
}

/// What every delivery task of one `run` shares.
struct RunContext<H> {
    queue: String,
    /// Checked before the handler: an event from the wrong exchange or user
    /// is dead-lettered unseen.
    origin: EventOrigin,
    dead_letter: DeadLetterRoute,
    /// This queue's `<queue>.retry` exchange, for delayed retries.
    retry_exchange: String,
    settings: ConsumerSettings,
    handler: H,
    dead_letter_publisher: Publisher,
    /// Becomes true at shutdown, to cut retry waits short.
    stopping: watch::Receiver<bool>,
}

impl Consumer {
    pub(crate) fn new(broker: Broker, settings: ConsumerSettings) -> Self {
        Self { broker, settings }
    }

    /// The same consumer with other settings (prefetch, concurrency, retries).
    pub fn with_settings(mut self, settings: ConsumerSettings) -> Self {
        self.settings = settings;
        self
    }

    pub fn settings(&self) -> &ConsumerSettings {
        &self.settings
    }

    /// Consumes `queue` until `shutdown` completes, following the broker
    /// across reconnects. At shutdown it cancels the consumer (no new
    /// deliveries), waits for every running handler and its ack, closes the
    /// channel (the broker requeues what was prefetched but not handled) and
    /// returns `Ok`.
    ///
    /// `queue` must be declared in the broker's topology with a dead-letter route.
    #[instrument(skip_all, fields(queue = %queue), err)]
    pub async fn run<H: MessageHandler>(
        &self,
        queue: &str,
        handler: H,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ConsumerError> {
        let dead_letter = self
            .broker
            .topology()
            .queue(queue)
            .and_then(|declaration| declaration.dead_letter.clone())
            .ok_or_else(|| ConsumerError::NoDeadLetterRoute {
                queue: queue.to_owned(),
            })?;
        let queue_name =
            ShortString::try_new(queue).map_err(|_| ConsumerError::InvalidQueueName {
                queue: queue.to_owned(),
            })?;
        let (stopping_sender, stopping) = watch::channel(false);
        let context = Arc::new(RunContext {
            queue: queue.to_owned(),
            origin: EventOrigin::from_settings(self.broker.settings()),
            dead_letter,
            retry_exchange: retry_exchange_name(queue),
            settings: self.settings,
            handler,
            dead_letter_publisher: self.broker.publisher(),
            stopping,
        });
        let concurrency = self.settings.concurrency.max(1);
        let batch_size = if context.handler.handles_batches() {
            self.settings.batch_size.max(1)
        } else {
            1
        };
        let restart_backoff = self.broker.settings().reconnect_backoff;
        let mut in_flight: JoinSet<()> = JoinSet::new();
        let mut failed_starts: u32 = 0;
        let mut shutdown = std::pin::pin!(shutdown);
        let mut broker_closed = false;
        let mut consuming_channel: Option<Channel> = None;

        'consume: loop {
            let session = tokio::select! {
                () = &mut shutdown => break 'consume,
                session = self.broker.session() => session,
            };
            let Ok(session) = session else {
                // Waiting without a timeout only fails once the broker is closed.
                broker_closed = true;
                break 'consume;
            };
            let started =
                start_consuming(&session.connection, queue, &queue_name, &self.settings).await;
            let (channel, mut deliveries) = match started {
                Ok(started) => started,
                Err(error) => {
                    let delay = restart_backoff.delay(failed_starts);
                    failed_starts = failed_starts.saturating_add(1);
                    warn!(
                        %error,
                        attempt = failed_starts,
                        retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "could not start consuming"
                    );
                    tokio::select! {
                        () = &mut shutdown => break 'consume,
                        () = tokio::time::sleep(delay) => continue 'consume,
                    }
                }
            };
            failed_starts = 0;
            let consumer_tag = deliveries.tag();
            info!(generation = session.generation, %consumer_tag, "consuming");
            consuming_channel = Some(channel.clone());

            loop {
                while let Some(joined) = in_flight.try_join_next() {
                    report_task_end(joined);
                }
                let has_capacity = in_flight.len() < concurrency;
                tokio::select! {
                    biased;
                    () = &mut shutdown => {
                        cancel_consumer(&channel, &consumer_tag).await;
                        break 'consume;
                    }
                    Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                        report_task_end(joined);
                    }
                    next = deliveries.next(), if has_capacity => {
                        let (batch, stream_end) = take_batch(next, &mut deliveries, batch_size);
                        if !batch.is_empty() {
                            in_flight.spawn(handle_batch(Arc::clone(&context), batch));
                        }
                        match stream_end {
                            None => {}
                            Some(StreamEnd::Failed(error)) => {
                                warn!(%error, "consumer channel failed; resuming on the next connection");
                                break;
                            }
                            Some(StreamEnd::Cancelled) => {
                                warn!("the broker cancelled the consumer; resuming");
                                break;
                            }
                        }
                    }
                }
            }
            if let Some(lost) = consuming_channel.take() {
                close_quietly(lost);
            }
            // The loss may be the channel alone: pause before reopening it.
            let delay = restart_backoff.delay(0);
            tokio::select! {
                () = &mut shutdown => break 'consume,
                () = tokio::time::sleep(delay) => {}
            }
        }

        stopping_sender.send_replace(true);
        let unfinished = in_flight.len();
        if unfinished > 0 {
            info!(unfinished, "waiting for in-flight handlers");
        }
        while let Some(joined) = in_flight.join_next().await {
            report_task_end(joined);
        }
        if let Some(channel) = consuming_channel {
            if let Err(error) = channel.close(200, "consumer stopped".into()).await {
                debug!(%error, "could not close the consumer channel");
            }
        }
        if broker_closed {
            return Err(ConsumerError::BrokerClosed {
                queue: queue.to_owned(),
            });
        }
        info!("consumer stopped");
        Ok(())
    }
}

async fn start_consuming(
    connection: &lapin::Connection,
    queue_name: &str,
    queue: &ShortString,
    settings: &ConsumerSettings,
) -> Result<(Channel, lapin::Consumer), Box<dyn std::error::Error + Send + Sync>> {
    let channel = connection.create_channel().await?;
    // Idempotent, and on every (re)start: the retry path is this consumer's own.
    topology::declare(&channel, &retry_path(queue_name)).await?;
    channel
        .basic_qos(settings.prefetch, BasicQosOptions { global: false })
        .await?;
    let deliveries = channel
        .basic_consume(
            queue.clone(),
            // The broker picks a unique tag.
            ShortString::from(""),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok((channel, deliveries))
}

async fn cancel_consumer(channel: &Channel, consumer_tag: &ShortString) {
    let cancel = channel.basic_cancel(consumer_tag.clone(), BasicCancelOptions::default());
    match tokio::time::timeout(CANCEL_TIMEOUT, cancel).await {
        Ok(Ok(())) => debug!(%consumer_tag, "consumer cancelled"),
        Ok(Err(error)) => debug!(%consumer_tag, %error, "could not cancel the consumer"),
        Err(_) => debug!(%consumer_tag, "cancelling the consumer timed out"),
    }
}

fn close_quietly(channel: Channel) {
    if !channel.status().connected() {
        return;
    }
    tokio::spawn(async move {
        if let Err(error) = channel.close(200, "consumer restarting".into()).await {
            debug!(%error, "could not close the old consumer channel");
        }
    });
}

fn report_task_end(joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined {
        // Handler panics are caught inside the task; this is a runtime failure.
        error!(%error, "delivery task failed");
    }
}

/// How a consumer's delivery stream ended.
enum StreamEnd {
    Failed(lapin::Error),
    Cancelled,
}

/// `first` plus whatever has already arrived, up to `batch_size` deliveries,
/// and how the stream ended if it did.
fn take_batch(
    first: Option<Result<AmqpDelivery, lapin::Error>>,
    deliveries: &mut lapin::Consumer,
    batch_size: usize,
) -> (Vec<AmqpDelivery>, Option<StreamEnd>) {
    let mut batch = Vec::new();
    let mut next = first;
    loop {
        match next {
            Some(Ok(delivery)) => batch.push(delivery),
            Some(Err(error)) => return (batch, Some(StreamEnd::Failed(error))),
            None => return (batch, Some(StreamEnd::Cancelled)),
        }
        if batch.len() >= batch_size {
            return (batch, None);
        }
        match deliveries.next().now_or_never() {
            Some(arrived) => next = arrived,
            None => return (batch, None),
        }
    }
}

/// Checks each delivery's origin, hands the accepted ones to the handler as
/// one batch, then settles every delivery by its outcome.
async fn handle_batch<H: MessageHandler>(
    context: Arc<RunContext<H>>,
    amqp_deliveries: Vec<AmqpDelivery>,
) {
    let span = info_span!(
        "handle_batch",
        queue = %context.queue,
        size = amqp_deliveries.len(),
    );
    async {
        let mut outcomes: Vec<Option<HandlerOutcome>> = vec![None; amqp_deliveries.len()];
        let mut accepted = Vec::with_capacity(amqp_deliveries.len());
        let mut accepted_positions = Vec::with_capacity(amqp_deliveries.len());
        for (position, amqp_delivery) in amqp_deliveries.iter().enumerate() {
            let delivery = Delivery::from_amqp(amqp_delivery, &context.queue);
            match context.origin.check(&delivery) {
                Ok(()) => {
                    accepted.push(delivery);
                    accepted_positions.push(position);
                }
                Err(reason) => {
                    outcomes[position] = Some(HandlerOutcome::dead_letter(format!(
                        "refused as forged or misrouted: {reason}"
                    )));
                }
            }
        }
        if !accepted.is_empty() {
            let count = accepted.len();
            let handled = AssertUnwindSafe(context.handler.handle_batch(accepted))
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| vec![HandlerOutcome::retry(panic_message(&*panic)); count]);
            let mut handled = handled.into_iter();
            for position in accepted_positions {
                outcomes[position] = Some(handled.next().unwrap_or_else(|| {
                    HandlerOutcome::retry("the handler returned no outcome for this delivery")
                }));
            }
        }
        let outcomes = outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap_or_else(|| HandlerOutcome::retry("not handled")));
        settle(&context, &amqp_deliveries, outcomes).await;
    }
    .instrument(span)
    .await;
}

/// Settles a batch: retries and dead-letters first, each on its own, then
/// the acknowledgements. With one batch in flight at a time, a contiguous
/// run of acks is one `multiple` ack of the last (every earlier tag on the
/// channel is settled by then).
async fn settle<H>(
    context: &RunContext<H>,
    amqp_deliveries: &[AmqpDelivery],
    outcomes: impl Iterator<Item = HandlerOutcome>,
) {
    let mut acknowledged = Vec::new();
    for (amqp_delivery, outcome) in amqp_deliveries.iter().zip(outcomes) {
        let delivery_count = delivery_count(&amqp_delivery.properties);
        let published_as = PublishedAs::of(amqp_delivery, &context.queue);
        let span = delivery_span(&context.queue, amqp_delivery, delivery_count);
        async {
            match outcome {
                HandlerOutcome::Ack => {
                    CONSUMER_MESSAGES
                        .handled
                        .with_label_values(&[context.queue.as_str()])
                        .inc();
                    acknowledged.push(amqp_delivery);
                }
                HandlerOutcome::Retry { reason } => {
                    retry(
                        context,
                        amqp_delivery,
                        &published_as,
                        delivery_count,
                        &reason,
                    )
                    .await;
                }
                HandlerOutcome::DeadLetter { reason } => {
                    dead_letter(context, amqp_delivery, &published_as, &reason).await;
                }
            }
        }
        .instrument(span)
        .await;
    }
    match acknowledged.as_slice() {
        [] => {}
        [.., last] if context.settings.concurrency <= 1 => {
            acknowledge(last, acknowledged.len() > 1).await;
        }
        each => {
            for amqp_delivery in each {
                acknowledge(amqp_delivery, false).await;
            }
        }
    }
}

/// A transient failure: first the immediate retries (requeued after a
/// short backoff, counted by the quorum queue's `x-delivery-count`), then
/// the delayed ones (parked in the wait queue for `retry_delay`, counted in
/// `x-retry-count`), then the DLQ.
async fn retry<H>(
    context: &RunContext<H>,
    delivery: &AmqpDelivery,
    published_as: &PublishedAs,
    delivery_count: u32,
    reason: &str,
) {
    let settings = &context.settings;
    let immediate = published_as.delayed_retries == 0 && delivery_count < settings.retry_budget;
    if immediate {
        let delay = settings.retry_backoff.delay(delivery_count);
        warn!(
            %reason,
            retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "handler asked for a retry"
        );
        wait_unless_stopping(context, delay).await;
        requeue(delivery).await;
        CONSUMER_MESSAGES
            .retried
            .with_label_values(&[context.queue.as_str()])
            .inc();
    } else if published_as.delayed_retries < settings.delayed_retries {
        park_for_retry(context, delivery, published_as, reason).await;
        CONSUMER_MESSAGES
            .retried
            .with_label_values(&[context.queue.as_str()])
            .inc();
    } else {
        let reason = if settings.delayed_retries == 0 {
            format!(
                "retry budget of {} exhausted: {reason}",
                settings.retry_budget
            )
        } else {
            format!(
                "retry budget of {} immediate and {} delayed retries ({} s apart) exhausted: {reason}",
                settings.retry_budget,
                settings.delayed_retries,
                settings.retry_delay.as_secs_f64()
            )
        };
        dead_letter(context, delivery, published_as, &reason).await;
    }
}

/// Publishes a copy to the queue's retry exchange, to wait out the retry
/// delay, then acks the original; the broker dead-letters the copy back to
/// the queue when it expires. If the publish fails the message is requeued.
async fn park_for_retry<H>(
    context: &RunContext<H>,
    delivery: &AmqpDelivery,
    published_as: &PublishedAs,
    reason: &str,
) {
    let exchange = ShortString::try_new(context.retry_exchange.as_str());
    let Ok(exchange) = exchange else {
        error!("the retry exchange is not a valid AMQP name; requeueing");
        requeue(delivery).await;
        return;
    };
    let retries = published_as.delayed_retries.saturating_add(1);
    let delay_ms = u64::try_from(context.settings.retry_delay.as_millis()).unwrap_or(u64::MAX);
    let mut properties = copy_properties(&delivery.properties, published_as, |headers| {
        headers.insert(RETRY_COUNT_HEADER.into(), AMQPValue::LongUInt(retries));
        headers.insert(
            RETRY_REASON_HEADER.into(),
            AMQPValue::LongString(LongString::from(reason)),
        );
    });
    properties = properties.with_expiration(ShortString::from(delay_ms.to_string()));
    let copy = PreparedMessage {
        exchange,
        routing_key: ShortString::from(RETRY_WAIT_ROUTING_KEY),
        body: &delivery.data,
        properties,
    };
    let published = context
        .dead_letter_publisher
        .publish_prepared(std::slice::from_ref(&copy))
        .await
        .pop();
    match published {
        Some(Ok(())) => {
            warn!(
                %reason,
                delayed_retry = retries,
                of = context.settings.delayed_retries,
                retry_in_ms = delay_ms,
                "handler asked for a retry; parked in the wait queue"
            );
            acknowledge(delivery, false).await;
        }
        Some(Err(error)) => {
            error!(%reason, %error, "could not park the message for a delayed retry; requeueing it");
            wait_unless_stopping(context, context.settings.retry_backoff.delay(0)).await;
            requeue(delivery).await;
        }
        None => requeue(delivery).await,
    }
}

fn delivery_span(queue: &str, delivery: &AmqpDelivery, delivery_count: u32) -> tracing::Span {
    let property = |value: Option<&ShortString>| {
        value
            .map(|value| value.as_str().to_owned())
            .unwrap_or_default()
    };
    info_span!(
        "settle_delivery",
        queue = %queue,
        message_id = %property(delivery.properties.message_id().as_ref()),
        event_type = %property(delivery.properties.kind().as_ref()),
        routing_key = %delivery.routing_key,
        delivery_count,
        redelivered = delivery.redelivered,
    )
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_owned());
    format!("handler panicked: {detail}")
}

async fn wait_unless_stopping<H>(context: &RunContext<H>, delay: Duration) {
    let mut stopping = context.stopping.clone();
    tokio::select! {
        () = tokio::time::sleep(delay) => {}
        // At shutdown the message goes back at once rather than holding up the stop.
        _ = stopping.wait_for(|stopping| *stopping) => {}
    }
}

/// Acks `delivery`; with `multiple`, every earlier unsettled delivery of
/// the channel too.
async fn acknowledge(delivery: &AmqpDelivery, multiple: bool) {
    match delivery.acker.ack(BasicAckOptions { multiple }).await {
        Ok(_) => debug!(multiple, "acknowledged"),
        // The channel is gone: the broker redelivers it, and the inbox skips it.
        Err(error) => warn!(%error, "could not acknowledge; the message will be redelivered"),
    }
}

async fn requeue(delivery: &AmqpDelivery) {
    let options = BasicNackOptions {
        multiple: false,
        requeue: true,
    };
    match delivery.acker.nack(options).await {
        Ok(_) => debug!("message requeued"),
        Err(error) => warn!(%error, "could not requeue; the broker requeues it with the channel"),
    }
}

/// Publishes a copy to the DLQ with the reason, then acks the original.
async fn dead_letter<H>(
    context: &RunContext<H>,
    delivery: &AmqpDelivery,
    published_as: &PublishedAs,
    reason: &str,
) {
    let exchange = ShortString::try_new(context.dead_letter.exchange.as_str());
    let routing_key = ShortString::try_new(context.dead_letter.routing_key.as_str());
    let (Ok(exchange), Ok(routing_key)) = (exchange, routing_key) else {
        // Names come from a topology that declared fine, so this cannot happen in practice.
        error!("the dead-letter route is not a valid AMQP name; requeueing");
        requeue(delivery).await;
        return;
    };
    let copy = PreparedMessage {
        exchange,
        routing_key,
        body: &delivery.data,
        properties: copy_properties(&delivery.properties, published_as, |headers| {
            headers.insert(
                DEATH_REASON_HEADER.into(),
                AMQPValue::LongString(LongString::from(reason)),
            );
            headers.insert(
                ORIGINAL_QUEUE_HEADER.into(),
                AMQPValue::LongString(LongString::from(context.queue.as_str())),
            );
        }),
    };
    let published = context
        .dead_letter_publisher
        .publish_prepared(std::slice::from_ref(&copy))
        .await
        .pop();
    match published {
        Some(Ok(())) => {
            CONSUMER_MESSAGES
                .dead_lettered
                .with_label_values(&[context.queue.as_str()])
                .inc();
            warn!(
                %reason,
                dead_letter_queue = %context.dead_letter.routing_key,
                "message dead-lettered"
            );
            acknowledge(delivery, false).await;
        }
        Some(Err(error)) => {
            error!(%reason, %error, "could not dead-letter the message; requeueing it");
            wait_unless_stopping(context, context.settings.retry_backoff.delay(0)).await;
            requeue(delivery).await;
        }
        None => requeue(delivery).await,
    }
}

/// The properties of a copy (dead-lettered or parked): the original's,
/// persistent, with the original exchange, routing key and user in headers
/// (the copy's own are the consumer's) and what `add` puts in.
fn copy_properties(
    original: &BasicProperties,
    published_as: &PublishedAs,
    add: impl FnOnce(&mut FieldTable),
) -> BasicProperties {
    let mut headers = FieldTable::default();
    if let Some(original_headers) = original.headers() {
        for (name, value) in original_headers.inner() {
            // The queues count their own deliveries.
            if name.as_str() != DELIVERY_COUNT_HEADER {
                headers.insert(name.clone(), value.clone());
            }
        }
    }
    let text = |value: &str| AMQPValue::LongString(LongString::from(value));
    headers.insert(
        ORIGINAL_EXCHANGE_HEADER.into(),
        text(&published_as.exchange),
    );
    headers.insert(
        ORIGINAL_ROUTING_KEY_HEADER.into(),
        text(&published_as.routing_key),
    );
    if let Some(user_id) = &published_as.user_id {
        headers.insert(ORIGINAL_USER_ID_HEADER.into(), text(user_id));
    }
    add(&mut headers);
    original
        .clone()
        .with_headers(headers)
        .with_delivery_mode(ecommerce_events::DELIVERY_MODE_PERSISTENT)
}
