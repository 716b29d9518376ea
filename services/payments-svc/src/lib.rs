//! payments-svc: payment intents, authorizations, captures and voids;
//! publishes to `orders.events`.
//!
//! - [`domain`]: the payment rules without I/O (the state machine, the
//!   provider port and its deterministic simulated provider, the events).
//! - [`storage`]: the `payments` table through SeaORM (migrations:
//!   `payments-migration`).
//! - [`app`]: one method per RPC (CapturePayment in one transaction with
//!   its outbox event), and the saga's steps on the inbox's transaction.
//!   Speaks domain types only.
//! - [`convert`]: every proto ⇄ domain conversion, requests, payments and
//!   events alike.
//! - [`grpc`]: the tonic adapter ([`grpc::PaymentGrpc`]).
//! - [`events`]: the saga consumer that records, authorizes, captures and
//!   voids on orders, inventory and fulfillment events.
//!
//! `grpc` and `events` call `app` (through `convert`); `app` calls
//! `domain` and `storage`; neither adapter imports the other.
//!
//! The binary runs it on `ecommerce-runtime` (schema `payments`, migrator
//! `payments-migration`, the outbox relay and the three consumers
//! in-process) behind the auth layer.

pub mod app;
pub mod convert;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod storage;

use std::sync::Arc;

use ecommerce_auth::AuthLayer;
use ecommerce_broker::{ConsumerQueue, EventsExchange};
use ecommerce_outbox::OutboxTable;
use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::settings::ServiceInfo;
use ecommerce_runtime::ServiceRuntime;
use tower::Layer as _;

use ecommerce_kernel::{Clock, SystemClock};

use crate::app::PaymentsApp;
use crate::domain::{PaymentProvider, SimulatedProvider};
use crate::events::PaymentHandler;
use crate::grpc::PaymentGrpc;

/// Name, env prefix (`PAYMENTS_GRPC_ADDR`) and default port of this
/// service: its row of the one service table.
pub const SERVICE: ServiceInfo = ecommerce_platform::services::PAYMENTS;

/// The schema payments-svc owns unless `PAYMENTS_DB_SCHEMA` says otherwise.
pub const DEFAULT_SCHEMA: &str = "payments";

/// The queues payments consumes, all through [`PaymentHandler`].
pub const CONSUMER_QUEUES: [ConsumerQueue; 3] = [
    ConsumerQueue::PaymentsOrderEvents,
    ConsumerQueue::PaymentsInventoryEvents,
    ConsumerQueue::PaymentsFulfillmentEvents,
];

/// The variable that sets the simulated provider's limit, in minor units.
pub const SIMULATED_LIMIT_VAR: &str = "PAYMENTS_SIMULATED_LIMIT_MINOR";

/// The simulated provider, its limit from [`SIMULATED_LIMIT_VAR`]
/// (default [`SimulatedProvider::DEFAULT_LIMIT_MINOR`]).
pub fn simulated_provider_from_env() -> anyhow::Result<SimulatedProvider> {
    simulated_provider_from(std::env::var(SIMULATED_LIMIT_VAR).ok().as_deref())
}

/// The simulated provider for a raw limit setting (`None` when unset).
pub fn simulated_provider_from(raw_limit: Option<&str>) -> anyhow::Result<SimulatedProvider> {
    let Some(raw_limit) = raw_limit.map(str::trim).filter(|raw| !raw.is_empty()) else {
        return Ok(SimulatedProvider::default());
    };
    match raw_limit.parse::<i64>() {
        Ok(limit) if limit >= 0 => Ok(SimulatedProvider::with_limit(limit)),
        _ => anyhow::bail!(
            "{SIMULATED_LIMIT_VAR} must be a non-negative integer of minor units, not {raw_limit:?}"
        ),
    }
}

/// [`start_with`] on the wall clock.
pub fn start(
    runtime: &ServiceRuntime,
    provider: Arc<dyn PaymentProvider>,
) -> anyhow::Result<PaymentsApp> {
    start_with(runtime, provider, Arc::new(SystemClock))
}

/// The application on `runtime`: its outbox (in the service's schema,
/// publishing to the orders exchange) with the relay running, and the three
/// saga consumers over the same app, whose events go out through the same
/// outbox.
pub fn start_with(
    runtime: &ServiceRuntime,
    provider: Arc<dyn PaymentProvider>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<PaymentsApp> {
    let outbox = runtime.outbox(&OutboxTable::PAYMENTS, EventsExchange::Orders)?;
    runtime.spawn_relay(&outbox);
    let app = PaymentsApp::new(runtime.db().clone(), outbox.clone(), provider, clock);
    for queue in CONSUMER_QUEUES {
        runtime.spawn_consumer(queue, PaymentHandler::new(app.clone()), Some(&outbox))?;
    }
    Ok(app)
}

/// Adds the payments' handlers over `app`, behind the auth layer that
/// verifies bearer access tokens, to the shared server.
pub fn register(server: GrpcServer, auth: &AuthLayer, app: PaymentsApp) -> GrpcServer {
    server.add_service(auth.layer(PaymentGrpc::new(app).into_server()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_limit_setting_is_validated_and_named() {
        assert_eq!(
            simulated_provider_from(None).unwrap(),
            SimulatedProvider::default()
        );
        assert_eq!(
            simulated_provider_from(Some("500")).unwrap().limit_minor(),
            500
        );
        let error = simulated_provider_from(Some("-1")).unwrap_err();
        assert!(error.to_string().contains(SIMULATED_LIMIT_VAR));
        assert!(simulated_provider_from(Some("ten")).is_err());
    }
}
