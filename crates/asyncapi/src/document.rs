//! One service's AsyncAPI 3.0.0 document, as JSON.
//!
//! - one channel per exchange the service publishes to or reads from
//!   (address = exchange name, AMQP binding `is: routingKey` with the
//!   exchange as declared), its messages keyed by event type, which is also
//!   the routing key;
//! - a `send` operation per event type the service publishes, a `receive`
//!   operation per binding of each queue or stream it reads; the queue
//!   itself (an AMQP channel binding cannot name an exchange and a queue at
//!   once) is in an operation trait shared by its operations, as the
//!   `x-queue` extension of their AMQP binding: type, arguments as declared,
//!   dead-lettering, delayed-retry path and consumer settings;
//! - each message: the AMQP body as protobuf ([`crate::protobuf`]), the
//!   AMQP headers table as JSON Schema, the AMQP properties in its binding.

use ecommerce_broker::consumer::{
    DEATH_REASON_HEADER, ORIGINAL_EXCHANGE_HEADER, ORIGINAL_QUEUE_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER, ORIGINAL_USER_ID_HEADER, RETRY_COUNT_HEADER, RETRY_REASON_HEADER,
};
use ecommerce_broker::lapin::types::{AMQPValue, FieldTable};
use ecommerce_broker::lapin::uri::AMQPUri;
use ecommerce_broker::permissions::{self, BrokerPermissions};
use ecommerce_broker::properties::DELIVERY_COUNT_HEADER;
use ecommerce_broker::settings::{AMQP_URL_VAR, DEFAULT_AMQP_URL};
use ecommerce_broker::topology::{
    ExchangeDeclaration, ExchangeType, QueueKind, TOPOLOGY_PREFIX_VAR, retry_path,
};
use ecommerce_events::{CONTENT_TYPE_PROTOBUF, DELIVERY_MODE_PERSISTENT, EventTypeInfo, headers};
use serde_json::{Map, Value, json};

use crate::AsyncApiError;
use crate::facts::{Consumed, Reading, ServiceFacts, System, follows_revocations};
use crate::protobuf;

/// The AsyncAPI version of every document.
pub const ASYNCAPI_VERSION: &str = "3.0.0";
/// The AMQP bindings version the documents use.
pub const AMQP_BINDING_VERSION: &str = "0.3.0";
/// The id of the one server of every document.
pub const SERVER: &str = "rabbitmq";
/// The id of the security scheme of that server.
const SECURITY_SCHEME: &str = "brokerUser";
/// The id of the AMQP headers schema every message refines.
pub const EVENT_HEADERS_SCHEMA: &str = "EventHeaders";
/// The id of the AMQP properties schema every message refines.
pub const AMQP_PROPERTIES_SCHEMA: &str = "AmqpProperties";

/// The document of `facts.service` under `system`.
pub fn build(system: &System, facts: &ServiceFacts) -> Result<Value, AsyncApiError> {
    let service = facts.service.name;
    let mut channels = Map::new();
    for exchange in facts.exchanges() {
        channels.insert(exchange.to_owned(), channel(system, facts, exchange)?);
    }

    let mut operations = Map::new();
    for sent in &facts.sends {
        operations.insert(
            format!("send.{}", sent.event.event_type),
            send_operation(system, service, sent.event, &sent.exchange),
        );
    }
    let mut operation_traits = Map::new();
    for consumed in &facts.consumes {
        operation_traits.insert(
            consumed.queue.name.clone(),
            queue_trait(system, facts, consumed)?,
        );
        for binding in &consumed.bindings {
            operations.insert(
                format!("receive.{}.{}", consumed.queue.name, binding.routing_key),
                receive_operation(service, consumed, &binding.exchange, &binding.routing_key),
            );
        }
    }

    let mut messages = Map::new();
    for event in facts.event_types() {
        messages.insert(event.event_type.to_owned(), message(system, event)?);
    }

    Ok(json!({
        "asyncapi": ASYNCAPI_VERSION,
        "id": format!("urn:ecommerce:{service}"),
        "info": info(facts),
        "defaultContentType": CONTENT_TYPE_PROTOBUF,
        "servers": { SERVER: server()? },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "operationTraits": operation_traits,
            "schemas": {
                EVENT_HEADERS_SCHEMA: headers_schema(),
                AMQP_PROPERTIES_SCHEMA: properties_schema(),
            },
            "securitySchemes": { SECURITY_SCHEME: security_scheme(system, service) },
        },
    }))
}

fn info(facts: &ServiceFacts) -> Value {
    let service = facts.service.name;
    let sends = match facts.sends.len() {
        0 => "publishes no events".to_owned(),
        count => format!(
            "publishes {count} event type{} ({})",
            plural(count),
            code_list(facts.sends.iter().map(|sent| sent.event.event_type))
        ),
    };
    let receives = match facts.consumes.len() {
        0 => "reads no queue".to_owned(),
        _ => format!(
            "reads {}",
            code_list(
                facts
                    .consumes
                    .iter()
                    .map(|consumed| consumed.queue.name.as_str())
            )
        ),
    };
    let description = format!(
        "The RabbitMQ events of {service}: it {sends} and {receives}.\n\n\
         Generated by the `ecommerce-asyncapi` crate from the topology declaration \
         (`crates/broker/src/topology.rs`), the broker permissions \
         (`crates/broker/src/permissions.rs`) and the compiled descriptors of `proto/`; \
         regenerate with `cargo run -p ecommerce-asyncapi --bin asyncapi-gen -- --write`, \
         never by hand (the test suite fails when this file differs).\n\n\
         Names and limits are the defaults: each exchange and queue name is overridable \
         by the variable given as `x-env-var`, `{TOPOLOGY_PREFIX_VAR}` prefixes them all, \
         and the delivery limit and retry settings have their `AMQP_*` variables. \
         Every event is an `{envelope}` in protobuf; the AMQP properties and headers \
         mirror it.",
        envelope = protobuf::ENVELOPE_MESSAGE,
    );
    json!({
        "title": format!("{service} events"),
        "version": env!("CARGO_PKG_VERSION"),
        "description": description,
        "license": { "name": env!("CARGO_PKG_LICENSE") },
        "x-service": {
            "name": service,
            "envPrefix": facts.service.env_prefix,
            "grpcPort": facts.service.default_port,
        },
    })
}

fn server() -> Result<Value, AsyncApiError> {
    let uri: AMQPUri = DEFAULT_AMQP_URL
        .parse()
        .map_err(|error| AsyncApiError::Topology(format!("the default AMQP URL: {error}")))?;
    let host = format!("{}:{}", uri.authority.host, uri.authority.port);
    Ok(json!({
        "host": "{host}",
        "protocol": "amqp",
        "protocolVersion": "0.9.1",
        "title": "RabbitMQ",
        "description": format!(
            "The broker of `<PREFIX>_AMQP_URL` (the service's own, e.g. `ORDERS_AMQP_URL`) \
             or else `{AMQP_URL_VAR}`, default `{}` with the credentials left out: \
             vhost `{}`.",
            without_credentials(DEFAULT_AMQP_URL),
            uri.vhost
        ),
        "variables": {
            "host": {
                "default": host,
                "description": format!("Host and port of `{AMQP_URL_VAR}`."),
            },
        },
        "security": [{ "$ref": format!("#/components/securitySchemes/{SECURITY_SCHEME}") }],
    }))
}

fn security_scheme(system: &System, service: &str) -> Value {
    let granted = BrokerPermissions::for_service(service, &system.settings.names, &system.topology);
    json!({
        "type": "userPassword",
        "description": format!(
            "The user and password of the server's URL: `guest`/`guest` locally; with \
             `scripts/broker-users`, {service}'s own broker user, whose RabbitMQ permissions \
             (`ecommerce_broker::permissions`) are in `x-rabbitmq-permissions`. Every \
             message it publishes carries that user as its AMQP `user_id`."
        ),
        "x-rabbitmq-permissions": {
            "configure": granted.configure,
            "write": granted.write,
            "read": granted.read,
        },
    })
}

fn channel(system: &System, facts: &ServiceFacts, exchange: &str) -> Result<Value, AsyncApiError> {
    let declaration = system.exchange(exchange)?;
    let events_exchange = system
        .events_exchange(exchange)
        .ok_or_else(|| AsyncApiError::Topology(format!("{exchange} is not an events exchange")))?;
    let mut messages = Map::new();
    let sent = facts
        .sends
        .iter()
        .filter(|sent| sent.exchange == exchange)
        .map(|sent| sent.event.event_type);
    let received = facts.consumes.iter().flat_map(|consumed| {
        consumed
            .bindings
            .iter()
            .filter(|binding| binding.exchange == exchange)
            .map(|binding| binding.routing_key.as_str())
    });
    for event_type in sent.chain(received) {
        messages.insert(
            event_type.to_owned(),
            json!({ "$ref": format!("#/components/messages/{}", pointer_segment(event_type)) }),
        );
    }
    let publishers = permissions::publishers(events_exchange);
    let alternate = match &declaration.alternate_exchange {
        Some(alternate) => format!(
            " A message no queue is bound for goes to the alternate exchange `{alternate}` \
             and its capped queue, never silently dropped."
        ),
        None => String::new(),
    };
    let description = format!(
        "The durable {} exchange {} publish{} to, with the event type as routing key; \
         consumers bind their queues to exact event types.{alternate}",
        exchange_type(declaration.exchange_type),
        and_list(publishers.iter().copied()),
        if publishers.len() == 1 { "es" } else { "" },
    );
    Ok(json!({
        "address": exchange,
        "title": exchange,
        "description": description,
        "messages": messages,
        "servers": [{ "$ref": format!("#/servers/{SERVER}") }],
        "bindings": { "amqp": exchange_binding(declaration, events_exchange.env_var())? },
    }))
}

fn exchange_binding(
    declaration: &ExchangeDeclaration,
    env_var: &str,
) -> Result<Value, AsyncApiError> {
    Ok(json!({
        "is": "routingKey",
        "exchange": {
            "name": declaration.name,
            "type": exchange_type(declaration.exchange_type),
            // `topology::declare` declares every exchange durable, and
            // never auto-deleted, on the default vhost of the URL.
            "durable": true,
            "autoDelete": false,
            "vhost": vhost()?,
        },
        "x-arguments": arguments(&declaration.arguments())?,
        "x-env-var": env_var,
        "bindingVersion": AMQP_BINDING_VERSION,
    }))
}

fn send_operation(system: &System, service: &str, event: &EventTypeInfo, exchange: &str) -> Value {
    let bound = system.bound_queues(exchange, event.event_type);
    let bound = if bound.is_empty() {
        "No queue is bound to it.".to_owned()
    } else {
        format!(
            "Bound to it: {}.",
            bound
                .iter()
                .map(|queue| format!("`{queue}` ({})", readers(system, queue)))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    json!({
        "action": "send",
        "channel": channel_ref(exchange),
        "messages": [message_ref(exchange, event.event_type)],
        "title": format!("Publish {}", event.event_type),
        "summary": format!("{service} publishes `{}` to `{exchange}`.", event.event_type),
        "description": format!(
            "Written to {service}'s outbox in the transaction of the state change, then \
             published by its relay with routing key `{}`: persistent, `mandatory`, and \
             marked published only once the broker confirms it. {bound}",
            event.event_type
        ),
        "bindings": {
            "amqp": {
                "deliveryMode": DELIVERY_MODE_PERSISTENT,
                "mandatory": true,
                "timestamp": true,
                "x-routing-key": event.event_type,
                "bindingVersion": AMQP_BINDING_VERSION,
            },
        },
    })
}

fn receive_operation(
    service: &str,
    consumed: &Consumed,
    exchange: &str,
    event_type: &str,
) -> Value {
    let queue = &consumed.queue.name;
    json!({
        "action": "receive",
        "channel": channel_ref(exchange),
        "messages": [message_ref(exchange, event_type)],
        "title": format!("Receive {event_type} from {queue}"),
        "summary": format!(
            "{service} reads `{event_type}` from `{queue}`, bound to `{exchange}` with \
             routing key `{event_type}`."
        ),
        "traits": [{ "$ref": format!("#/components/operationTraits/{}", pointer_segment(queue)) }],
        "x-binding-key": event_type,
    })
}

/// What every operation reading `consumed` shares: the queue and how it is read.
fn queue_trait(
    system: &System,
    facts: &ServiceFacts,
    consumed: &Consumed,
) -> Result<Value, AsyncApiError> {
    let queue = &consumed.queue;
    let consumer = system.settings.consumer;
    let mut x_queue = json!({
        "name": queue.name,
        "x-env-var": consumed.reading.env_var(),
        // `topology::declare` declares every queue durable, neither
        // exclusive nor auto-deleted.
        "durable": true,
        "exclusive": false,
        "autoDelete": false,
        "vhost": vhost()?,
        "type": queue_type(&queue.kind),
        "arguments": arguments(&queue.arguments())?,
    });
    let description = match consumed.reading {
        Reading::Consumer(_) => {
            let route = queue.dead_letter.as_ref().ok_or_else(|| {
                AsyncApiError::Topology(format!("{} dead-letters nowhere", queue.name))
            })?;
            let dead_letter_queue = system
                .topology
                .bindings
                .iter()
                .find(|binding| {
                    binding.exchange == route.exchange && binding.routing_key == route.routing_key
                })
                .and_then(|binding| system.topology.queue(&binding.queue))
                .ok_or_else(|| {
                    AsyncApiError::Topology(format!(
                        "nothing is bound to {} with {}",
                        route.exchange, route.routing_key
                    ))
                })?;
            let retry = retry_path(&queue.name);
            let (Some(retry_exchange), Some(wait_queue)) =
                (retry.exchanges.first(), retry.queues.first())
            else {
                return Err(AsyncApiError::Topology(format!(
                    "{} has no delayed-retry path",
                    queue.name
                )));
            };
            let delivery_limit = queue.delivery_limit.ok_or_else(|| {
                AsyncApiError::Topology(format!("{} has no delivery limit", queue.name))
            })?;
            let retry_delay_ms =
                u64::try_from(consumer.retry_delay.as_millis()).unwrap_or(u64::MAX);
            insert(&mut x_queue, "deliveryLimit", json!(delivery_limit));
            insert(
                &mut x_queue,
                "deadLetter",
                json!({
                    "exchange": route.exchange,
                    "routingKey": route.routing_key,
                    "queue": {
                        "name": dead_letter_queue.name,
                        "type": queue_type(&dead_letter_queue.kind),
                        "arguments": arguments(&dead_letter_queue.arguments())?,
                    },
                    "headers": [DEATH_REASON_HEADER, ORIGINAL_QUEUE_HEADER, ORIGINAL_EXCHANGE_HEADER, ORIGINAL_ROUTING_KEY_HEADER, ORIGINAL_USER_ID_HEADER],
                }),
            );
            insert(
                &mut x_queue,
                "retryPath",
                json!({
                    "exchange": {
                        "name": retry_exchange.name,
                        "type": exchange_type(retry_exchange.exchange_type),
                    },
                    "waitQueue": {
                        "name": wait_queue.name,
                        "type": queue_type(&wait_queue.kind),
                        "arguments": arguments(&wait_queue.arguments())?,
                    },
                    "bindings": retry
                        .bindings
                        .iter()
                        .map(|binding| json!({
                            "exchange": binding.exchange,
                            "queue": binding.queue,
                            "routingKey": binding.routing_key,
                        }))
                        .collect::<Vec<_>>(),
                }),
            );
            insert(
                &mut x_queue,
                "consumer",
                json!({
                    "prefetch": consumer.prefetch,
                    "concurrency": consumer.concurrency,
                    "batchSize": consumer.batch_size,
                    "retryBudget": consumer.retry_budget,
                    "delayedRetries": consumer.delayed_retries,
                    "retryDelayMs": retry_delay_ms,
                }),
            );
            format!(
                "{service} consumes the durable quorum queue `{name}`, competing with its \
                 other instances, and acknowledges a message once its handler returned. A \
                 transient failure is requeued up to {budget} times (`AMQP_RETRY_BUDGET`), \
                 then parked {delayed} times for {delay} s (`AMQP_DELAYED_RETRIES`, \
                 `AMQP_RETRY_DELAY_MS`) in `{wait}` through the direct exchange `{retry}`, \
                 which the consumer declares when it starts. After that, or at once for a \
                 message it cannot handle or that did not come from its event type's \
                 exchange (and, with `AMQP_EVENT_PRODUCER_USER`, its producer's broker \
                 user), the consumer publishes a copy to `{dlx}` with routing key \
                 `{dlq_key}`, so to `{dlq}`, with the reason in `{DEATH_REASON_HEADER}`. \
                 The broker itself dead-letters to the same queue (with its `x-death` \
                 header) after `x-delivery-limit` {delivery_limit} returns.",
                service = facts.service.name,
                name = queue.name,
                budget = consumer.retry_budget,
                delayed = consumer.delayed_retries,
                delay = retry_delay_ms / 1000,
                wait = wait_queue.name,
                retry = retry_exchange.name,
                dlx = route.exchange,
                dlq_key = route.routing_key,
                dlq = dead_letter_queue.name,
            )
        }
        Reading::RevocationsStream => format!(
            "Every instance of {service} that serves gRPC follows the stream `{name}` to \
             refuse the access tokens IAM revoked (sign-out, new roles, account lock): on \
             every attachment it replays the stream from one token lifetime back \
             (`x-stream-offset` as an interval), so a restarted process knows what was \
             revoked while it was down. Every reader gets every message; nothing is \
             retried or dead-lettered, and a message not from IAM's exchange is ignored.",
            service = facts.service.name,
            name = queue.name,
        ),
        Reading::ReportingStream => format!(
            "{service} reads the stream `{name}` from the offset it keeps in its database, \
             stored in the transaction of what each message changed, so each event counts \
             once; `reporting-svc rebuild` empties the read model and reads the stream \
             again from its first offset. Nothing is retried or dead-lettered: the stream \
             keeps every message for its retention (`x-max-age`, `x-max-length-bytes`).",
            service = facts.service.name,
            name = queue.name,
        ),
    };
    Ok(json!({
        "description": description,
        "bindings": {
            "amqp": {
                "ack": true,
                "x-queue": x_queue,
                "bindingVersion": AMQP_BINDING_VERSION,
            },
        },
    }))
}

fn message(system: &System, event: &EventTypeInfo) -> Result<Value, AsyncApiError> {
    let payload = protobuf::event_message(event)?;
    let file = protobuf::source_file(&payload);
    let comment = protobuf::message_comment(&payload);
    let producer = ecommerce_broker::origin::producer_service(event.event_type).unwrap_or_default();
    let exchange = system
        .settings
        .names
        .exchange_for(event.event_type)
        .ok_or_else(|| AsyncApiError::Topology(format!("{} has no exchange", event.event_type)))?;
    let wire = format!(
        "The AMQP body is an `{envelope}` whose `payload` holds an `{message}` \
         (`{file}`, schema version {version}); the AMQP properties (in the AMQP binding) \
         and headers mirror the envelope. Published by {producer} to `{exchange}` with \
         routing key `{event_type}`.",
        envelope = protobuf::ENVELOPE_MESSAGE,
        message = event.message_name,
        version = event.version,
        event_type = event.event_type,
    );
    let description = match &comment {
        Some(comment) => format!("{comment}\n\n{wire}"),
        None => wire,
    };
    let mut object = json!({
        "name": event.event_type,
        "title": event.message_name,
        "description": description,
        "contentType": CONTENT_TYPE_PROTOBUF,
        "correlationId": {
            "location": "$message.payload#/correlation_id",
            "description": "The envelope's `correlation_id`, also the AMQP `correlation_id` \
                            property: shared by every event of one business flow, e.g. one \
                            checkout.",
        },
        // The shared schemas, narrowed to this event type.
        "headers": {
            "type": "object",
            "allOf": [
                { "$ref": format!("#/components/schemas/{EVENT_HEADERS_SCHEMA}") },
                {
                    "properties": {
                        headers::SCHEMA: {
                            "pattern": format!(
                                "^{}@v{}(#[0-9]+)?$",
                                event.message_name.replace('.', "\\."),
                                event.version
                            ),
                        },
                    },
                },
            ],
        },
        "payload": {
            "schemaFormat": protobuf::SCHEMA_FORMAT,
            "schema": protobuf::envelope_schema(event)?,
        },
        "bindings": {
            "amqp": {
                "messageType": event.event_type,
                "x-properties": {
                    "type": "object",
                    "allOf": [
                        { "$ref": format!("#/components/schemas/{AMQP_PROPERTIES_SCHEMA}") },
                        { "properties": { "type": { "const": event.event_type } } },
                    ],
                },
                "bindingVersion": AMQP_BINDING_VERSION,
            },
        },
        "x-event-type": event.event_type,
        "x-protobuf-message": event.message_name,
        "x-proto-file": file,
        "x-schema-version": event.version,
        "x-producer": producer,
    });
    if let Some(summary) = comment.as_deref().and_then(first_sentence) {
        insert(&mut object, "summary", json!(summary));
    }
    Ok(object)
}

/// The AMQP headers table of an event message, as JSON Schema.
fn headers_schema() -> Value {
    let text = |description: &str| json!({ "type": "string", "description": description });
    json!({
        "type": "object",
        "description": "The AMQP headers table. The producer sets the aggregate, schema, \
                        causation and trace headers from the envelope (which stays the \
                        source of truth), as long strings. A quorum queue adds \
                        `x-delivery-count` on a redelivery, and a consumer parking a message \
                        for a delayed retry adds the retry count, reason and original route; \
                        RabbitMQ may add its own (`x-death`, `x-first-death-*`).",
        "required": [headers::AGGREGATE_ID, headers::AGGREGATE_TYPE, headers::SCHEMA],
        "properties": {
            headers::AGGREGATE_TYPE: text("The envelope's `aggregate.type`, e.g. `order`."),
            headers::AGGREGATE_ID: text("The envelope's `aggregate.id`."),
            headers::SCHEMA: {
                "type": "string",
                "pattern": "^[A-Za-z0-9_.]+@v[0-9]+(#[0-9]+)?$",
                "description": "`<message name>@v<major version>`, then `#<registry id>` once \
                                the producer registered the schema with the schema registry.",
            },
            headers::SCHEMA_ID: {
                "type": "string",
                "pattern": "^[0-9]+$",
                "description": "The schema registry id of the payload's schema, in decimal \
                                (the envelope's `schema.registry_id`); only once registered.",
            },
            headers::CAUSATION_ID: text(
                "The envelope's `causation_id`: the id of the event or request that caused \
                 this one, when known.",
            ),
            headers::TRACEPARENT: text(
                "W3C trace context of the span that produced the event (the envelope's \
                 `trace_context.traceparent`), when traced.",
            ),
            headers::TRACESTATE: text("W3C `tracestate` that goes with `traceparent`, when any."),
            DELIVERY_COUNT_HEADER: {
                "type": "integer",
                "minimum": 0,
                "description": "Set by the quorum queue on a redelivered message: how many \
                                times it was returned before.",
            },
            RETRY_COUNT_HEADER: {
                "type": "integer",
                "minimum": 1,
                "description": "Set by the consumer on a copy parked for a delayed retry: \
                                how many delayed retries it has had.",
            },
            RETRY_REASON_HEADER: text(
                "Set by the consumer on a copy parked for a delayed retry: why the last \
                 attempt failed.",
            ),
            ORIGINAL_EXCHANGE_HEADER: text(
                "Set by the consumer on a parked or dead-lettered copy: the exchange the \
                 event was first published to.",
            ),
            ORIGINAL_ROUTING_KEY_HEADER: text(
                "Set by the consumer on a parked or dead-lettered copy: the routing key the \
                 event was first published with.",
            ),
            ORIGINAL_USER_ID_HEADER: text(
                "Set by the consumer on a parked or dead-lettered copy: the broker user that \
                 first published the event.",
            ),
        },
    })
}

/// The AMQP basic properties of an event message, as JSON Schema.
fn properties_schema() -> Value {
    json!({
        "type": "object",
        "description": "The AMQP basic properties of the message.",
        "required": ["content_type", "delivery_mode", "message_id", "timestamp", "type"],
        "properties": {
            "message_id": {
                "type": "string",
                "format": "uuid",
                "description": "The envelope's `id`, a UUID v7; consumers deduplicate on it.",
            },
            "type": {
                "type": "string",
                "description": "The event type, also the routing key.",
            },
            "timestamp": {
                "type": "integer",
                "minimum": 0,
                "description": "The envelope's `occurred_at`, in seconds since the Unix epoch.",
            },
            "correlation_id": {
                "type": "string",
                "description": "The envelope's `correlation_id`, when set.",
            },
            "content_type": { "type": "string", "const": CONTENT_TYPE_PROTOBUF },
            "delivery_mode": {
                "type": "integer",
                "const": DELIVERY_MODE_PERSISTENT,
                "description": "Persistent.",
            },
            "user_id": {
                "type": "string",
                "description": "The publishing connection's broker user (RabbitMQ refuses \
                                any other). With `AMQP_EVENT_PRODUCER_USER` set, consumers \
                                refuse an event whose user is not its producer's.",
            },
        },
    })
}

/// Who reads `queue`: its consumer service, or a stream's readers.
fn readers(system: &System, queue: &str) -> String {
    let names = &system.settings.names;
    if queue == names.revocations_stream() {
        let readers: Vec<&str> = ecommerce_platform::services::ALL
            .iter()
            .map(|service| service.name)
            .filter(|service| follows_revocations(service))
            .collect();
        return format!("stream, read by {}", readers.join(", "));
    }
    if queue == names.reporting_stream() {
        return format!(
            "stream, read by {}",
            ecommerce_platform::services::REPORTING.name
        );
    }
    ecommerce_broker::ConsumerQueue::ALL
        .into_iter()
        .find(|consumer_queue| names.queue(*consumer_queue) == queue)
        .map(permissions::consumer)
        .unwrap_or_else(|| "unknown".to_owned())
}

/// A declaration's arguments, exactly as sent to the broker, as JSON.
fn arguments(table: &FieldTable) -> Result<Value, AsyncApiError> {
    let mut object = Map::new();
    for (name, value) in table.inner() {
        let value = match value {
            AMQPValue::LongString(text) => json!(String::from_utf8_lossy(text.as_bytes())),
            AMQPValue::ShortString(text) => json!(text.as_str()),
            AMQPValue::LongLongInt(number) => json!(number),
            AMQPValue::LongInt(number) => json!(number),
            AMQPValue::LongUInt(number) => json!(number),
            AMQPValue::ShortInt(number) => json!(number),
            AMQPValue::ShortUInt(number) => json!(number),
            AMQPValue::Boolean(flag) => json!(flag),
            other => {
                return Err(AsyncApiError::Unsupported(format!(
                    "declaration argument {name} = {other:?}"
                )));
            }
        };
        object.insert(name.as_str().to_owned(), value);
    }
    Ok(Value::Object(object))
}

fn vhost() -> Result<String, AsyncApiError> {
    let uri: AMQPUri = DEFAULT_AMQP_URL
        .parse()
        .map_err(|error| AsyncApiError::Topology(format!("the default AMQP URL: {error}")))?;
    Ok(uri.vhost)
}

fn without_credentials(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, rest))) => format!("{scheme}://{rest}"),
        _ => url.to_owned(),
    }
}

fn exchange_type(exchange_type: ExchangeType) -> &'static str {
    match exchange_type {
        ExchangeType::Topic => "topic",
        ExchangeType::Fanout => "fanout",
        ExchangeType::Direct => "direct",
    }
}

fn queue_type(kind: &QueueKind) -> &'static str {
    match kind {
        QueueKind::Quorum => "quorum",
        QueueKind::Stream { .. } => "stream",
    }
}

fn channel_ref(exchange: &str) -> Value {
    json!({ "$ref": format!("#/channels/{}", pointer_segment(exchange)) })
}

fn message_ref(exchange: &str, event_type: &str) -> Value {
    json!({
        "$ref": format!(
            "#/channels/{}/messages/{}",
            pointer_segment(exchange),
            pointer_segment(event_type)
        )
    })
}

/// A JSON Pointer segment (RFC 6901).
fn pointer_segment(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

fn insert(object: &mut Value, key: &str, value: Value) {
    if let Value::Object(map) = object {
        map.insert(key.to_owned(), value);
    }
}

/// The first sentence of a comment, on one line.
fn first_sentence(comment: &str) -> Option<String> {
    let paragraph = comment.split("\n\n").next()?;
    let joined = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
    let sentence = match joined.find(". ") {
        Some(end) => &joined[..=end],
        None => joined.as_str(),
    };
    (!sentence.is_empty()).then(|| sentence.to_owned())
}

fn code_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn and_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<&str> = items.collect();
    match items.split_last() {
        None => "nobody".to_owned(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use ecommerce_broker::topology::{REPORTING_EVENT_TYPES, REVOCATION_EVENT_TYPES};
    use ecommerce_broker::{ConsumerQueue, EventsExchange};
    use ecommerce_events::{EVENT_TYPES, EventMetadata, TraceContext};
    use ecommerce_platform::services;
    use prost::Message as _;

    use super::*;

    fn document_of(service: &str) -> Value {
        crate::document(service).unwrap()
    }

    /// Follows `reference` (and the references it leads to) to an object.
    fn resolve<'a>(document: &'a Value, reference: &Value) -> &'a Value {
        let pointer = reference["$ref"].as_str().unwrap();
        let pointer = pointer.strip_prefix('#').unwrap();
        let target = document
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{pointer} does not resolve"));
        if target.get("$ref").is_some() {
            return resolve(document, target);
        }
        target
    }

    /// `(action, channel address, event type, queue of its trait)` of every operation.
    fn operations(document: &Value) -> BTreeSet<(String, String, String, String)> {
        let mut found = BTreeSet::new();
        for operation in document["operations"].as_object().unwrap().values() {
            let channel = resolve(document, &operation["channel"]);
            let [message] = operation["messages"].as_array().unwrap().as_slice() else {
                panic!("one message per operation: {operation}");
            };
            let queue = match operation["traits"].as_array() {
                Some(traits) => {
                    resolve(document, &traits[0])["bindings"]["amqp"]["x-queue"]["name"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                }
                None => String::new(),
            };
            found.insert((
                operation["action"].as_str().unwrap().to_owned(),
                channel["address"].as_str().unwrap().to_owned(),
                resolve(document, message)["name"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                queue,
            ));
        }
        found
    }

    fn receive(queue: &str, exchange: &str, event_type: &str) -> (String, String, String, String) {
        (
            "receive".to_owned(),
            exchange.to_owned(),
            event_type.to_owned(),
            queue.to_owned(),
        )
    }

    fn revocations() -> impl Iterator<Item = (String, String, String, String)> {
        REVOCATION_EVENT_TYPES.iter().map(|(exchange, event_type)| {
            receive("iam.revocations", exchange.default_name(), event_type)
        })
    }

    #[test]
    fn inventory_receives_exactly_its_queues_binding_keys_and_sends_the_inventory_events() {
        let document = document_of("inventory-svc");
        let receives: BTreeSet<_> = [
            ConsumerQueue::InventoryOrderEvents,
            ConsumerQueue::InventoryCatalogEvents,
        ]
        .into_iter()
        .flat_map(|queue| {
            queue
                .binding_keys()
                .iter()
                .map(move |key| receive(queue.default_name(), queue.source().default_name(), key))
        })
        .chain(revocations())
        .collect();
        let sends: BTreeSet<_> = EVENT_TYPES
            .iter()
            .filter(|info| info.event_type.starts_with("inventory."))
            .map(|info| {
                (
                    "send".to_owned(),
                    "inventory.events".to_owned(),
                    info.event_type.to_owned(),
                    String::new(),
                )
            })
            .collect();
        assert!(!sends.is_empty());
        let expected: BTreeSet<_> = receives.union(&sends).cloned().collect();
        assert_eq!(operations(&document), expected);
    }

    #[test]
    fn the_orders_exchange_in_the_payments_document_sends_only_payments_events() {
        let document = document_of("payments-svc");
        let on_orders: Vec<(String, String)> = operations(&document)
            .into_iter()
            .filter(|(_, channel, _, _)| channel == "orders.events")
            .map(|(action, _, event_type, _)| (action, event_type))
            .collect();
        let sent: Vec<&str> = on_orders
            .iter()
            .filter(|(action, _)| action == "send")
            .map(|(_, event_type)| event_type.as_str())
            .collect();
        let payments_events: Vec<&str> = EVENT_TYPES
            .iter()
            .map(|info| info.event_type)
            .filter(|event_type| event_type.starts_with("payments."))
            .collect();
        assert_eq!(sent, payments_events);
        let received: BTreeSet<&str> = on_orders
            .iter()
            .filter(|(action, _)| action == "receive")
            .map(|(_, event_type)| event_type.as_str())
            .collect();
        let bound: BTreeSet<&str> = ConsumerQueue::PaymentsOrderEvents
            .binding_keys()
            .iter()
            .copied()
            .collect();
        assert_eq!(received, bound);
        // The channel lists what is sent and what is received there, nothing else.
        let listed: BTreeSet<&str> = document["channels"]["orders.events"]["messages"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let expected: BTreeSet<&str> = bound.iter().copied().chain(payments_events).collect();
        assert_eq!(listed, expected);
    }

    #[test]
    fn reporting_receives_from_its_stream() {
        let document = document_of("reporting-svc");
        let from_stream: BTreeSet<(String, String)> = operations(&document)
            .into_iter()
            .filter(|(_, _, _, queue)| queue == "reporting.event-stream")
            .map(|(action, exchange, event_type, _)| {
                assert_eq!(action, "receive");
                (exchange, event_type)
            })
            .collect();
        let expected: BTreeSet<(String, String)> = REPORTING_EVENT_TYPES
            .iter()
            .map(|(exchange, event_type)| {
                (exchange.default_name().to_owned(), (*event_type).to_owned())
            })
            .collect();
        assert_eq!(from_stream, expected);
        let queue = &document["components"]["operationTraits"]["reporting.event-stream"]["bindings"]
            ["amqp"]["x-queue"];
        assert_eq!(queue["type"], "stream");
        assert_eq!(queue["durable"], true);
        assert_eq!(queue["arguments"]["x-queue-type"], "stream");
        assert_eq!(queue["arguments"]["x-max-age"], "90D");
        assert!(queue.get("deadLetter").is_none());
        assert!(
            operations(&document)
                .iter()
                .all(|(action, _, _, _)| action == "receive")
        );
    }

    #[test]
    fn a_consumer_queue_says_its_limit_dead_lettering_and_retry_path() {
        let document = document_of("inventory-svc");
        let amqp = &document["components"]["operationTraits"]["inventory.order-events"]["bindings"]
            ["amqp"];
        assert_eq!(amqp["ack"], true);
        let queue = &amqp["x-queue"];
        assert_eq!(queue["type"], "quorum");
        assert_eq!(queue["x-env-var"], "INVENTORY_ORDER_EVENTS_QUEUE");
        assert_eq!(queue["deliveryLimit"], 10);
        assert_eq!(
            queue["arguments"],
            json!({
                "x-queue-type": "quorum",
                "x-delivery-limit": 10,
                "x-dead-letter-exchange": "dead-letter",
                "x-dead-letter-routing-key": "inventory.order-events.dlq",
            })
        );
        assert_eq!(queue["deadLetter"]["exchange"], "dead-letter");
        assert_eq!(
            queue["deadLetter"]["queue"]["name"],
            "inventory.order-events.dlq"
        );
        assert_eq!(
            queue["retryPath"]["exchange"]["name"],
            "inventory.order-events.retry"
        );
        assert_eq!(
            queue["retryPath"]["waitQueue"]["arguments"]["x-dead-letter-routing-key"],
            "inventory.order-events"
        );
    }

    #[test]
    fn every_document_is_self_consistent() {
        for service in crate::documented_services().unwrap() {
            let document = document_of(service.name);
            assert_eq!(document["asyncapi"], "3.0.0");
            assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
            let server = &document["servers"]["rabbitmq"];
            assert_eq!(server["protocol"], "amqp");
            assert_eq!(server["host"], "{host}");
            assert_eq!(server["variables"]["host"]["default"], "127.0.0.1:5672");
            let mut references = Vec::new();
            collect_references(&document, &mut references);
            for reference in &references {
                resolve(&document, &json!({ "$ref": reference }));
            }
            for (id, channel) in document["channels"].as_object().unwrap() {
                assert_eq!(channel["address"], *id);
                let exchange = &channel["bindings"]["amqp"]["exchange"];
                assert_eq!(channel["bindings"]["amqp"]["is"], "routingKey");
                assert_eq!(exchange["name"], *id);
                assert_eq!(exchange["type"], "topic");
                assert_eq!(exchange["durable"], true);
                assert_eq!(exchange["autoDelete"], false);
                assert_eq!(exchange["vhost"], "/");
                assert_eq!(
                    channel["bindings"]["amqp"]["x-arguments"]["alternate-exchange"],
                    "unrouted"
                );
                for (event_type, message) in channel["messages"].as_object().unwrap() {
                    assert_eq!(resolve(&document, message)["name"], *event_type);
                    assert_eq!(
                        EventsExchange::for_event_type(event_type)
                            .map(EventsExchange::default_name),
                        Some(id.as_str())
                    );
                }
            }
            for operation in document["operations"].as_object().unwrap().values() {
                let channel = operation["channel"]["$ref"].as_str().unwrap();
                for message in operation["messages"].as_array().unwrap() {
                    let message = message["$ref"].as_str().unwrap();
                    assert!(
                        message.starts_with(&format!("{channel}/messages/")),
                        "{message}"
                    );
                }
            }
            for message in document["components"]["messages"]
                .as_object()
                .unwrap()
                .values()
            {
                assert_eq!(message["contentType"], CONTENT_TYPE_PROTOBUF);
                assert_eq!(message["payload"]["schemaFormat"], protobuf::SCHEMA_FORMAT);
                assert_eq!(
                    message["correlationId"]["location"],
                    "$message.payload#/correlation_id"
                );
            }
        }
    }

    fn collect_references(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(object) => {
                if let Some(Value::String(reference)) = object.get("$ref") {
                    found.push(reference.clone());
                }
                object
                    .values()
                    .for_each(|value| collect_references(value, found));
            }
            Value::Array(items) => items
                .iter()
                .for_each(|value| collect_references(value, found)),
            _ => {}
        }
    }

    #[test]
    fn the_registry_receives_the_revocations_and_iam_receives_nothing() {
        let registry = operations(&document_of("schema-registry"));
        assert_eq!(registry, revocations().collect());
        let iam = operations(&document_of("iam-svc"));
        assert!(
            iam.iter().all(|(action, _, _, _)| action == "send"),
            "{iam:?}"
        );
    }

    #[test]
    fn the_headers_and_properties_are_what_the_codec_produces() {
        let document = document_of("orders-svc");
        let schemas = &document["components"]["schemas"];
        let documented = schemas[EVENT_HEADERS_SCHEMA]["properties"]
            .as_object()
            .unwrap();
        let required: Vec<&str> = schemas[EVENT_HEADERS_SCHEMA]["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|name| name.as_str().unwrap())
            .collect();
        let info = ecommerce_events::event_type_info("orders.order_placed.v1").unwrap();
        let bare = ecommerce_events::encode_payload(
            info.event_type,
            info.message_name,
            info.version,
            Vec::new(),
            &EventMetadata::new("order", "o-1"),
        );
        let mut bare_headers: Vec<&str> =
            bare.properties.headers.keys().map(String::as_str).collect();
        bare_headers.sort_unstable();
        let mut required_sorted = required.clone();
        required_sorted.sort_unstable();
        assert_eq!(bare_headers, required_sorted);

        let mut metadata = EventMetadata::new("order", "o-1")
            .with_correlation_id("checkout-1")
            .with_causation_id("cause-1")
            .with_trace_context(TraceContext {
                traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned(),
                tracestate: "vendor=1".to_owned(),
            });
        metadata.schema_registry_id = Some(42);
        let full = ecommerce_events::encode_payload(
            info.event_type,
            info.message_name,
            info.version,
            Vec::new(),
            &metadata,
        );
        for name in full.properties.headers.keys() {
            assert!(documented.contains_key(name), "{name} is not documented");
        }
        assert_eq!(
            full.properties.headers[headers::SCHEMA],
            "ecommerce.orders.v1.OrderPlaced@v1#42"
        );
        assert_eq!(full.properties.content_type, CONTENT_TYPE_PROTOBUF);
        assert_eq!(full.properties.delivery_mode, DELIVERY_MODE_PERSISTENT);

        // The body's `Any` names the message as the schema's type URL says.
        let envelope =
            ecommerce_proto::ecommerce::events::v1::EventEnvelope::decode(full.body.as_slice())
                .unwrap();
        assert_eq!(
            envelope.payload.unwrap().type_url,
            format!("{}{}", protobuf::TYPE_URL_PREFIX, info.message_name)
        );
        assert_eq!(envelope.correlation_id.as_deref(), Some("checkout-1"));
    }

    #[test]
    fn rendering_is_byte_stable() {
        let first = crate::render(document_of("notifications-svc")).unwrap();
        let second = crate::render(document_of("notifications-svc")).unwrap();
        assert_eq!(first, second);
        assert!(first.ends_with("}\n"));
    }

    #[test]
    fn an_unknown_service_is_an_error() {
        assert!(matches!(
            crate::document("nope-svc"),
            Err(AsyncApiError::UnknownService(name)) if name == "nope-svc"
        ));
        assert_eq!(
            crate::documented_services().unwrap().len(),
            services::ALL.len()
        );
    }

    #[test]
    fn the_first_sentence_ends_at_the_first_full_stop() {
        assert_eq!(
            first_sentence("An order was placed (PENDING). Starts the\nsaga.").as_deref(),
            Some("An order was placed (PENDING).")
        );
        assert_eq!(first_sentence("Why.\n\nMore.").as_deref(), Some("Why."));
        assert_eq!(first_sentence(""), None);
    }

    #[test]
    fn credentials_are_left_out_of_the_url() {
        assert_eq!(
            without_credentials("amqp://guest:guest@127.0.0.1:5672/%2f"),
            "amqp://127.0.0.1:5672/%2f"
        );
        assert_eq!(without_credentials("amqp://h/%2f"), "amqp://h/%2f");
    }
}
