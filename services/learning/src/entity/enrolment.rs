//! Enrolments of learners in a programme, subject or level at an organisation.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "enrolments")]
pub struct Model {
    /// UUIDv7: ordering by id is ordering by enrolment time.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub child_id: String,
    pub organisation: String,
    pub programme: String,
    pub framework_code: String,
    pub subject_code: String,
    pub level_code: String,
    /// `haven.learning.v1.EnrolmentStatus` number.
    pub status: i32,
    pub sessions_held: i64,
    pub sessions_attended: i64,
    pub attendance_as_of_us: Option<i64>,
    pub version: i64,
    pub enrolled_at_us: i64,
    pub enrolled_by: String,
    pub updated_at_us: i64,
    pub updated_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
