//! Every proto <-> domain conversion of the catalog, in one place.
//!
//! - `requests`: requests become domain commands through `TryFrom`; the
//!   error is an [`InvalidField`] naming the request field by its path
//!   (`title`, `product.media[2].url`, `skus[3]`, `attributes[size]`),
//!   which becomes INVALID_ARGUMENT with a `google.rpc.BadRequest` naming
//!   it. Nothing here touches the database: every request is fully
//!   validated before the application runs.
//! - `responses`: the `pb_*` messages the handlers answer with.
//! - `events`: the payload of each domain
//!   [`CatalogEvent`](crate::domain::events::CatalogEvent).

mod events;
mod requests;
mod responses;

use chrono::{DateTime, SubsecRound as _, Utc};
use ecommerce_kernel::Money;
use ecommerce_proto::ecommerce::catalog::v1 as pb;
use ecommerce_proto::ecommerce::common::v1 as common_pb;
use prost_types::Timestamp;

pub use self::responses::{
    pb_price, pb_product, pb_product_status, pb_quote, pb_quote_status, pb_variant,
    pb_variant_status,
};
use crate::domain::validation::{InvalidField, MediaItem};

/// A request timestamp as a UTC time, at Postgres' microsecond precision.
fn timestamp(raw: &Timestamp, field: &str) -> Result<DateTime<Utc>, InvalidField> {
    u32::try_from(raw.nanos)
        .ok()
        .filter(|nanos| *nanos < 1_000_000_000)
        .and_then(|nanos| DateTime::<Utc>::from_timestamp(raw.seconds, nanos))
        .map(|time| time.trunc_subsecs(6))
        .ok_or_else(|| {
            InvalidField::new(
                field,
                format!("{}s {}ns is not a valid time", raw.seconds, raw.nanos),
            )
        })
}

fn pb_money(money: Money) -> common_pb::Money {
    common_pb::Money {
        amount_minor: money.amount_minor(),
        currency: money.currency().code().to_owned(),
    }
}

fn pb_media(item: &MediaItem) -> pb::Media {
    pb::Media {
        url: item.url.as_str().to_owned(),
        alt_text: item.alt_text.as_str().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn timestamps_round_trip_at_microsecond_precision() {
        let time = DateTime::<Utc>::from_timestamp(1_900_000_000, 123_456_000).unwrap();
        assert_eq!(
            timestamp(&ecommerce_proto::timestamp(time), "t").unwrap(),
            time
        );
    }
}
