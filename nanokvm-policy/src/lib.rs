//! The policy engine for NanoKVM actions (allow, deny, approvals, rate limits and
//! keystroke filters, decided purely from values) and the gate that enforces it in front
//! of a device.
//!
//! Every device operation is an action named like the MCP tool that does it
//! (`nanokvm_power`, `nanokvm_send_text`, `nanokvm_mount_iso`, ...) with its arguments as
//! JSON. A policy document says which actions may run, on which arguments, how often, and
//! which need a human's approval. The language is PolicyLayer's JSON dialect plus this
//! project's extensions, described field by field in `docs/policy-language.md` at the
//! repository's root (with a JSON Schema for editors in `policy.schema.json` beside this
//! crate's manifest); YAML with the same fields works too.
//!
//! - [`Policy`]: a validated document. Loading refuses unknown fields, bad regexes, unknown
//!   operators and wrong types with an [`Error::Invalid`] naming the JSON Pointer of the
//!   mistake.
//! - [`Engine`]: decides a [`Call`] at a [`Timestamp`] the caller passes, returning a
//!   [`Decision`] with a [`Verdict`], the deciding rule, a message and, for limits, the
//!   seconds until a slot frees.
//! - [`CounterStore`]: where limit counters live; reservations are all or nothing across a
//!   call's limits, and count while the call is in flight. [`MemoryStore`] keeps them in
//!   memory.
//! - Keystroke filters: per device, the engine rebuilds the line being typed across
//!   typing calls from the keyboard reports they send, decoded as the target decodes
//!   them, and checks it when Enter would be sent, so `rm -rf /` split over several
//!   calls, hidden behind a character the paste skips, or encoded for another keyboard
//!   layout is still caught.
//! - [`catalogue`]: every device tool declared once (arguments struct, JSON Schema,
//!   title, description, risk class, hints, whether it types), for the gate, the MCP
//!   server, the CLI and the docs.
//!
//! The engine is pure: no I/O, no async, no clock reads. Around it:
//!
//! - [`gate::Gate`]: owns a `nanokvm_client::Client` and is the only way frontends reach
//!   the device. Each call is parsed into a [`gate::DeviceAction`], decided, approved
//!   through a [`gate::Approver`] when the policy asks, audited, run once, then committed
//!   or rolled back. It also decides calls it does not run, for a gateway in front of
//!   another MCP server ([`gate::Gate::check`]).
//! - Durable parts: [`SqliteStore`] keeps counters in an SQLite file (a reservation is
//!   on disk before the call goes ahead; counters survive restarts, crashes and
//!   reloads); [`AuditLog`] appends hash-chained JSON lines, synced before returning,
//!   with typed text redacted under an [`AuditKey`], and [`verify`] detects tampering;
//!   [`PolicyFile`] reloads a policy file on request, keeping the last good policy when
//!   an edit is broken.
//!
//! # Example
//!
//! ```
//! use nanokvm_policy::{Call, Engine, MemoryStore, Policy, Timestamp, Verdict};
//! use serde_json::json;
//!
//! let policy = Policy::from_json(r#"{
//!     "version": "1",
//!     "default": "deny",
//!     "tools": {
//!         "nanokvm_power": {
//!             "approve_if": [{"path": "args.action", "op": "eq", "value": "power_long"}],
//!             "limits": [{"counter": "power", "window": "hour", "max": 1, "scope": "grant"}]
//!         }
//!     }
//! }"#)?;
//! let engine = Engine::with_policy(policy, MemoryStore::new());
//! let now = Timestamp::parse_rfc3339("2026-03-03T10:15:00Z")?;
//!
//! let press = json!({"action": "power"});
//! let call = Call::new("nanokvm_power", &press).principal("agent-1");
//! let decision = engine.decide(&call, now);
//! assert_eq!(decision.verdict, Verdict::Allow);
//! // The call ran and succeeded: make its use of the limit permanent.
//! if let Some(reservation) = decision.reservation {
//!     engine.commit(reservation)?;
//! }
//!
//! // A second press in the same UTC hour is over the limit.
//! let again = engine.decide(&call, now);
//! assert_eq!(again.verdict, Verdict::Deny);
//! assert_eq!(again.rule.as_deref(), Some("/tools/nanokvm_power/limits/0"));
//! assert_eq!(again.retry_after_s, Some(45 * 60));
//!
//! // A forced power-off needs a human, and tools not named are denied.
//! let hold = json!({"action": "power_long"});
//! let decision = engine.decide(&Call::new("nanokvm_power", &hold), now);
//! assert_eq!(decision.verdict, Verdict::ApprovalRequired);
//! let decision = engine.decide(&Call::new("nanokvm_reset_hid", &json!({})), now);
//! assert_eq!(decision.rule.as_deref(), Some("(default deny)"));
//! # Ok::<(), nanokvm_policy::Error>(())
//! ```

mod audit;
pub mod catalogue;
pub mod devices;
mod engine;
mod error;
pub mod gate;
mod hex;
mod keystrokes;
mod load;
mod policy;
mod predicate;
#[cfg(feature = "redis")]
mod redis;
mod reload;
mod sqlite;
mod store;
mod strict;
mod time;

#[cfg(feature = "redis")]
pub use self::redis::{RedisStore, RedisStoreBuilder};
pub use audit::{
    AuditEvent, AuditKey, AuditKind, AuditLog, GENESIS_PREV, VerifyReport, verify, verify_dir_chain,
};
pub use engine::{
    Access, Call, Decision, Engine, Quota, RULE_DEFAULT_DENY, RULE_HIDDEN, RULE_NO_POLICY,
    RULE_STORE_ERROR, Reservation, Standing, Verdict,
};
pub use error::{Error, error_chain};
pub use nanokvm_hid::{Keymap, Layout, TargetOs};
pub use policy::{
    Action, Drift, Keystrokes, Limit, Mode, Policy, Posture, Predicate, RiskClass, Scope, ToolRule,
    Window,
};
pub use reload::{PolicyFile, Reload};
pub use sqlite::SqliteStore;
pub use store::{
    CounterKey, CounterRequest, CounterStore, MemoryStore, Refusal, ReservationId, Reserve,
};
pub use time::Timestamp;

/// The shipped recommended policy (`policies/nanokvm-recommended.json`): reads freely,
/// types and clicks within limits, asks a human before forcing power off or mounting a
/// writable disk, and refuses destructive shell commands typed in the clear. Frontends
/// apply it when the operator names no policy.
pub const RECOMMENDED_POLICY: &str = include_str!("../policies/nanokvm-recommended.json");

/// Compiles the code in the crate's README, so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
