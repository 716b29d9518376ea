//! Every proto <-> domain conversion of the service, so `grpc` and
//! `events` share one set and neither imports the other. A request or an
//! event that does not convert is an [`InvalidField`] naming its field
//! (INVALID_ARGUMENT for an RPC, dead-lettered for a consumer).
//!
//! - here: the RPCs' requests and responses, and the values both use;
//! - [`events`]: the domain's events as the generated
//!   `ecommerce.inventory.v1` messages, and the consumed events as the
//!   domain's inputs.

pub mod events;

use ecommerce_proto::ecommerce::inventory::v1 as pb;

use crate::domain::{
    AdjustStock, AdjustmentId, InvalidField, InvalidValue, OnHandCount, OrderId, Quantity, Reason,
    ReleaseReason, Reservation, ReservationId, ReservationLine, ReservationLines,
    ReservationRequest, ReservationStatus, ReservationTtl, ShortLine, Sku, StockChange, StockLevel,
    StockStatus,
};

pub fn pb_lines(lines: &[ReservationLine]) -> Vec<pb::StockLine> {
    lines
        .iter()
        .map(|line| pb::StockLine {
            sku: line.sku.as_str().to_owned(),
            quantity: line.quantity.get(),
        })
        .collect()
}

pub fn pb_short_line(line: &ShortLine) -> pb::ShortLine {
    pb::ShortLine {
        sku: line.sku.as_str().to_owned(),
        requested: line.requested,
        available: line.available,
    }
}

pub fn pb_stock_status(status: StockStatus) -> pb::StockStatus {
    match status {
        StockStatus::Active => pb::StockStatus::Active,
        StockStatus::Blocked => pb::StockStatus::Blocked,
    }
}

pub fn pb_reservation_status(status: ReservationStatus) -> pb::ReservationStatus {
    match status {
        ReservationStatus::Held => pb::ReservationStatus::Pending,
        ReservationStatus::Committed => pb::ReservationStatus::Committed,
        ReservationStatus::Released => pb::ReservationStatus::Released,
        ReservationStatus::Expired => pb::ReservationStatus::Expired,
        ReservationStatus::Restocked => pb::ReservationStatus::Restocked,
    }
}

pub fn pb_stock_level(level: &StockLevel) -> pb::StockLevel {
    pb::StockLevel {
        sku: level.sku().as_str().to_owned(),
        on_hand: level.on_hand(),
        reserved: level.reserved(),
        available: level.available(),
        status: pb_stock_status(level.status()).into(),
        version: level.version(),
        updated_at: Some(ecommerce_proto::timestamp(level.updated_at())),
    }
}

pub fn pb_reservation(reservation: &Reservation) -> pb::Reservation {
    pb::Reservation {
        id: reservation.id().to_string(),
        order_id: reservation.order_id().to_string(),
        lines: pb_lines(reservation.lines().as_slice()),
        status: pb_reservation_status(reservation.status()).into(),
        expires_at: Some(ecommerce_proto::timestamp(reservation.expires_at())),
        created_at: Some(ecommerce_proto::timestamp(reservation.created_at())),
        updated_at: Some(ecommerce_proto::timestamp(reservation.updated_at())),
    }
}

/// Most SKUs one BatchGetStock call may name (duplicates included), as the
/// proto documents: a bound on the rows one read fetches.
pub const MAX_BATCH_SKUS: usize = 500;

/// Most lines one ReserveStock call may send. The proto asks for one line
/// per SKU, so this is [`ReservationLines::MAX_SKUS`]; checked on the raw
/// lines, before any is parsed, so duplicates cannot bypass it.
pub const MAX_RESERVE_LINES: usize = ReservationLines::MAX_SKUS;

/// `InvalidField` for a repeated `field` holding more than `max` entries.
fn at_most(field: &str, max: usize, got: usize, what: &str) -> Result<(), InvalidField> {
    if got > max {
        return Err(InvalidField::new(
            field,
            format!("at most {max} {what} per call, got {got}"),
        ));
    }
    Ok(())
}

fn at(field: &str) -> impl FnOnce(InvalidValue) -> InvalidField + '_ {
    move |invalid| invalid.at(field)
}

pub fn sku(raw: &str, field: &str) -> Result<Sku, InvalidField> {
    Sku::parse(raw).map_err(at(field))
}

pub fn order_id(raw: &str) -> Result<OrderId, InvalidField> {
    OrderId::parse(raw).map_err(at("order_id"))
}

pub fn reservation_id(raw: &str) -> Result<ReservationId, InvalidField> {
    ReservationId::parse(raw).map_err(at("reservation_id"))
}

/// BatchGetStock's `skus`: at most [`MAX_BATCH_SKUS`], each a valid SKU.
pub fn skus(raw: &[String]) -> Result<Vec<Sku>, InvalidField> {
    at_most("skus", MAX_BATCH_SKUS, raw.len(), "SKUs")?;
    raw.iter()
        .enumerate()
        .map(|(index, sku)| Sku::parse(sku).map_err(|invalid| invalid.at(format!("skus[{index}]"))))
        .collect()
}

/// The `(sku, quantity)` pairs of a request's or an event's `lines`, summed
/// per SKU; a bad line names its index.
pub fn reservation_lines<'a>(
    lines: impl ExactSizeIterator<Item = (&'a str, i32)>,
) -> Result<ReservationLines, InvalidField> {
    let mut parsed = Vec::with_capacity(lines.len());
    for (index, (raw_sku, quantity)) in lines.enumerate() {
        let sku = sku(raw_sku, &format!("lines[{index}].sku"))?;
        let quantity = Quantity::new(quantity)
            .map_err(|invalid| invalid.at(format!("lines[{index}].quantity")))?;
        parsed.push((sku, quantity));
    }
    ReservationLines::aggregate(parsed).map_err(at("lines"))
}

/// AdjustStock, with its idempotency key (empty = none).
pub struct AdjustRequest {
    pub command: AdjustStock,
    pub idempotency_key: Option<String>,
}

impl TryFrom<pb::AdjustStockRequest> for AdjustRequest {
    type Error = InvalidField;

    fn try_from(request: pb::AdjustStockRequest) -> Result<Self, InvalidField> {
        let command = AdjustStock {
            adjustment_id: AdjustmentId::generate(),
            sku: sku(&request.sku, "sku")?,
            change: stock_change(request.delta, request.stocktake)?,
            reason: Reason::parse(&request.reason).map_err(at("reason"))?,
            expected_version: request.expected_version,
        };
        let key = request.idempotency_key.trim();
        Ok(Self {
            command,
            idempotency_key: (!key.is_empty()).then(|| key.to_owned()),
        })
    }
}

/// `delta`, or with `stocktake` a count (`delta` must then be 0).
fn stock_change(delta: i32, stocktake: Option<pb::Stocktake>) -> Result<StockChange, InvalidField> {
    let Some(stocktake) = stocktake else {
        return StockChange::delta(delta).map_err(at("delta"));
    };
    if delta != 0 {
        return Err(InvalidValue::new("must be 0 with a stocktake").at("delta"));
    }
    let count = |value: Option<i32>, field: &'static str| {
        let units = value.ok_or_else(|| InvalidValue::new("is required").at(field))?;
        OnHandCount::new(units).map_err(at(field))
    };
    Ok(StockChange::SetOnHand {
        counted: count(stocktake.counted_on_hand, "stocktake.counted_on_hand")?,
        expected: count(stocktake.expected_on_hand, "stocktake.expected_on_hand")?,
    })
}

impl TryFrom<pb::ReserveStockRequest> for ReservationRequest {
    type Error = InvalidField;

    fn try_from(request: pb::ReserveStockRequest) -> Result<Self, InvalidField> {
        let order_id = order_id(&request.order_id)?;
        at_most("lines", MAX_RESERVE_LINES, request.lines.len(), "lines")?;
        let lines = reservation_lines(
            request
                .lines
                .iter()
                .map(|line| (line.sku.as_str(), line.quantity)),
        )?;
        let ttl = match request.ttl {
            None => ReservationTtl::DEFAULT,
            Some(ttl) => {
                if ttl.nanos != 0 {
                    return Err(InvalidValue::new("must be whole seconds").at("ttl"));
                }
                ReservationTtl::from_seconds(ttl.seconds).map_err(at("ttl"))?
            }
        };
        Ok(Self {
            reservation_id: ReservationId::generate(),
            order_id,
            lines,
            ttl,
        })
    }
}

/// ReleaseReservation's reason: the operator's text.
pub fn release_reason(raw: &str) -> Result<ReleaseReason, InvalidField> {
    Reason::parse(raw)
        .map(ReleaseReason::Operator)
        .map_err(at("reason"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn invalid_requests_name_their_field() {
        let adjust = pb::AdjustStockRequest {
            sku: "SKU-1".to_owned(),
            delta: 0,
            reason: "count".to_owned(),
            ..Default::default()
        };
        assert_eq!(
            AdjustRequest::try_from(adjust).err().unwrap().field,
            "delta"
        );
        let adjust = pb::AdjustStockRequest {
            sku: "SKU-1".to_owned(),
            delta: 2,
            reason: " ".to_owned(),
            idempotency_key: " key-1 ".to_owned(),
            ..Default::default()
        };
        assert_eq!(
            AdjustRequest::try_from(adjust).err().unwrap().field,
            "reason"
        );

        let reserve = pb::ReserveStockRequest {
            order_id: uuid::Uuid::now_v7().to_string(),
            lines: vec![
                pb::StockLine {
                    sku: "SKU-1".to_owned(),
                    quantity: 1,
                },
                pb::StockLine {
                    sku: "SKU-2".to_owned(),
                    quantity: 0,
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            ReservationRequest::try_from(reserve).unwrap_err().field,
            "lines[1].quantity"
        );
        let reserve = pb::ReserveStockRequest {
            order_id: "not-a-uuid".to_owned(),
            ..Default::default()
        };
        assert_eq!(
            ReservationRequest::try_from(reserve).unwrap_err().field,
            "order_id"
        );
    }

    #[test]
    fn repeated_request_fields_are_bounded() {
        let named = |count: usize| -> Vec<String> { (0..count).map(|i| format!("S{i}")).collect() };
        assert_eq!(skus(&named(MAX_BATCH_SKUS)).unwrap().len(), MAX_BATCH_SKUS);
        let too_many = skus(&named(MAX_BATCH_SKUS + 1)).unwrap_err();
        assert_eq!(too_many.field, "skus");
        // Counted before parsing: duplicates and bad entries past the cap
        // are refused as too many, not one by one.
        let mut repeated = vec!["A".to_owned(); MAX_BATCH_SKUS + 1];
        repeated[MAX_BATCH_SKUS] = "bad sku".to_owned();
        assert_eq!(skus(&repeated).unwrap_err().field, "skus");

        let reserve = |lines: Vec<pb::StockLine>| pb::ReserveStockRequest {
            order_id: uuid::Uuid::now_v7().to_string(),
            lines,
            ..Default::default()
        };
        let line = |sku: &str| pb::StockLine {
            sku: sku.to_owned(),
            quantity: 1,
        };
        let most: Vec<_> = (0..MAX_RESERVE_LINES)
            .map(|i| line(&format!("S{i}")))
            .collect();
        assert!(ReservationRequest::try_from(reserve(most)).is_ok());
        // One SKU repeated is still one distinct SKU, but too many lines.
        let repeated = vec![line("A"); MAX_RESERVE_LINES + 1];
        assert_eq!(
            ReservationRequest::try_from(reserve(repeated))
                .unwrap_err()
                .field,
            "lines"
        );
    }

    #[test]
    fn requests_convert_with_defaults() {
        let adjust = AdjustRequest::try_from(pb::AdjustStockRequest {
            sku: "SKU-1".to_owned(),
            delta: -2,
            reason: "damaged".to_owned(),
            idempotency_key: " key-1 ".to_owned(),
            expected_version: Some(3),
            stocktake: None,
        })
        .unwrap();
        assert_eq!(adjust.command.change, StockChange::Delta(-2));
        assert_eq!(adjust.command.expected_version, Some(3));
        assert_eq!(adjust.idempotency_key.as_deref(), Some("key-1"));

        let reserve = ReservationRequest::try_from(pb::ReserveStockRequest {
            order_id: uuid::Uuid::now_v7().to_string(),
            lines: vec![
                pb::StockLine {
                    sku: "B".to_owned(),
                    quantity: 1,
                },
                pb::StockLine {
                    sku: "A".to_owned(),
                    quantity: 2,
                },
                pb::StockLine {
                    sku: "B".to_owned(),
                    quantity: 3,
                },
            ],
            ttl: None,
            idempotency_key: String::new(),
        })
        .unwrap();
        assert_eq!(reserve.ttl, ReservationTtl::DEFAULT);
        let lines: Vec<(&str, i32)> = reserve
            .lines
            .as_slice()
            .iter()
            .map(|line| (line.sku.as_str(), line.quantity.get()))
            .collect();
        assert_eq!(lines, [("A", 2), ("B", 4)]);
    }
}
