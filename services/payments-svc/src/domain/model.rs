//! Payments, their states, and the values they hold.
//!
//! The state carries exactly the data that exists in it (a provider
//! reference only once authorized, a failure reason only when failed), so
//! an impossible combination cannot be built. [`PaymentColumns`] is its
//! flat, stored form; the database must enforce the same combinations with
//! the CHECK constraints listed there, so no other writer can store one.

use std::fmt;

use chrono::{DateTime, Utc};
use ecommerce_kernel::Money;
use uuid::Uuid;

use crate::domain::error::{InvalidValue, PaymentError};

ecommerce_kernel::uuid_id!(
    /// Id of a payment.
    PaymentId
);
ecommerce_kernel::uuid_id!(
    /// Id of an order (minted by orders-svc).
    OrderId
);

/// The provider's token for the customer's payment method, e.g.
/// `pm_card_visa`. Not card data, but it lets whoever holds it charge the
/// customer, so it is kept out of logs: `Debug` hides it, there is no
/// `Display`, and validation errors never quote it. [`Self::expose`] is the
/// one way to read it (the provider call and the storage row).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PaymentMethodToken(String);

impl PaymentMethodToken {
    pub const MAX_CHARS: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if raw.is_empty() {
            return Err(InvalidValue::new("must not be empty"));
        }
        if raw.len() > Self::MAX_CHARS {
            return Err(InvalidValue::new(format!(
                "must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if !raw.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(InvalidValue::new("must be printable ASCII without spaces"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PaymentMethodToken {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("PaymentMethodToken(<redacted>)")
    }
}

macro_rules! text_newtype {
    ($(#[$meta:meta])* $name:ident, $max_chars:expr) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max_chars;

            pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
                if raw.is_empty() {
                    return Err(InvalidValue::new("must not be empty"));
                }
                let chars = raw.chars().count();
                if chars > Self::MAX_CHARS {
                    return Err(InvalidValue::new(format!(
                        "must be at most {} characters, got {chars}",
                        Self::MAX_CHARS
                    )));
                }
                if raw.chars().any(char::is_control) {
                    return Err(InvalidValue::new("must not contain control characters"));
                }
                Ok(Self(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// A value read back from payments' own tables or built by
            /// payments' own code from valid parts; not re-validated, so a
            /// later tightening of the rules never makes stored rows
            /// unreadable.
            pub fn from_trusted(value: String) -> Self {
                Self(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }
    };
}

text_newtype!(
    /// The provider's id of an authorization.
    ProviderReference,
    255
);
text_newtype!(
    /// The provider's decline code or error, e.g. `card_declined`.
    DeclineCode,
    100
);

/// Why a payment was voided; the `payment_voided` event's `reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VoidReason {
    OrderCanceled,
    ReservationExpired,
    ReservationFailed,
    /// The reservation was released (an operator's ReleaseReservation, or
    /// the saga's own release, whose cause voided first). Not in the proto
    /// comment's list; see `state_machine`.
    ReservationReleased,
}

impl VoidReason {
    pub const ALL: [Self; 4] = [
        Self::OrderCanceled,
        Self::ReservationExpired,
        Self::ReservationFailed,
        Self::ReservationReleased,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OrderCanceled => "order_canceled",
            Self::ReservationExpired => "reservation_expired",
            Self::ReservationFailed => "reservation_failed",
            Self::ReservationReleased => "reservation_released",
        }
    }

    pub fn from_stored(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|reason| reason.as_str() == value)
    }
}

impl fmt::Display for VoidReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Lifecycle of a payment: `PENDING -> AUTHORIZED -> CAPTURED`,
/// `PENDING -> FAILED`, `PENDING | AUTHORIZED -> VOIDED`. FAILED, CAPTURED
/// and VOIDED are terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    Pending,
    Authorized,
    Failed,
    Captured,
    Voided,
}

impl PaymentStatus {
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Authorized,
        Self::Failed,
        Self::Captured,
        Self::Voided,
    ];

    /// The stored form (`payments.status`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Authorized => "authorized",
            Self::Failed => "failed",
            Self::Captured => "captured",
            Self::Voided => "voided",
        }
    }

    pub fn from_stored(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }

    /// The proto enum's value name, used in messages.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Authorized => "AUTHORIZED",
            Self::Failed => "FAILED",
            Self::Captured => "CAPTURED",
            Self::Voided => "VOIDED",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Failed | Self::Captured | Self::Voided)
    }

    /// Whether a payment may move from `self` to `target`: the one table
    /// every transition below follows.
    pub fn can_become(self, target: Self) -> bool {
        matches!(
            (self, target),
            (
                Self::Pending,
                Self::Authorized | Self::Failed | Self::Voided
            ) | (Self::Authorized, Self::Captured | Self::Voided)
        )
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A granted authorization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationRecord {
    pub provider_reference: ProviderReference,
    pub authorized_at: DateTime<Utc>,
}

/// The state of a payment, with the data that exists in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentState {
    Pending,
    Authorized(AuthorizationRecord),
    Failed {
        failure_reason: DeclineCode,
        failed_at: DateTime<Utc>,
    },
    Captured {
        authorization: AuthorizationRecord,
        captured_at: DateTime<Utc>,
    },
    Voided {
        /// `None` when the intent was voided before any authorization.
        authorization: Option<AuthorizationRecord>,
        reason: VoidReason,
        voided_at: DateTime<Utc>,
    },
}

impl PaymentState {
    pub fn status(&self) -> PaymentStatus {
        match self {
            Self::Pending => PaymentStatus::Pending,
            Self::Authorized(_) => PaymentStatus::Authorized,
            Self::Failed { .. } => PaymentStatus::Failed,
            Self::Captured { .. } => PaymentStatus::Captured,
            Self::Voided { .. } => PaymentStatus::Voided,
        }
    }

    /// The authorization, in every state that has one.
    pub fn authorization(&self) -> Option<&AuthorizationRecord> {
        match self {
            Self::Authorized(authorization) | Self::Captured { authorization, .. } => {
                Some(authorization)
            }
            Self::Voided { authorization, .. } => authorization.as_ref(),
            Self::Pending | Self::Failed { .. } => None,
        }
    }
}

/// The flat form of a [`PaymentState`] in `payments.payments`. The table
/// must hold the same rules as CHECK constraints:
///
/// ```sql
/// CHECK (status IN ('pending', 'authorized', 'failed', 'captured', 'voided')),
/// CHECK ((provider_reference IS NULL) = (authorized_at IS NULL)),
/// CHECK (status NOT IN ('authorized', 'captured') OR provider_reference IS NOT NULL),
/// CHECK (status NOT IN ('pending', 'failed') OR provider_reference IS NULL),
/// CHECK ((status = 'failed') = (failure_reason IS NOT NULL AND failed_at IS NOT NULL)),
/// CHECK ((failure_reason IS NULL) = (failed_at IS NULL)),
/// CHECK ((status = 'captured') = (captured_at IS NOT NULL)),
/// CHECK ((status = 'voided') = (void_reason IS NOT NULL AND voided_at IS NOT NULL)),
/// CHECK ((void_reason IS NULL) = (voided_at IS NULL)),
/// CHECK (void_reason IN ('order_canceled', 'reservation_expired',
///                        'reservation_failed', 'reservation_released')),
/// CHECK (amount_minor >= 0), CHECK (currency ~ '^[A-Z]{3}$'),
/// UNIQUE (order_id)
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PaymentColumns {
    pub status: String,
    pub provider_reference: Option<String>,
    pub authorized_at: Option<DateTime<Utc>>,
    pub failure_reason: Option<String>,
    pub failed_at: Option<DateTime<Utc>>,
    pub captured_at: Option<DateTime<Utc>>,
    pub void_reason: Option<String>,
    pub voided_at: Option<DateTime<Utc>>,
}

impl PaymentColumns {
    pub fn from_state(state: &PaymentState) -> Self {
        let authorization = state.authorization();
        let mut columns = Self {
            status: state.status().as_str().to_owned(),
            provider_reference: authorization
                .map(|authorization| authorization.provider_reference.as_str().to_owned()),
            authorized_at: authorization.map(|authorization| authorization.authorized_at),
            ..Self::default()
        };
        match state {
            PaymentState::Pending | PaymentState::Authorized(_) => {}
            PaymentState::Failed {
                failure_reason,
                failed_at,
            } => {
                columns.failure_reason = Some(failure_reason.as_str().to_owned());
                columns.failed_at = Some(*failed_at);
            }
            PaymentState::Captured { captured_at, .. } => {
                columns.captured_at = Some(*captured_at);
            }
            PaymentState::Voided {
                reason, voided_at, ..
            } => {
                columns.void_reason = Some(reason.as_str().to_owned());
                columns.voided_at = Some(*voided_at);
            }
        }
        columns
    }

    /// Reads a row back; any combination the CHECKs above forbid is an
    /// [`PaymentError::Inconsistent`].
    pub fn into_state(self) -> Result<PaymentState, PaymentError> {
        let status = PaymentStatus::from_stored(&self.status).ok_or_else(|| {
            PaymentError::inconsistent(format!("unknown payment status {:?}", self.status))
        })?;
        let authorization = match (self.provider_reference, self.authorized_at) {
            (Some(reference), Some(authorized_at)) => Some(AuthorizationRecord {
                provider_reference: ProviderReference::from_trusted(reference),
                authorized_at,
            }),
            (None, None) => None,
            _ => {
                return Err(PaymentError::inconsistent(
                    "provider_reference and authorized_at must be set together",
                ));
            }
        };
        let failure = match (self.failure_reason, self.failed_at) {
            (Some(reason), Some(failed_at)) => Some((DeclineCode::from_trusted(reason), failed_at)),
            (None, None) => None,
            _ => {
                return Err(PaymentError::inconsistent(
                    "failure_reason and failed_at must be set together",
                ));
            }
        };
        let void = match (self.void_reason, self.voided_at) {
            (Some(reason), Some(voided_at)) => {
                let reason = VoidReason::from_stored(&reason).ok_or_else(|| {
                    PaymentError::inconsistent(format!("unknown void reason {reason:?}"))
                })?;
                Some((reason, voided_at))
            }
            (None, None) => None,
            _ => {
                return Err(PaymentError::inconsistent(
                    "void_reason and voided_at must be set together",
                ));
            }
        };
        let state = match (status, authorization, failure, self.captured_at, void) {
            (PaymentStatus::Pending, None, None, None, None) => PaymentState::Pending,
            (PaymentStatus::Authorized, Some(authorization), None, None, None) => {
                PaymentState::Authorized(authorization)
            }
            (PaymentStatus::Failed, None, Some((failure_reason, failed_at)), None, None) => {
                PaymentState::Failed {
                    failure_reason,
                    failed_at,
                }
            }
            (PaymentStatus::Captured, Some(authorization), None, Some(captured_at), None) => {
                PaymentState::Captured {
                    authorization,
                    captured_at,
                }
            }
            (PaymentStatus::Voided, authorization, None, None, Some((reason, voided_at))) => {
                PaymentState::Voided {
                    authorization,
                    reason,
                    voided_at,
                }
            }
            (status, ..) => {
                return Err(PaymentError::inconsistent(format!(
                    "the columns of a {status} payment do not match its status"
                )));
            }
        };
        Ok(state)
    }
}

/// What `orders.order_placed.v1` asks payments to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentIntent {
    /// Minted by the caller (`PaymentId::generate`) so recording is pure.
    pub payment_id: PaymentId,
    pub order_id: OrderId,
    /// The order's total.
    pub amount: Money,
    pub payment_method: PaymentMethodToken,
}

/// The payment of one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payment {
    id: PaymentId,
    order_id: OrderId,
    amount: Money,
    payment_method: PaymentMethodToken,
    state: PaymentState,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Payment {
    /// A new PENDING payment.
    pub fn record(intent: PaymentIntent, now: DateTime<Utc>) -> Self {
        Self {
            id: intent.payment_id,
            order_id: intent.order_id,
            amount: intent.amount,
            payment_method: intent.payment_method,
            state: PaymentState::Pending,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn from_stored(
        id: PaymentId,
        order_id: OrderId,
        amount: Money,
        payment_method: PaymentMethodToken,
        state: PaymentState,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            order_id,
            amount,
            payment_method,
            state,
            created_at,
            updated_at,
        }
    }

    pub fn id(&self) -> PaymentId {
        self.id
    }

    pub fn order_id(&self) -> OrderId {
        self.order_id
    }

    pub fn amount(&self) -> Money {
        self.amount
    }

    pub fn payment_method(&self) -> &PaymentMethodToken {
        &self.payment_method
    }

    pub fn state(&self) -> &PaymentState {
        &self.state
    }

    pub fn status(&self) -> PaymentStatus {
        self.state.status()
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    /// The same payment in `state`, if the lifecycle allows the move; the
    /// single place a payment changes state.
    pub(crate) fn moved_to(
        &self,
        state: PaymentState,
        now: DateTime<Utc>,
    ) -> Result<Self, PaymentError> {
        let (from, to) = (self.status(), state.status());
        if !from.can_become(to) {
            return Err(PaymentError::inconsistent(format!(
                "payment {} cannot move from {from} to {to}",
                self.id
            )));
        }
        Ok(Self {
            state,
            updated_at: now,
            ..self.clone()
        })
    }
}

/// A payment with the two facts its rules do not need but the service
/// keeps beside it, both from `orders.order_placed.v1`: the customer (who
/// may read it) and the checkout's correlation id (carried by the events
/// about it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPayment {
    pub payment: Payment,
    /// The customer of the order.
    pub user_id: Uuid,
    /// The checkout's correlation id, when `order_placed` carried one.
    pub correlation_id: Option<String>,
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{Duration, TimeZone as _};
    use ecommerce_kernel::Currency;

    use super::*;
    use ecommerce_kernel::ErrorCode;

    pub(crate) fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap()
    }

    pub(crate) fn eur(amount_minor: i64) -> Money {
        Money::new(amount_minor, Currency::parse("EUR").unwrap()).unwrap()
    }

    pub(crate) fn intent(token: &str, amount_minor: i64) -> PaymentIntent {
        PaymentIntent {
            payment_id: PaymentId::generate(),
            order_id: OrderId::generate(),
            amount: eur(amount_minor),
            payment_method: PaymentMethodToken::parse(token).unwrap(),
        }
    }

    fn authorization() -> AuthorizationRecord {
        AuthorizationRecord {
            provider_reference: ProviderReference::parse("sim_auth_1").unwrap(),
            authorized_at: t0(),
        }
    }

    /// One state of each status, with its data.
    pub(crate) fn every_state() -> Vec<PaymentState> {
        vec![
            PaymentState::Pending,
            PaymentState::Authorized(authorization()),
            PaymentState::Failed {
                failure_reason: DeclineCode::parse("card_declined").unwrap(),
                failed_at: t0(),
            },
            PaymentState::Captured {
                authorization: authorization(),
                captured_at: t0() + Duration::hours(1),
            },
            PaymentState::Voided {
                authorization: None,
                reason: VoidReason::OrderCanceled,
                voided_at: t0(),
            },
            PaymentState::Voided {
                authorization: Some(authorization()),
                reason: VoidReason::ReservationExpired,
                voided_at: t0(),
            },
        ]
    }

    #[test]
    fn the_token_never_shows_in_debug_or_errors() {
        let token = PaymentMethodToken::parse("pm_card_visa").unwrap();
        assert_eq!(token.expose(), "pm_card_visa");
        assert_eq!(format!("{token:?}"), "PaymentMethodToken(<redacted>)");
        let payment = Payment::record(
            PaymentIntent {
                payment_method: token,
                ..intent("pm_x", 1)
            },
            t0(),
        );
        let debug = format!("{payment:?} {:#?}", payment);
        assert!(!debug.contains("pm_card_visa"), "{debug}");
        assert!(debug.contains("<redacted>"));
        for secret in [
            "pm secret",
            "pm\u{7}secret",
            &format!("pm_{}", "x".repeat(300)),
        ] {
            let error = PaymentMethodToken::parse(secret).unwrap_err();
            assert!(!error.0.contains("secret"), "{error}");
            assert!(!error.0.contains("xxx"), "{error}");
        }
        assert!(PaymentMethodToken::parse("").is_err());
    }

    #[test]
    fn texts_and_ids_are_validated() {
        assert_eq!(
            DeclineCode::parse("card_declined").unwrap().to_string(),
            "card_declined"
        );
        assert!(DeclineCode::parse("").is_err());
        assert!(DeclineCode::parse(&"x".repeat(101)).is_err());
        assert!(ProviderReference::parse("a\nb").is_err());
        assert_eq!(PaymentId::generate().as_uuid().get_version_num(), 7);
        assert!(OrderId::parse("nope").is_err());
        assert!(OrderId::parse("00000000-0000-0000-0000-000000000000").is_err());
        let raw = "0190a0e4-7b7c-7cc3-8c5e-0123456789ab";
        assert_eq!(OrderId::parse(raw).unwrap().to_string(), raw);
    }

    #[test]
    fn stored_forms_round_trip() {
        for status in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::from_stored(status.as_str()), Some(status));
        }
        for reason in VoidReason::ALL {
            assert_eq!(VoidReason::from_stored(reason.as_str()), Some(reason));
        }
        for state in every_state() {
            let columns = PaymentColumns::from_state(&state);
            assert_eq!(columns.status, state.status().as_str());
            assert_eq!(columns.into_state().unwrap(), state);
        }
    }

    #[test]
    fn impossible_rows_are_refused() {
        let authorized = PaymentColumns::from_state(&PaymentState::Authorized(authorization()));
        let failed = PaymentColumns::from_state(&every_state()[2]);
        let rows = [
            PaymentColumns {
                status: "paid".to_owned(),
                ..PaymentColumns::default()
            },
            PaymentColumns {
                status: "pending".to_owned(),
                ..authorized.clone()
            },
            PaymentColumns {
                authorized_at: None,
                ..authorized.clone()
            },
            PaymentColumns {
                status: "captured".to_owned(),
                ..authorized.clone()
            },
            PaymentColumns {
                failed_at: None,
                ..failed.clone()
            },
            PaymentColumns {
                provider_reference: Some("sim".to_owned()),
                authorized_at: Some(t0()),
                ..failed
            },
            PaymentColumns {
                status: "voided".to_owned(),
                void_reason: Some("whim".to_owned()),
                voided_at: Some(t0()),
                ..PaymentColumns::default()
            },
            PaymentColumns {
                status: "voided".to_owned(),
                void_reason: Some("order_canceled".to_owned()),
                ..PaymentColumns::default()
            },
        ];
        for row in rows {
            let described = format!("{row:?}");
            assert_eq!(
                row.into_state().unwrap_err().code(),
                ErrorCode::Internal,
                "{described}"
            );
        }
    }

    /// Every (from, to) pair of statuses, with the expected answer.
    #[test]
    fn every_status_transition_pair() {
        use PaymentStatus::{Authorized, Captured, Failed, Pending, Voided};
        let allowed = [
            (Pending, Authorized),
            (Pending, Failed),
            (Pending, Voided),
            (Authorized, Captured),
            (Authorized, Voided),
        ];
        for from in PaymentStatus::ALL {
            for to in PaymentStatus::ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
            assert_eq!(
                from.is_terminal(),
                PaymentStatus::ALL
                    .into_iter()
                    .all(|to| !from.can_become(to)),
                "{from}"
            );
        }
    }
}
