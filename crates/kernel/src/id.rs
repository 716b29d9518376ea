//! UUID ids of the saga's aggregates, as newtypes so an order id is never
//! passed where a reservation id belongs.

use uuid::Uuid;

use crate::InvalidValue;

/// A request's UUID text: not empty, a UUID, not the nil UUID.
pub fn parse_uuid(raw: &str) -> Result<Uuid, InvalidValue> {
    if raw.is_empty() {
        return Err(InvalidValue::new("must not be empty"));
    }
    let uuid =
        Uuid::try_parse(raw).map_err(|_| InvalidValue::new(format!("{raw:?} is not a UUID")))?;
    if uuid.is_nil() {
        return Err(InvalidValue::new("must not be the nil UUID"));
    }
    Ok(uuid)
}

/// Declares `pub struct $name(Uuid)` with `generate` (a UUID v7:
/// time-ordered, so ids sort by creation and index well), `parse` (see
/// [`parse_uuid`]), `from_uuid`, `as_uuid` and `Display`.
#[macro_export]
macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name($crate::uuid::Uuid);

        impl $name {
            /// A fresh UUID v7.
            pub fn generate() -> Self {
                Self($crate::uuid::Uuid::now_v7())
            }

            pub fn parse(raw: &str) -> ::std::result::Result<Self, $crate::InvalidValue> {
                $crate::parse_uuid(raw).map(Self)
            }

            pub const fn from_uuid(uuid: $crate::uuid::Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(self) -> $crate::uuid::Uuid {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, formatter: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                self.0.fmt(formatter)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    crate::uuid_id!(
        /// A test id.
        ThingId
    );

    #[test]
    fn ids_parse_uuids_and_refuse_empty_garbage_and_nil() {
        let id = ThingId::generate();
        assert_eq!(ThingId::parse(&id.to_string()).unwrap(), id);
        assert_eq!(ThingId::from_uuid(id.as_uuid()), id);
        assert!(ThingId::parse("").is_err());
        assert!(ThingId::parse("not-a-uuid").is_err());
        assert!(ThingId::parse(&Uuid::nil().to_string()).is_err());
    }
}
