//! One SeaORM entity per table of `catalog-migration`.
//!
//! Written by hand rather than generated: the tables are few, and the
//! generated `products.search_document` column is left out on purpose (it
//! is only ever filtered on, through `storage::products::list`).

pub mod product {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "products")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub title: String,
        pub description: String,
        pub brand: String,
        pub categories: Vec<String>,
        #[sea_orm(column_type = "JsonBinary")]
        pub media: Json,
        pub status: String,
        pub version: i64,
        pub idempotency_key: Option<String>,
        pub request_fingerprint: Option<Vec<u8>>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod variant {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "variants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub product_id: Uuid,
        pub sku: String,
        #[sea_orm(column_type = "JsonBinary")]
        pub attributes: Json,
        pub status: String,
        pub version: i64,
        pub idempotency_key: Option<String>,
        pub request_fingerprint: Option<Vec<u8>>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod price {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "prices")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub variant_id: Uuid,
        pub currency: String,
        pub amount_minor: i64,
        pub effective_from: DateTimeUtc,
        pub created_at: DateTimeUtc,
        pub idempotency_key: Option<String>,
        pub request_fingerprint: Option<Vec<u8>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
