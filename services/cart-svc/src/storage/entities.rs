//! One SeaORM entity per table of `cart-migration`.

pub mod cart {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "carts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// `None` for an anonymous cart.
        pub user_id: Option<Uuid>,
        pub currency: String,
        pub version: i64,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod cart_line {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cart_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub cart_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub sku: String,
        pub position: i32,
        pub variant_id: Uuid,
        pub product_id: Uuid,
        pub title: String,
        pub quantity: i32,
        pub seen_unit_price_minor: Option<i64>,
        pub unavailable_reason: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod cart_idempotency_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cart_idempotency_keys")]
    pub struct Model {
        /// Whose key it is (`crate::domain::KeyScope::as_stored`).
        #[sea_orm(primary_key, auto_increment = false)]
        pub scope: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub idempotency_key: String,
        pub cart_id: Uuid,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod merged_cart {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "merged_carts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub anonymous_cart_id: Uuid,
        pub user_id: Uuid,
        pub merged_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod cart_checkout {
    use sea_orm::entity::prelude::*;

    /// A checkout under one user's idempotency key: pending (the signed
    /// snapshot set, the order not) until orders answers, then placed.
    #[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cart_checkouts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub idempotency_key: String,
        /// The key orders stores (unique).
        pub checkout_key: String,
        pub cart_id: Uuid,
        pub cart_version: i64,
        pub order_id: Option<Uuid>,
        pub order_status: Option<i32>,
        pub created_at: DateTimeUtc,
        pub content_digest: Option<Vec<u8>>,
        pub ordered_lines: Option<Json>,
        /// The signed snapshot bytes; they hold the payment method token.
        pub snapshot: Option<Vec<u8>>,
        pub signature: Option<Vec<u8>>,
        pub expires_at: Option<DateTimeUtc>,
    }

    /// Written by hand: the snapshot bytes hold the payment method token.
    impl std::fmt::Debug for Model {
        fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter
                .debug_struct("CartCheckout")
                .field("user_id", &self.user_id)
                .field("idempotency_key", &self.idempotency_key)
                .field("checkout_key", &self.checkout_key)
                .field("cart_id", &self.cart_id)
                .field("order_id", &self.order_id)
                .field(
                    "snapshot",
                    &self
                        .snapshot
                        .as_ref()
                        .map(|bytes| format!("<{} bytes>", bytes.len())),
                )
                .finish_non_exhaustive()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod anonymous_cart_creation {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "anonymous_cart_creations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub cart_id: Uuid,
        pub client_address: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
