//! Payments' rules, without I/O: payment intents and their state machine
//! (every state and input decided in `state_machine`), the provider port
//! with a deterministic simulated provider, and the events it emits.
//!
//! Nothing here imports tonic, sea_orm or the generated messages:
//! `crate::convert` turns requests and consumed events into
//! [`PaymentInput`]s and [`PaymentEvent`]s into the generated events; the
//! app locks the payment row, runs [`handle`] and writes back what it
//! returns together with the outbox row. `model::PaymentColumns` lists the
//! CHECK constraints the table must carry.

pub mod error;
pub mod events;
pub mod model;
pub mod process;
pub mod provider;
pub mod state_machine;

pub use ecommerce_kernel::{Currency, Money};
pub use error::{InvalidField, InvalidValue, PaymentError};
pub use events::PaymentEvent;
pub use model::{
    AuthorizationRecord, DeclineCode, OrderId, Payment, PaymentColumns, PaymentId, PaymentIntent,
    PaymentMethodToken, PaymentState, PaymentStatus, ProviderReference, StoredPayment, VoidReason,
};
pub use process::{PaymentInput, PaymentOutcome, handle};
pub use provider::{
    AuthorizeRequest, IdempotencyKey, PaymentProvider, ProviderError, ProviderOperation,
    SettleRequest, SimulatedProvider,
};
pub use state_machine::{Change, IgnoredBecause, PaymentTrigger, Refusal, Step, decide};
