//! One SeaORM entity per table of `orders-migration`.

pub mod order {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "orders")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: Uuid,
        pub checkout_key: String,
        /// SHA-256 of the signed snapshot bytes; NULL for older orders.
        pub snapshot_digest: Option<Vec<u8>>,
        pub cart_id: Uuid,
        pub cart_version: i64,
        pub status: String,
        pub currency: String,
        pub subtotal_minor: i64,
        pub shipping_price_minor: i64,
        pub total_minor: i64,
        pub shipping_option_id: Uuid,
        pub payment_method_token: String,
        pub correlation_id: String,
        pub rejection_failure: Option<String>,
        pub rejection_short_lines: Option<Json>,
        pub cancel_cause: Option<String>,
        pub cancel_reason: Option<String>,
        pub version: i64,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    /// Written by hand: the payment method token may not reach a log line.
    impl std::fmt::Debug for Model {
        fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter
                .debug_struct("Order")
                .field("id", &self.id)
                .field("user_id", &self.user_id)
                .field("checkout_key", &self.checkout_key)
                .field("status", &self.status)
                .field("version", &self.version)
                .finish_non_exhaustive()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod order_line {
    use sea_orm::entity::prelude::*;

    /// `Deserialize`: [`lock_by_id`](super::super::orders::lock_by_id)
    /// reads the lines as JSON aggregated beside the order row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Deserialize)]
    #[sea_orm(table_name = "order_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub order_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub line_no: i32,
        pub sku: String,
        pub variant_id: Uuid,
        pub product_id: Uuid,
        pub title: String,
        pub quantity: i32,
        pub unit_price_minor: i64,
        pub line_total_minor: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod order_status_history {
    use sea_orm::entity::prelude::*;

    /// `Deserialize`: read as JSON beside the order row, like the lines.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Deserialize)]
    #[sea_orm(table_name = "order_status_history")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub order_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i32,
        pub status: String,
        pub reason: String,
        pub changed_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
