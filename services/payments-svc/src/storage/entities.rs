//! One SeaORM entity per table of `payments-migration`.

pub mod payment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "payments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub order_id: Uuid,
        pub user_id: Uuid,
        pub amount_minor: i64,
        pub currency: String,
        pub payment_method_token: String,
        pub correlation_id: Option<String>,
        pub status: String,
        pub provider_reference: Option<String>,
        pub authorized_at: Option<DateTimeUtc>,
        pub failure_reason: Option<String>,
        pub failed_at: Option<DateTimeUtc>,
        pub captured_at: Option<DateTimeUtc>,
        pub void_reason: Option<String>,
        pub voided_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    /// Written by hand: the payment method token may not reach a log line.
    impl std::fmt::Debug for Model {
        fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter
                .debug_struct("Payment")
                .field("id", &self.id)
                .field("order_id", &self.order_id)
                .field("status", &self.status)
                .finish_non_exhaustive()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
