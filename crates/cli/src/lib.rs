//! The pieces behind the `haven` binary that tests reuse: assembling the suite in one process (the
//! embedded default of `haven up`), and building each service alone for `haven serve`.

pub mod suite;
pub use suite::{Suite, SuiteError};
