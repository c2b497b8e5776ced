use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "children")]
pub struct Model {
    /// UUIDv7, so ordering by id is ordering by registration time.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Bumped by every change.
    pub version: i64,
    /// Bumped only by changes to identity fields: what education-world callers see, so they cannot tell
    /// that protection data changed.
    pub identity_version: i64,
    pub owner: String,
    pub agency: String,
    pub consent_for_tracing: bool,
    pub created_at_us: i64,
    pub created_by: String,
    pub updated_at_us: i64,
    pub updated_by: String,
    pub identity: Vec<u8>,
    pub whereabouts: Option<Vec<u8>>,
    pub protection: Option<Vec<u8>>,
    /// The registering caseworker's team (token `team`), for the team scope.
    pub team: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
