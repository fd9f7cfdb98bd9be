//! The validated policy: what a document means, ready to evaluate.
//!
//! A [`Policy`] only exists when its document passed every check of the loader
//! (`load.rs`), so the evaluator never meets an unknown operator, a bad regex or a value
//! of the wrong type. Every rule keeps the JSON Pointer it came from, which is what a
//! decision names as its rule.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

use nanokvm_hid::Keycode;
use regex::Regex;
use serde_json::Value;

use crate::error::Error;

/// A loaded, validated policy document.
///
/// Build one with [`Policy::from_json`], [`Policy::from_yaml`] or [`Policy::from_value`].
#[derive(Clone, Debug)]
pub struct Policy {
    pub(crate) default: Posture,
    pub(crate) mode: Mode,
    pub(crate) hide_all: bool,
    pub(crate) hide: BTreeSet<String>,
    pub(crate) all_tools: Vec<Limit>,
    pub(crate) tools: HashMap<String, ToolRule>,
    pub(crate) risk: [Option<ToolRule>; 3],
    pub(crate) tool_risk: HashMap<String, RiskClass>,
    pub(crate) drift: Drift,
    pub(crate) keystrokes: Option<Keystrokes>,
    pub(crate) hash: [u8; 32],
}

impl Policy {
    /// Loads a JSON document.
    ///
    /// # Errors
    ///
    /// [`Error::Syntax`] for malformed JSON or a duplicate key, [`Error::Invalid`] with
    /// the JSON Pointer of the first mistake otherwise.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let value = crate::strict::parse_json(text)?;
        Self::from_value(&value)
    }

    /// Loads a YAML document with the same fields as the JSON form.
    ///
    /// # Errors
    ///
    /// As [`Policy::from_json`].
    pub fn from_yaml(text: &str) -> Result<Self, Error> {
        let value = crate::strict::parse_yaml(text)?;
        Self::from_value(&value)
    }

    /// Loads a document that is already a JSON value.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with the JSON Pointer of the first mistake.
    pub fn from_value(value: &Value) -> Result<Self, Error> {
        crate::load::policy(value)
    }

    /// The SHA-256 of the document's canonical JSON form (object keys sorted, no
    /// whitespace), so the same rules written as JSON or YAML hash alike. Approvals are
    /// bound to it.
    #[must_use]
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    /// [`Policy::hash`] as 64 lowercase hex digits.
    #[must_use]
    pub fn hash_hex(&self) -> String {
        crate::hex::lowercase_hex(&self.hash)
    }

    /// The posture for tools not named under `tools`.
    #[must_use]
    pub fn default_posture(&self) -> Posture {
        self.default
    }

    /// The document-wide mode.
    #[must_use]
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether `tool` is hidden: left out of tool lists and denied at call time.
    #[must_use]
    pub fn is_hidden(&self, tool: &str) -> bool {
        self.hide_all || self.hide.contains(tool)
    }

    /// The tools named under `tools`, in no particular order.
    pub fn named_tools(&self) -> impl Iterator<Item = &str> {
        self.tools.keys().map(String::as_str)
    }

    /// The rule for a tool named under `tools`.
    #[must_use]
    pub fn tool(&self, name: &str) -> Option<&ToolRule> {
        self.tools.get(name)
    }

    /// The rule for a risk class, if the document has one.
    #[must_use]
    pub fn risk_rule(&self, class: RiskClass) -> Option<&ToolRule> {
        self.risk[class as usize].as_ref()
    }

    /// The risk class `tool` is treated as: the document's `tool_risk` entry for it,
    /// else `declared` (what the tool declares: its catalogue entry, or a foreign MCP
    /// server's annotations).
    #[must_use]
    pub fn risk_of(&self, tool: &str, declared: Option<RiskClass>) -> Option<RiskClass> {
        self.tool_risk.get(tool).copied().or(declared)
    }

    /// What a tool whose definition drifted from its pin gets (`drift`; a gateway
    /// setting, `deny` when the document does not say).
    #[must_use]
    pub fn drift(&self) -> Drift {
        self.drift
    }

    /// The keystroke filter, if the document has one.
    #[must_use]
    pub fn keystrokes(&self) -> Option<&Keystrokes> {
        self.keystrokes.as_ref()
    }
}

/// `default`: what happens to tools the document does not name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Posture {
    /// Unnamed tools are allowed (subject to `all_tools` limits).
    Allow,
    /// Unnamed tools are denied with rule `(default deny)`.
    Deny,
}

/// `mode`: whether denials block.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Mode {
    /// Denials block (the default).
    #[default]
    Enforce,
    /// Every denial becomes [`Verdict::ShadowDeny`](crate::Verdict::ShadowDeny): decided
    /// and reported, never blocking.
    Shadow,
}

/// `drift`: what the MCP gateway does with a tool whose definition changed since it was
/// pinned, or that appeared after the upstream was first seen.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum Drift {
    /// Refuse the tool until an operator accepts the change (the default).
    #[default]
    Deny,
    /// Ask a human to approve each call of it.
    Approve,
    /// Let calls through; the drift is only audited.
    Warn,
}

impl Drift {
    /// The value's name in documents: `deny`, `approve` or `warn`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Deny => "deny",
            Self::Approve => "approve",
            Self::Warn => "warn",
        }
    }
}

impl FromStr for Drift {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "deny" => Ok(Self::Deny),
            "approve" => Ok(Self::Approve),
            "warn" => Ok(Self::Warn),
            _ => Err(Error::invalid(
                "",
                format!("unknown drift action `{s}` (expected deny, approve or warn)"),
            )),
        }
    }
}

/// The risk class a caller declares for a tool, which `risk` rules key on.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RiskClass {
    /// Read-only or harmless.
    Low = 0,
    /// Changes state, reversibly.
    Medium = 1,
    /// Can destroy data or run code.
    High = 2,
}

impl RiskClass {
    /// The class's name in documents: `low`, `medium` or `high`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

impl FromStr for RiskClass {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            _ => Err(Error::invalid(
                "",
                format!("unknown risk class `{s}` (expected low, medium or high)"),
            )),
        }
    }
}

/// The rule for one tool (or one risk class).
#[derive(Clone, Debug)]
pub struct ToolRule {
    pub(crate) pointer: String,
    pub(crate) action: Action,
    pub(crate) reason: Option<String>,
    pub(crate) require: Vec<Predicate>,
    pub(crate) deny_if: Vec<Predicate>,
    pub(crate) approve_if: Vec<Predicate>,
    pub(crate) limits: Vec<Limit>,
    pub(crate) on_deny: Option<String>,
    pub(crate) mode: Option<Mode>,
}

impl ToolRule {
    /// JSON Pointer of the rule (`/tools/nanokvm_power` or `/risk/high`).
    #[must_use]
    pub fn pointer(&self) -> &str {
        &self.pointer
    }

    /// The rule's `action` (`allow` when the document gives none).
    #[must_use]
    pub fn action(&self) -> Action {
        self.action
    }

    /// The tool's limits, `rate_limit` included, in evaluation order.
    #[must_use]
    pub fn limits(&self) -> &[Limit] {
        &self.limits
    }
}

/// A tool rule's `action`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Action {
    /// The call goes on to the argument checks and limits.
    Allow,
    /// Every call is refused with the rule's `reason`.
    Deny,
    /// Every call needs a human's approval.
    RequireApproval,
}

/// One predicate on the call's arguments.
#[derive(Clone, Debug)]
pub struct Predicate {
    pub(crate) pointer: String,
    pub(crate) path_text: String,
    pub(crate) path: Vec<String>,
    pub(crate) op: Op,
}

/// A predicate's operator with its validated operand.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    Eq(Value),
    Neq(Value),
    In(Vec<Value>),
    NotIn(Vec<Value>),
    Lt(f64),
    Lte(f64),
    Gt(f64),
    Gte(f64),
    Regex(Regex),
    NotRegex(Regex),
    Contains(Value),
    Exists(bool),
    Glob(Regex),
    LenLte(u64),
    LenGt(u64),
}

impl Op {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Eq(_) => "eq",
            Self::Neq(_) => "neq",
            Self::In(_) => "in",
            Self::NotIn(_) => "not_in",
            Self::Lt(_) => "lt",
            Self::Lte(_) => "lte",
            Self::Gt(_) => "gt",
            Self::Gte(_) => "gte",
            Self::Regex(_) => "regex",
            Self::NotRegex(_) => "not_regex",
            Self::Contains(_) => "contains",
            Self::Exists(_) => "exists",
            Self::Glob(_) => "glob",
            Self::LenLte(_) => "len_lte",
            Self::LenGt(_) => "len_gt",
        }
    }
}

/// One quota.
#[derive(Clone, Debug)]
pub struct Limit {
    pub(crate) pointer: String,
    pub(crate) counter: String,
    pub(crate) window: Window,
    pub(crate) max: u64,
    pub(crate) scope: Scope,
    pub(crate) weight: Weight,
}

impl Limit {
    /// JSON Pointer of the limit (`/tools/nanokvm_tap/limits/0`), its rule id.
    #[must_use]
    pub fn pointer(&self) -> &str {
        &self.pointer
    }

    /// The counter's name.
    #[must_use]
    pub fn counter(&self) -> &str {
        &self.counter
    }

    /// The window counted over.
    #[must_use]
    pub fn window(&self) -> Window {
        self.window
    }

    /// Units allowed per window.
    #[must_use]
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Whom the counter is kept for.
    #[must_use]
    pub fn scope(&self) -> Scope {
        self.scope
    }
}

/// The window a limit counts over.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Window {
    /// Fixed windows of this many seconds aligned to the Unix epoch; `second`, `minute`,
    /// `hour` and `day` are 1, 60, 3600 and 86400, the UTC calendar units.
    Fixed(u64),
    /// The uses of exactly the last this many seconds (`sliding:60s`).
    Sliding(u64),
}

impl Window {
    /// The window's length in seconds.
    #[must_use]
    pub fn seconds(self) -> u64 {
        match self {
            Self::Fixed(s) | Self::Sliding(s) => s,
        }
    }
}

impl fmt::Display for Window {
    /// `minute`, `hour`, ... for calendar windows, `60s` for other fixed windows,
    /// `sliding:60s` for sliding ones.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(1) => f.write_str("second"),
            Self::Fixed(60) => f.write_str("minute"),
            Self::Fixed(3600) => f.write_str("hour"),
            Self::Fixed(86_400) => f.write_str("day"),
            Self::Fixed(s) => write!(f, "{s}s"),
            Self::Sliding(s) => write!(f, "sliding:{s}s"),
        }
    }
}

/// Whom a counter is kept for.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Scope {
    /// The client credential: the call's principal.
    Grant,
    /// One connected client: the call's session.
    Session,
    /// The call's principal (the same key as `grant`, a separate counter).
    Principal,
    /// The device acted on.
    Device,
    /// One counter for everyone.
    Global,
}

impl Scope {
    /// The scope's name in documents.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Grant => "grant",
            Self::Session => "session",
            Self::Principal => "principal",
            Self::Device => "device",
            Self::Global => "global",
        }
    }
}

/// What one call costs on a limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Weight {
    /// One unit per call.
    Calls,
    /// The length in characters of a string argument (1 when it is absent or not a
    /// string, so the call still counts).
    Len(Vec<String>),
}

/// The keystroke filter: deny patterns checked on the line being typed.
#[derive(Clone, Debug)]
pub struct Keystrokes {
    pub(crate) deny: Vec<Regex>,
    pub(crate) commit_keys: Vec<Keycode>,
}

impl Keystrokes {
    /// The keys that commit a line (Enter by default).
    #[must_use]
    pub fn commit_keys(&self) -> &[Keycode] {
        &self.commit_keys
    }
}
