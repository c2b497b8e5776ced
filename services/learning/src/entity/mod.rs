//! The learning service's tables. Learning records keep their contract message as an immutable body;
//! the child projection and affiliations are what access decisions read.

pub mod affiliation;
pub mod alignment;
pub mod child;
pub mod enrolment;
pub mod framework;
pub mod label;
pub mod passport;
pub mod record;
