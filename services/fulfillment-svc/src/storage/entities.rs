//! One SeaORM entity per table of `fulfillment-migration`.

pub mod shipping_option {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "shipping_options")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub code: String,
        pub name: String,
        pub price_amount_minor: i64,
        pub price_currency: String,
        pub min_delivery_days: i32,
        pub max_delivery_days: i32,
        pub is_default: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod shipment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "shipments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub order_id: Uuid,
        pub reservation_id: Uuid,
        pub status: String,
        pub shipping_option_id: Uuid,
        pub shipping_option_name: String,
        pub shipping_price_minor: i64,
        pub shipping_currency: String,
        pub min_delivery_days: i32,
        pub max_delivery_days: i32,
        pub carrier: Option<String>,
        pub tracking_number: Option<String>,
        pub correlation_id: Option<String>,
        pub last_event_id: Uuid,
        pub created_at: DateTimeUtc,
        pub shipped_at: Option<DateTimeUtc>,
        pub delivered_at: Option<DateTimeUtc>,
        pub updated_at: DateTimeUtc,
        pub canceled_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod shipment_line {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "shipment_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub shipment_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub sku: String,
        pub quantity: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod order_note {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "order_notes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub order_id: Uuid,
        pub shipping_option_id: Option<Uuid>,
        pub canceled_at: Option<DateTimeUtc>,
        pub cancel_reason: Option<String>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
