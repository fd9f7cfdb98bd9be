//! Integration tests for nanokvm-policy: loading, decisions, limits, keystroke filters,
//! the shipped policies, and property tests.

mod audit;
mod catalogue;
mod decide;
mod gate;
mod keystrokes;
mod limits;
mod load;
mod policies;
mod props;
#[cfg(feature = "redis")]
mod redis;
mod reload;
mod schema;
mod sqlite;
mod stores;
mod support;
mod typed;
