//! Every proto <-> domain conversion of the API: requests validated into
//! the domain's questions (INVALID_ARGUMENT naming the field), answers
//! into messages, page tokens both ways.

use chrono::{DateTime, Utc};
use ecommerce_kernel::PageSize;
use ecommerce_proto::ecommerce::common::v1::Money;
use ecommerce_proto::ecommerce::reporting::v1 as pb;
use ecommerce_proto::timestamp;

use crate::domain::{
    Granularity, InvalidField, InvalidValue, Range, SalesPageToken, StockPageToken,
    stock_threshold, top_products_limit,
};
use crate::storage::{Figure, Funnel, SalesRow, SkuSalesRow, StockRow};

/// `field` as a UTC time; a missing one stays `None` (the range refuses it).
fn time(
    value: Option<&prost_types::Timestamp>,
    field: &str,
) -> Result<Option<DateTime<Utc>>, InvalidField> {
    value
        .map(|stamp| {
            u32::try_from(stamp.nanos)
                .ok()
                .and_then(|nanos| DateTime::from_timestamp(stamp.seconds, nanos))
                .ok_or_else(|| InvalidValue::new("is not a valid time").at(field))
        })
        .transpose()
}

fn range(
    from: Option<&prost_types::Timestamp>,
    to: Option<&prost_types::Timestamp>,
) -> Result<Range, InvalidField> {
    Range::new(time(from, "from")?, time(to, "to")?)
}

fn page_size(raw: i32) -> Result<u64, InvalidField> {
    PageSize::parse(raw)
        .map(PageSize::get)
        .map_err(|invalid| invalid.at("page_size"))
}

fn bad_token() -> InvalidField {
    InvalidValue::new("is not a token this service issued").at("page_token")
}

/// A validated GetSalesSummary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SalesQuery {
    pub range: Range,
    pub granularity: Granularity,
    pub currency: Option<String>,
    pub page_size: u64,
    pub after: Option<SalesPageToken>,
}

impl TryFrom<&pb::GetSalesSummaryRequest> for SalesQuery {
    type Error = InvalidField;

    fn try_from(request: &pb::GetSalesSummaryRequest) -> Result<Self, InvalidField> {
        let granularity = match pb::Granularity::try_from(request.granularity) {
            Ok(pb::Granularity::Unspecified | pb::Granularity::Day) => Granularity::Day,
            Ok(pb::Granularity::Week) => Granularity::Week,
            Ok(pb::Granularity::Month) => Granularity::Month,
            Err(_) => return Err(InvalidValue::new("is not a granularity").at("granularity")),
        };
        let currency = match request.currency.trim() {
            "" => None,
            code => Some(
                ecommerce_kernel::Currency::parse(code)
                    .map_err(|invalid| invalid.at("currency"))?
                    .code()
                    .to_owned(),
            ),
        };
        Ok(Self {
            range: range(request.from.as_ref(), request.to.as_ref())?,
            granularity,
            currency,
            page_size: page_size(request.page_size)?,
            after: sales_token(&request.page_token)?,
        })
    }
}

/// `<period start, unix seconds>/<currency>`.
fn sales_token(raw: &str) -> Result<Option<SalesPageToken>, InvalidField> {
    if raw.is_empty() {
        return Ok(None);
    }
    let (seconds, currency) = raw.split_once('/').ok_or_else(bad_token)?;
    let period_start = seconds
        .parse::<i64>()
        .ok()
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .ok_or_else(bad_token)?;
    if currency.is_empty() {
        return Err(bad_token());
    }
    Ok(Some(SalesPageToken {
        period_start,
        currency: currency.to_owned(),
    }))
}

pub fn next_sales_token(last: &SalesRow) -> String {
    format!("{}/{}", last.period_start.timestamp(), last.currency)
}

/// A validated ListLowStock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LowStockQuery {
    pub threshold: i32,
    pub page_size: u64,
    pub after: Option<StockPageToken>,
}

impl TryFrom<&pb::ListLowStockRequest> for LowStockQuery {
    type Error = InvalidField;

    fn try_from(request: &pb::ListLowStockRequest) -> Result<Self, InvalidField> {
        Ok(Self {
            threshold: stock_threshold(request.threshold)?,
            page_size: page_size(request.page_size)?,
            after: stock_token(&request.page_token)?,
        })
    }
}

/// `<available>/<sku>`.
fn stock_token(raw: &str) -> Result<Option<StockPageToken>, InvalidField> {
    if raw.is_empty() {
        return Ok(None);
    }
    let (available, sku) = raw.split_once('/').ok_or_else(bad_token)?;
    let available = available.parse::<i32>().map_err(|_| bad_token())?;
    if sku.is_empty() {
        return Err(bad_token());
    }
    Ok(Some(StockPageToken {
        available,
        sku: sku.to_owned(),
    }))
}

pub fn next_stock_token(last: &StockRow) -> String {
    format!("{}/{}", last.available(), last.sku)
}

/// A validated TopProducts: the range and how many SKUs.
pub fn top_products_query(request: &pb::TopProductsRequest) -> Result<(Range, u64), InvalidField> {
    Ok((
        range(request.from.as_ref(), request.to.as_ref())?,
        top_products_limit(request.limit)?,
    ))
}

/// A validated GetFunnel.
pub fn funnel_range(request: &pb::GetFunnelRequest) -> Result<Range, InvalidField> {
    range(request.from.as_ref(), request.to.as_ref())
}

fn money(amount_minor: i64, currency: &str) -> Money {
    Money {
        amount_minor,
        currency: currency.to_owned(),
    }
}

fn figure(figure: Figure, currency: &str) -> pb::SalesFigure {
    pb::SalesFigure {
        count: figure.count,
        amount: Some(money(figure.amount_minor, currency)),
    }
}

pub fn pb_period(row: &SalesRow) -> pb::SalesPeriod {
    let currency = row.currency.as_str();
    pb::SalesPeriod {
        period_start: Some(timestamp(row.period_start)),
        currency: row.currency.clone(),
        placed: Some(figure(row.placed, currency)),
        confirmed: Some(figure(row.confirmed, currency)),
        rejected: Some(figure(row.rejected, currency)),
        canceled: Some(figure(row.canceled, currency)),
        captured: Some(figure(row.captured, currency)),
    }
}

/// One ProductSales per SKU from its rows per currency (which come together).
pub fn pb_products(rows: &[SkuSalesRow]) -> Vec<pb::ProductSales> {
    let mut products: Vec<pb::ProductSales> = Vec::new();
    for row in rows {
        let revenue = money(row.revenue_minor, &row.currency);
        match products.last_mut() {
            Some(product) if product.sku == row.sku => product.revenue.push(revenue),
            _ => products.push(pb::ProductSales {
                sku: row.sku.clone(),
                product_id: row.product_id.map(|id| id.to_string()).unwrap_or_default(),
                title: row.title.clone(),
                units: row.units,
                revenue: vec![revenue],
                orders: row.orders,
            }),
        }
    }
    products
}

fn causes(causes: &[(String, i64)]) -> Vec<pb::CauseCount> {
    causes
        .iter()
        .map(|(cause, orders)| pb::CauseCount {
            cause: cause.clone(),
            orders: *orders,
        })
        .collect()
}

pub fn pb_funnel(funnel: &Funnel) -> pb::GetFunnelResponse {
    pb::GetFunnelResponse {
        placed: funnel.placed,
        reserved: funnel.reserved,
        paid: funnel.paid,
        confirmed: funnel.confirmed,
        rejections: causes(&funnel.rejections),
        cancellations: causes(&funnel.cancellations),
        reservation_failures: causes(&funnel.reservation_failures),
        payment_failures: causes(&funnel.payment_failures),
    }
}

pub fn pb_stock_level(row: &StockRow) -> pb::StockLevel {
    pb::StockLevel {
        sku: row.sku.clone(),
        product_id: row.product_id.map(|id| id.to_string()).unwrap_or_default(),
        title: row.title.clone().unwrap_or_default(),
        on_hand: row.on_hand,
        reserved: row.reserved,
        available: row.available(),
        updated_at: Some(timestamp(row.updated_at)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn stamp(seconds: i64) -> Option<prost_types::Timestamp> {
        Some(prost_types::Timestamp { seconds, nanos: 0 })
    }

    #[test]
    fn sales_requests_are_validated_naming_the_field() {
        let valid = pb::GetSalesSummaryRequest {
            from: stamp(0),
            to: stamp(86_400),
            ..Default::default()
        };
        let query = SalesQuery::try_from(&valid).unwrap();
        assert_eq!((query.granularity, query.page_size), (Granularity::Day, 20));
        let field =
            |request: pb::GetSalesSummaryRequest| SalesQuery::try_from(&request).unwrap_err().field;
        assert_eq!(
            field(pb::GetSalesSummaryRequest {
                from: None,
                ..valid.clone()
            }),
            "from"
        );
        assert_eq!(
            field(pb::GetSalesSummaryRequest {
                to: stamp(0),
                ..valid.clone()
            }),
            "to"
        );
        assert_eq!(
            field(pb::GetSalesSummaryRequest {
                granularity: 9,
                ..valid.clone()
            }),
            "granularity"
        );
        assert_eq!(
            field(pb::GetSalesSummaryRequest {
                currency: "euro".to_owned(),
                ..valid.clone()
            }),
            "currency"
        );
        assert_eq!(
            field(pb::GetSalesSummaryRequest {
                page_size: -1,
                ..valid.clone()
            }),
            "page_size"
        );
        assert_eq!(
            field(pb::GetSalesSummaryRequest {
                page_token: "garbage".to_owned(),
                ..valid
            }),
            "page_token"
        );
    }

    #[test]
    fn page_tokens_round_trip() {
        let row = SalesRow {
            period_start: DateTime::from_timestamp(86_400, 0).unwrap(),
            currency: "EUR".to_owned(),
            placed: Figure::default(),
            confirmed: Figure::default(),
            rejected: Figure::default(),
            canceled: Figure::default(),
            captured: Figure::default(),
        };
        assert_eq!(
            sales_token(&next_sales_token(&row)).unwrap().unwrap(),
            SalesPageToken {
                period_start: row.period_start,
                currency: "EUR".to_owned()
            }
        );
        assert_eq!(
            stock_token("3/SKU-1").unwrap().unwrap(),
            StockPageToken {
                available: 3,
                sku: "SKU-1".to_owned()
            }
        );
        assert!(stock_token("x/SKU").is_err());
    }
}
