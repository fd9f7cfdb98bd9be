//! Integration tests for nanokvm-policy: loading, decisions, limits, keystroke filters,
//! the shipped policies, and property tests.

mod decide;
mod keystrokes;
mod limits;
mod load;
mod policies;
mod props;
mod support;
