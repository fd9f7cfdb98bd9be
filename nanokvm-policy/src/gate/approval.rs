//! Human approval: the [`Approver`] trait frontends implement, the request it sees, and
//! the grants an operator can give ahead of a call.
//!
//! An approval is bound to one exact call: the tool, its canonical arguments, the device
//! and the hash of the policy in force. The binding is a SHA-256 digest of those four;
//! a grant for it is used by one call at most and expires. If the policy changes while a
//! human is deciding, the answer no longer applies and the call is denied.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};

use serde_json::{Value, json};

use crate::time::Timestamp;

/// A boxed future, for the dyn-compatible [`Approver`] trait.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a human is asked to approve.
#[derive(Clone, Debug, PartialEq)]
pub struct ApprovalRequest {
    /// The tool.
    pub tool: String,
    /// Its canonical arguments, as they will run.
    pub args: Value,
    /// Who is calling.
    pub principal: String,
    /// The caller's session.
    pub session: String,
    /// The device acted on.
    pub device: String,
    /// The rule that asks for approval (`/tools/nanokvm_power/approve_if/0`).
    pub rule: Option<String>,
    /// Why approval is needed.
    pub message: String,
    /// The hash of the policy in force.
    pub policy_hash: String,
    /// The digest binding an approval to exactly this call (hex SHA-256).
    pub binding: String,
}

impl ApprovalRequest {
    /// The request as a JSON object, for a form or a log.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "tool": self.tool,
            "args": self.args,
            "principal": self.principal,
            "session": self.session,
            "device": self.device,
            "rule": self.rule,
            "message": self.message,
            "policy_hash": self.policy_hash,
            "binding": self.binding,
        })
    }
}

/// A human's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApprovalAnswer {
    /// Run this call, once.
    Approve,
    /// Do not run it.
    Deny {
        /// Why, if the human said.
        reason: Option<String>,
    },
}

/// Asks a human. The MCP server implements it with elicitation, the CLI with a prompt on
/// the terminal. The gate bounds the wait with its approval timeout: no answer in time
/// is a denial.
pub trait Approver: Send + Sync {
    /// Asks whether `request` may run.
    fn approve<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, ApprovalAnswer>;
}

/// The digest that binds an approval to one call.
#[must_use]
pub fn binding(tool: &str, args: &Value, device: &str, policy_hash: &str) -> String {
    let canonical = json!([tool, args, device, policy_hash]).to_string();
    crate::hex::sha256_hex(canonical.as_bytes())
}

/// Approvals granted ahead of their call, each usable once until it expires.
#[derive(Debug, Default)]
pub(crate) struct Grants {
    by_binding: Mutex<HashMap<String, Timestamp>>,
}

impl Grants {
    pub(crate) fn grant(&self, binding: &str, expires: Timestamp) {
        let mut map = self
            .by_binding
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.insert(binding.to_owned(), expires);
    }

    /// Uses the grant for `binding` if there is one that has not expired at `now`.
    /// Expired grants are dropped on the way.
    pub(crate) fn take(&self, binding: &str, now: Timestamp) -> bool {
        let mut map = self
            .by_binding
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, expires| *expires > now);
        map.remove(binding).is_some()
    }
}
