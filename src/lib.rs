//! pulsebot: a Matrix bot that runs usability surveys inside a software pilot.
#![recursion_limit = "256"]

pub mod lang;
pub mod schedule;
pub mod store;
pub mod survey;
