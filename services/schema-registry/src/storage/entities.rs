//! One SeaORM entity per table of `registry-migration`.

pub mod config {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "config")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: bool,
        pub compatibility_level: String,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod subject {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "subjects")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub compatibility_level: Option<String>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod schema {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "schemas")]
    pub struct Model {
        /// `GENERATED ALWAYS AS IDENTITY`: never written by the service.
        #[sea_orm(primary_key)]
        pub id: i64,
        pub subject: String,
        pub version: i32,
        pub message_name: String,
        pub message_file: String,
        pub imports: Vec<String>,
        pub event_type: String,
        pub file_descriptor_set: Vec<u8>,
        pub fingerprint: Vec<u8>,
        pub created_at: DateTimeUtc,
        pub deleted_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
