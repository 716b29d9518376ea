//! Every proto <-> domain conversion of the service, so `grpc` and
//! `events` share one set and neither imports the other. A request or an
//! event that does not convert is an [`InvalidField`] naming its field
//! (INVALID_ARGUMENT for an RPC, dead-lettered for the consumer).
//!
//! - here: the RPCs' requests and responses, and the values both use;
//! - [`events`]: the domain's events as the generated
//!   `ecommerce.fulfillment.v1` messages, and the consumed event as the
//!   domain's input.

pub mod events;

use ecommerce_kernel::Money;
use ecommerce_proto::ecommerce::common::v1 as common_pb;
use ecommerce_proto::ecommerce::fulfillment::v1 as pb;

use crate::domain::{
    Carrier, CountryCode, InvalidField, InvalidValue, OrderId, PageSize, Shipment, ShipmentId,
    ShipmentLine, ShipmentStatus, ShippingOption, Tracking, TrackingNumber,
};

pub fn pb_lines(lines: &[ShipmentLine]) -> Vec<pb::ShipmentLine> {
    lines
        .iter()
        .map(|line| pb::ShipmentLine {
            sku: line.sku.as_str().to_owned(),
            quantity: line.quantity.get(),
        })
        .collect()
}

pub fn pb_money(money: Money) -> common_pb::Money {
    common_pb::Money {
        amount_minor: money.amount_minor(),
        currency: money.currency().code().to_owned(),
    }
}

pub fn pb_shipping_option(option: &ShippingOption) -> pb::ShippingOption {
    pb::ShippingOption {
        id: option.id().to_string(),
        name: option.name().to_owned(),
        price: Some(pb_money(option.price())),
        min_delivery_days: option.min_delivery_days(),
        max_delivery_days: option.max_delivery_days(),
    }
}

pub fn pb_status(status: ShipmentStatus) -> pb::ShipmentStatus {
    match status {
        ShipmentStatus::Pending => pb::ShipmentStatus::Pending,
        ShipmentStatus::Shipped => pb::ShipmentStatus::Shipped,
        ShipmentStatus::Delivered => pb::ShipmentStatus::Delivered,
        ShipmentStatus::Canceled => pb::ShipmentStatus::Canceled,
    }
}

pub fn pb_shipment(shipment: &Shipment) -> pb::Shipment {
    let tracking = shipment.tracking();
    pb::Shipment {
        id: shipment.id().to_string(),
        order_id: shipment.order_id().to_string(),
        status: pb_status(shipment.status()).into(),
        lines: pb_lines(shipment.lines().as_slice()),
        shipping_option: Some(pb_shipping_option(shipment.shipping_option())),
        carrier: tracking
            .map(|tracking| tracking.carrier.as_str().to_owned())
            .unwrap_or_default(),
        tracking_number: tracking
            .map(|tracking| tracking.tracking_number.as_str().to_owned())
            .unwrap_or_default(),
        created_at: Some(ecommerce_proto::timestamp(shipment.created_at())),
        shipped_at: shipment.shipped_at().map(ecommerce_proto::timestamp),
        delivered_at: shipment.delivered_at().map(ecommerce_proto::timestamp),
        updated_at: Some(ecommerce_proto::timestamp(shipment.updated_at())),
        canceled_at: shipment.canceled_at().map(ecommerce_proto::timestamp),
    }
}

fn at(field: &str) -> impl FnOnce(InvalidValue) -> InvalidField + '_ {
    move |invalid| invalid.at(field)
}

pub fn shipment_id(raw: &str) -> Result<ShipmentId, InvalidField> {
    ShipmentId::parse(raw).map_err(at("shipment_id"))
}

/// GetShippingOptions' filters, both optional (empty = unset).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShippingOptionsQuery {
    pub destination_country: Option<CountryCode>,
    pub order_id: Option<OrderId>,
}

impl TryFrom<&pb::GetShippingOptionsRequest> for ShippingOptionsQuery {
    type Error = InvalidField;

    fn try_from(request: &pb::GetShippingOptionsRequest) -> Result<Self, InvalidField> {
        let destination_country = match request.destination_country.trim() {
            "" => None,
            raw => Some(CountryCode::parse(raw).map_err(at("destination_country"))?),
        };
        let order_id = match request.order_id.as_str() {
            "" => None,
            raw => Some(OrderId::parse(raw).map_err(at("order_id"))?),
        };
        Ok(Self {
            destination_country,
            order_id,
        })
    }
}

/// ListShipments: the order, the page size and where the page starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListQuery {
    pub order_id: OrderId,
    pub page_size: PageSize,
    pub after: Option<ShipmentId>,
}

impl TryFrom<&pb::ListShipmentsRequest> for ListQuery {
    type Error = InvalidField;

    fn try_from(request: &pb::ListShipmentsRequest) -> Result<Self, InvalidField> {
        Ok(Self {
            order_id: OrderId::parse(&request.order_id).map_err(at("order_id"))?,
            page_size: PageSize::parse(request.page_size).map_err(at("page_size"))?,
            after: page_token(&request.page_token)?,
        })
    }
}

/// The page token is the id of the previous page's last shipment.
fn page_token(raw: &str) -> Result<Option<ShipmentId>, InvalidField> {
    if raw.is_empty() {
        return Ok(None);
    }
    ShipmentId::parse(raw)
        .map(Some)
        .map_err(|_| InvalidValue::new("is not a token this service issued").at("page_token"))
}

pub fn next_page_token(after: Option<ShipmentId>) -> String {
    after.map(|id| id.to_string()).unwrap_or_default()
}

/// MarkShipped: which shipment, by which carrier under which number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShipCommand {
    pub shipment_id: ShipmentId,
    pub tracking: Tracking,
}

impl TryFrom<&pb::MarkShippedRequest> for ShipCommand {
    type Error = InvalidField;

    fn try_from(request: &pb::MarkShippedRequest) -> Result<Self, InvalidField> {
        Ok(Self {
            shipment_id: shipment_id(&request.shipment_id)?,
            tracking: Tracking {
                carrier: Carrier::parse(&request.carrier).map_err(at("carrier"))?,
                tracking_number: TrackingNumber::parse(&request.tracking_number)
                    .map_err(at("tracking_number"))?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use uuid::Uuid;

    use super::*;

    #[test]
    fn mark_shipped_requests_name_the_bad_field() {
        let good = pb::MarkShippedRequest {
            shipment_id: Uuid::now_v7().to_string(),
            carrier: " DHL ".to_owned(),
            tracking_number: "JJD1".to_owned(),
        };
        let command = ShipCommand::try_from(&good).unwrap();
        assert_eq!(command.tracking.carrier.as_str(), "DHL");
        for (request, field) in [
            (
                pb::MarkShippedRequest {
                    shipment_id: "x".to_owned(),
                    ..good.clone()
                },
                "shipment_id",
            ),
            (
                pb::MarkShippedRequest {
                    carrier: String::new(),
                    ..good.clone()
                },
                "carrier",
            ),
            (
                pb::MarkShippedRequest {
                    tracking_number: " ".to_owned(),
                    ..good.clone()
                },
                "tracking_number",
            ),
        ] {
            assert_eq!(ShipCommand::try_from(&request).unwrap_err().field, field);
        }
    }

    #[test]
    fn shipping_option_filters_are_optional_but_valid() {
        let none =
            ShippingOptionsQuery::try_from(&pb::GetShippingOptionsRequest::default()).unwrap();
        assert_eq!(none.destination_country, None);
        assert_eq!(none.order_id, None);
        let error = ShippingOptionsQuery::try_from(&pb::GetShippingOptionsRequest {
            destination_country: "Germany".to_owned(),
            order_id: String::new(),
        })
        .unwrap_err();
        assert_eq!(error.field, "destination_country");
        let error = ShippingOptionsQuery::try_from(&pb::GetShippingOptionsRequest {
            destination_country: "DE".to_owned(),
            order_id: "42".to_owned(),
        })
        .unwrap_err();
        assert_eq!(error.field, "order_id");
    }

    #[test]
    fn list_queries_check_order_page_size_and_token() {
        let order_id = Uuid::now_v7().to_string();
        let query = ListQuery::try_from(&pb::ListShipmentsRequest {
            order_id: order_id.clone(),
            page_size: 0,
            page_token: String::new(),
        })
        .unwrap();
        assert_eq!(query.page_size.get(), 20);
        assert_eq!(query.after, None);
        for (request, field) in [
            (
                pb::ListShipmentsRequest {
                    order_id: String::new(),
                    ..Default::default()
                },
                "order_id",
            ),
            (
                pb::ListShipmentsRequest {
                    order_id: order_id.clone(),
                    page_size: -1,
                    ..Default::default()
                },
                "page_size",
            ),
            (
                pb::ListShipmentsRequest {
                    order_id: order_id.clone(),
                    page_token: "garbage".to_owned(),
                    ..Default::default()
                },
                "page_token",
            ),
        ] {
            assert_eq!(ListQuery::try_from(&request).unwrap_err().field, field);
        }
        let id = ShipmentId::generate();
        assert_eq!(next_page_token(Some(id)), id.to_string());
        assert_eq!(next_page_token(None), "");
    }
}
