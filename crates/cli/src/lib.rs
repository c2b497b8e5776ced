//! The pieces behind the `haven` binary that tests reuse: assembling the suite in one process (the
//! embedded default of `haven up`), building each service alone for `haven serve`, and verifying every
//! service's audit log (`haven audit verify`).

pub mod audit;
pub mod suite;
pub use suite::{Suite, SuiteError};
