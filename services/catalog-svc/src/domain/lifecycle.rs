//! The product and variant state machines.
//!
//! Products: `DRAFT -> PUBLISHED <-> UNPUBLISHED -> ARCHIVED` (terminal),
//! as the issue states it. The proto comment says "any -> ARCHIVED"; the
//! issue wins, so a draft or a published product must go through
//! UNPUBLISHED before it can be archived (see the report / README). The
//! whole rule is [`ProductStatus::can_become`], one table.
//!
//! Variants: `ACTIVE -> DISCONTINUED` (terminal).

use std::fmt;

/// Publish state of a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProductStatus {
    Draft,
    Published,
    Unpublished,
    Archived,
}

impl ProductStatus {
    pub const ALL: [Self; 4] = [
        Self::Draft,
        Self::Published,
        Self::Unpublished,
        Self::Archived,
    ];

    /// Whether a product in `self` may move to `target`.
    pub fn can_become(self, target: Self) -> bool {
        matches!(
            (self, target),
            (Self::Draft, Self::Published)
                | (Self::Published, Self::Unpublished)
                | (Self::Unpublished, Self::Published)
                | (Self::Unpublished, Self::Archived)
        )
    }

    /// Shoppers (anonymous and customer callers) see published products only.
    pub fn is_visible_to_shoppers(self) -> bool {
        self == Self::Published
    }

    /// Archived products are frozen: no edits, no new variants or prices.
    pub fn is_terminal(self) -> bool {
        self == Self::Archived
    }

    /// The stored form (`products.status`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
            Self::Unpublished => "unpublished",
            Self::Archived => "archived",
        }
    }

    pub fn from_stored(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }

    /// The proto enum's value name, used in messages ("is ARCHIVED").
    pub const fn name(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::Published => "PUBLISHED",
            Self::Unpublished => "UNPUBLISHED",
            Self::Archived => "ARCHIVED",
        }
    }
}

impl fmt::Display for ProductStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// The three lifecycle RPCs, each naming the state it moves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LifecycleAction {
    Publish,
    Unpublish,
    Archive,
}

impl LifecycleAction {
    pub const ALL: [Self; 3] = [Self::Publish, Self::Unpublish, Self::Archive];

    pub fn target(self) -> ProductStatus {
        match self {
            Self::Publish => ProductStatus::Published,
            Self::Unpublish => ProductStatus::Unpublished,
            Self::Archive => ProductStatus::Archived,
        }
    }
}

/// Sellability of a variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VariantStatus {
    Active,
    Discontinued,
}

impl VariantStatus {
    pub const ALL: [Self; 2] = [Self::Active, Self::Discontinued];

    pub fn can_become(self, target: Self) -> bool {
        matches!((self, target), (Self::Active, Self::Discontinued))
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Discontinued => "discontinued",
        }
    }

    pub fn from_stored(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }

    pub const fn name(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Discontinued => "DISCONTINUED",
        }
    }
}

impl fmt::Display for VariantStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProductStatus::{Archived, Draft, Published, Unpublished};

    /// Every (from, to) pair of product states, with the expected answer.
    #[test]
    fn every_product_transition_pair() {
        let table = [
            (Draft, Draft, false),
            (Draft, Published, true),
            (Draft, Unpublished, false),
            (Draft, Archived, false),
            (Published, Draft, false),
            (Published, Published, false),
            (Published, Unpublished, true),
            (Published, Archived, false),
            (Unpublished, Draft, false),
            (Unpublished, Published, true),
            (Unpublished, Unpublished, false),
            (Unpublished, Archived, true),
            (Archived, Draft, false),
            (Archived, Published, false),
            (Archived, Unpublished, false),
            (Archived, Archived, false),
        ];
        assert_eq!(table.len(), ProductStatus::ALL.len().pow(2));
        for (from, to, allowed) in table {
            assert_eq!(from.can_become(to), allowed, "{from} -> {to}");
        }
    }

    #[test]
    fn no_state_returns_to_draft_and_archived_is_terminal() {
        for from in ProductStatus::ALL {
            assert!(!from.can_become(Draft), "{from} -> DRAFT");
            assert!(!Archived.can_become(from), "ARCHIVED -> {from}");
            assert!(!from.can_become(from), "{from} -> itself");
        }
        assert!(Archived.is_terminal());
        assert!(
            ProductStatus::ALL
                .into_iter()
                .filter(|status| status.is_terminal())
                .eq([Archived])
        );
    }

    #[test]
    fn every_action_from_every_state() {
        for from in ProductStatus::ALL {
            for action in LifecycleAction::ALL {
                let expected = matches!(
                    (from, action),
                    (Draft | Unpublished, LifecycleAction::Publish)
                        | (Published, LifecycleAction::Unpublish)
                        | (Unpublished, LifecycleAction::Archive)
                );
                assert_eq!(
                    from.can_become(action.target()),
                    expected,
                    "{from} {action:?}"
                );
            }
        }
    }

    #[test]
    fn only_published_products_are_visible_to_shoppers() {
        for status in ProductStatus::ALL {
            assert_eq!(status.is_visible_to_shoppers(), status == Published);
        }
    }

    #[test]
    fn every_variant_transition_pair() {
        use VariantStatus::{Active, Discontinued};
        let table = [
            (Active, Active, false),
            (Active, Discontinued, true),
            (Discontinued, Active, false),
            (Discontinued, Discontinued, false),
        ];
        for (from, to, allowed) in table {
            assert_eq!(from.can_become(to), allowed, "{from} -> {to}");
        }
    }

    #[test]
    fn stored_forms_round_trip() {
        for status in ProductStatus::ALL {
            assert_eq!(ProductStatus::from_stored(status.as_str()), Some(status));
        }
        for status in VariantStatus::ALL {
            assert_eq!(VariantStatus::from_stored(status.as_str()), Some(status));
        }
        assert_eq!(ProductStatus::from_stored("DRAFT"), None);
        assert_eq!(VariantStatus::from_stored(""), None);
    }
}
