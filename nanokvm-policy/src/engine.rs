//! Deciding one call: the evaluation order of the language document, section 2.
//!
//! [`Engine::decide`] takes a [`Call`] and the time and returns a [`Decision`]. When the
//! decision lets the call go ahead and limits applied, it carries a [`Reservation`] that
//! the caller settles with [`Engine::commit`] after the call succeeded or
//! [`Engine::rollback`] after it failed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use nanokvm_hid::{KeyboardReport, Keymap, Layout};
use serde_json::{Value, json};

use crate::catalogue::{self, DeviceAction};
use crate::error::Error;
use crate::keystrokes::{self, LineDenial, LineState, Simulation};
use crate::policy::{Action, Limit, Mode, Policy, Posture, RiskClass, Scope, ToolRule, Weight};
use crate::predicate::lookup;
use crate::store::{CounterKey, CounterRequest, CounterStore, MemoryStore, ReservationId, Reserve};
use crate::time::Timestamp;

/// Rule id when no policy is loaded (or the last load failed and there is no good one).
pub const RULE_NO_POLICY: &str = "(no policy)";
/// Rule id for a tool listed under `hide`.
pub const RULE_HIDDEN: &str = "(hidden)";
/// Rule id for an unnamed tool under `default: deny`.
pub const RULE_DEFAULT_DENY: &str = "(default deny)";
/// Rule id when the counter store failed, which denies the call.
pub const RULE_STORE_ERROR: &str = "(store error)";

/// One call to decide: the action, its arguments and who acts on what.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    /// The action's name: the MCP tool name (`nanokvm_power`).
    pub tool: &'a str,
    /// The arguments, as the JSON object the tool receives.
    pub args: &'a Value,
    /// The client credential (the `grant` and `principal` scopes).
    pub principal: &'a str,
    /// The connected client (the `session` scope).
    pub session: &'a str,
    /// The device acted on (the `device` scope, and the keystroke line).
    pub device: &'a str,
    /// The tool's declared risk class, for `risk` rules.
    pub risk: Option<RiskClass>,
    /// A human already approved this exact call, so step 7 is passed.
    pub approved: bool,
    /// For a typing tool, the keyboard reports the call sends
    /// ([`DeviceAction::typed_keys`]); when `None`, the engine works them out from the
    /// arguments with the device's layout.
    pub keys: Option<&'a [KeyboardReport]>,
}

impl<'a> Call<'a> {
    /// A call of `tool` with `args`, with empty principal, session and device, no risk
    /// class and no approval.
    #[must_use]
    pub fn new(tool: &'a str, args: &'a Value) -> Self {
        Self {
            tool,
            args,
            principal: "",
            session: "",
            device: "",
            risk: None,
            approved: false,
            keys: None,
        }
    }

    /// Sets the keyboard reports a typing call sends.
    #[must_use]
    pub fn keys(mut self, reports: &'a [KeyboardReport]) -> Self {
        self.keys = Some(reports);
        self
    }

    /// Sets the principal.
    #[must_use]
    pub fn principal(mut self, principal: &'a str) -> Self {
        self.principal = principal;
        self
    }

    /// Sets the session.
    #[must_use]
    pub fn session(mut self, session: &'a str) -> Self {
        self.session = session;
        self
    }

    /// Sets the device.
    #[must_use]
    pub fn device(mut self, device: &'a str) -> Self {
        self.device = device;
        self
    }

    /// Sets the risk class.
    #[must_use]
    pub fn risk(mut self, risk: RiskClass) -> Self {
        self.risk = Some(risk);
        self
    }

    /// Marks the call as approved by a human.
    #[must_use]
    pub fn approved(mut self, approved: bool) -> Self {
        self.approved = approved;
        self
    }
}

/// What the engine decided.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verdict {
    /// The call may run.
    Allow,
    /// The call is refused.
    Deny,
    /// The call may run once a human approves it.
    ApprovalRequired,
    /// The call would be refused, but the policy is in shadow mode: it runs.
    ShadowDeny,
}

impl Verdict {
    /// The verdict's name on the wire: `allow`, `deny`, `approval_required`,
    /// `shadow_deny`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::ApprovalRequired => "approval_required",
            Self::ShadowDeny => "shadow_deny",
        }
    }
}

/// What a call that is going ahead holds until it is settled: units on counters, and
/// for a typing call the line it will leave on the device. Settle it exactly once with
/// [`Engine::commit`], [`Engine::commit_uncertain`] or [`Engine::rollback`].
#[derive(Debug)]
#[must_use = "a reservation must be committed or rolled back"]
pub struct Reservation {
    id: Option<ReservationId>,
    line: Option<PendingLine>,
}

/// The line a typing call leaves, and the version of the line it was built on.
#[derive(Debug)]
struct PendingLine {
    device: String,
    base: u64,
    state: LineState,
}

impl Reservation {
    /// The store's id of the reservation, when limits applied.
    #[must_use]
    pub fn id(&self) -> Option<ReservationId> {
        self.id
    }
}

/// The outcome of [`Engine::decide`].
#[derive(Debug)]
pub struct Decision {
    /// What was decided.
    pub verdict: Verdict,
    /// The deciding rule: a JSON Pointer into the document (`/tools/t/limits/0`) or a
    /// special id (`(hidden)`, `(default deny)`, `(no policy)`, `(store error)`); `None`
    /// for a plain allow.
    pub rule: Option<String>,
    /// What the agent is told.
    pub message: String,
    /// For a limit denial, whole seconds until the call could fit, when it ever can.
    pub retry_after_s: Option<u64>,
    /// Units reserved for the call, when it goes ahead and limits applied.
    pub reservation: Option<Reservation>,
}

impl Decision {
    fn new(verdict: Verdict, rule: impl Into<Option<String>>, message: impl Into<String>) -> Self {
        Self {
            verdict,
            rule: rule.into(),
            message: message.into(),
            retry_after_s: None,
            reservation: None,
        }
    }

    /// Whether the call runs now: [`Verdict::Allow`] or [`Verdict::ShadowDeny`].
    #[must_use]
    pub fn proceeds(&self) -> bool {
        matches!(self.verdict, Verdict::Allow | Verdict::ShadowDeny)
    }

    /// The decision as the JSON object `policy_eval` and the MCP server report:
    /// `{"verdict", "rule", "message", "retry_after_s"}`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        report_json(
            self.verdict,
            self.rule.as_deref(),
            &self.message,
            self.retry_after_s,
        )
    }
}

/// `{"verdict", "rule", "message", "retry_after_s"}`: how decisions and denials are
/// reported.
fn report_json(
    verdict: Verdict,
    rule: Option<&str>,
    message: &str,
    retry_after_s: Option<u64>,
) -> Value {
    json!({
        "verdict": verdict.as_str(),
        "rule": rule,
        "message": message,
        "retry_after_s": retry_after_s,
    })
}

/// The decision engine: a policy, a counter store and the keystroke lines of every
/// device. Shareable across threads; every method takes `&self`.
#[derive(Debug)]
pub struct Engine<S = MemoryStore> {
    policy: RwLock<Option<Arc<Policy>>>,
    store: S,
    lines: Mutex<HashMap<String, Line>>,
    keymaps: Mutex<HashMap<String, Keymap>>,
}

/// A device's line and how many times it was replaced.
#[derive(Clone, Debug)]
struct Line {
    state: LineState,
    version: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Line state is replaced whole, never half-written, so a poisoned lock is still sound.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<S: CounterStore> Engine<S> {
    /// An engine with no policy yet: it denies everything with `(no policy)`.
    pub fn new(store: S) -> Self {
        Self {
            policy: RwLock::new(None),
            store,
            lines: Mutex::new(HashMap::new()),
            keymaps: Mutex::new(HashMap::new()),
        }
    }

    /// An engine deciding by `policy`.
    pub fn with_policy(policy: Policy, store: S) -> Self {
        let engine = Self::new(store);
        engine.set_policy(policy);
        engine
    }

    /// Replaces the policy. Counters and typed lines are kept, so a reload cannot reset
    /// a limit.
    pub fn set_policy(&self, policy: Policy) {
        self.set_shared_policy(Arc::new(policy));
    }

    /// Replaces the policy with one shared with its owner (a [`PolicyFile`]'s last good
    /// policy), without copying it. Counters and typed lines are kept.
    ///
    /// [`PolicyFile`]: crate::PolicyFile
    pub fn set_shared_policy(&self, policy: Arc<Policy>) {
        *self.policy.write().unwrap_or_else(PoisonError::into_inner) = Some(policy);
    }

    /// Drops the policy: from now on every call is denied with `(no policy)`.
    pub fn clear_policy(&self) {
        *self.policy.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The policy in force.
    pub fn policy(&self) -> Option<Arc<Policy>> {
        self.policy
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The counter store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Sets the keyboard layout of `device`'s target (US English until set), as Windows
    /// reads it, used to rebuild the typed line. Resets that device's line.
    pub fn set_layout(&self, device: &str, layout: Layout) {
        self.set_keymap(device, Keymap::from(layout));
    }

    /// Sets the keyboard layout and operating system of `device`'s target, used to
    /// rebuild the typed line. Resets that device's line.
    pub fn set_keymap(&self, device: &str, keymap: Keymap) {
        lock(&self.keymaps).insert(device.to_owned(), keymap);
        let mut lines = lock(&self.lines);
        let version = lines.get(device).map_or(0, |l| l.version + 1);
        lines.insert(
            device.to_owned(),
            Line {
                state: LineState::new(keymap),
                version,
            },
        );
    }

    /// The keyboard layout and operating system of `device`'s target.
    pub fn keymap(&self, device: &str) -> Keymap {
        lock(&self.keymaps)
            .get(device)
            .copied()
            .unwrap_or(Keymap::from(Layout::Us))
    }

    /// The line the engine believes is being typed on `device`.
    pub fn typed_line(&self, device: &str) -> String {
        lock(&self.lines)
            .get(device)
            .map(|l| l.state.line())
            .unwrap_or_default()
    }

    /// The cursor on `device`'s line, in characters from its start.
    pub fn typed_cursor(&self, device: &str) -> usize {
        lock(&self.lines)
            .get(device)
            .map_or(0, |l| l.state.cursor())
    }

    /// Whether the engine knows `device`'s line: not after a typing call that may have
    /// run in part, until Ctrl-C starts a new line.
    pub fn typed_line_is_known(&self, device: &str) -> bool {
        lock(&self.lines)
            .get(device)
            .is_none_or(|l| l.state.is_known())
    }

    /// Settles a call that succeeded: its counter uses become permanent and a typing
    /// call's line becomes the device's line. If another typing call on the device was
    /// settled since this one was decided, the line is marked unknown instead, since the
    /// two may have interleaved.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub fn commit(&self, reservation: Reservation) -> Result<(), Error> {
        if let Some(pending) = reservation.line {
            let mut lines = lock(&self.lines);
            let line = lines.entry(pending.device).or_insert_with(|| Line {
                state: pending.state.clone(),
                version: pending.base,
            });
            if line.version == pending.base {
                line.state = pending.state;
            } else {
                line.state.mark_unknown();
            }
            line.version += 1;
        }
        reservation.id.map_or(Ok(()), |id| self.store.commit(id))
    }

    /// Settles a call that failed in a way that may have acted (a timeout, a lost
    /// connection): its counter uses stay, and a typing call leaves the device's line
    /// unknown, since any part of it may have been typed.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub fn commit_uncertain(&self, reservation: Reservation) -> Result<(), Error> {
        if let Some(pending) = reservation.line {
            let mut lines = lock(&self.lines);
            let line = lines.entry(pending.device).or_insert_with(|| Line {
                state: pending.state,
                version: pending.base,
            });
            line.state.mark_unknown();
            line.version += 1;
        }
        reservation.id.map_or(Ok(()), |id| self.store.commit(id))
    }

    /// Settles a call that failed and certainly did nothing: its counter uses are given
    /// back and the device's line stays as it was.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub fn rollback(&self, reservation: Reservation) -> Result<(), Error> {
        reservation.id.map_or(Ok(()), |id| self.store.rollback(id))
    }

    /// Decides one call at `now`, in the documented order. Fails closed: no policy or a
    /// store error denies.
    pub fn decide(&self, call: &Call<'_>, now: Timestamp) -> Decision {
        let Some(policy) = self.policy() else {
            return Decision::new(
                Verdict::Deny,
                RULE_NO_POLICY.to_owned(),
                "no valid policy is loaded, so every call is denied",
            );
        };
        let filter = policy
            .keystrokes
            .as_ref()
            .filter(|_| catalogue::types(call.tool));
        let Some(filter) = filter else {
            return self.evaluate(&policy, call, now, &mut || None).finish();
        };
        let (state, base) = {
            let lines = lock(&self.lines);
            match lines.get(call.device) {
                Some(line) => (line.state.clone(), line.version),
                None => (LineState::new(self.keymap(call.device)), 0),
            }
        };
        // What the call types: the reports the caller will send, or else those the
        // catalogue works out from the arguments.
        let derived;
        let reports = match call.keys {
            Some(reports) => Ok(reports),
            None => {
                let keymap = self.keymap(call.device);
                derived = DeviceAction::parse(call.tool, call.args, keymap)
                    .and_then(|a| a.typed_keys(keymap));
                match &derived {
                    Ok(Some(keys)) => Ok(keys.reports()),
                    Ok(None) => Ok(&[][..]),
                    Err(e) => Err(e.to_string()),
                }
            }
        };
        let mut simulation: Option<Simulation> = None;
        let mut decision = {
            let mut check = || match &reports {
                Ok(reports) => {
                    let sim = keystrokes::simulate(filter, &state, reports);
                    let denied = sim.denied_by;
                    simulation = Some(sim);
                    denied.map(|d| line_denial(d, call.device))
                }
                Err(e) => Some((
                    "/keystrokes".to_owned(),
                    format!("the keystroke filter cannot tell what this call types: {e}"),
                )),
            };
            self.evaluate(&policy, call, now, &mut check).finish()
        };
        if decision.proceeds() {
            let simulation = simulation.or_else(|| {
                reports
                    .as_ref()
                    .ok()
                    .map(|r| keystrokes::simulate(filter, &state, r))
            });
            if let Some(sim) = simulation {
                let line = Some(PendingLine {
                    device: call.device.to_owned(),
                    base,
                    state: sim.state,
                });
                match &mut decision.reservation {
                    Some(r) => r.line = line,
                    None => decision.reservation = Some(Reservation { id: None, line }),
                }
            }
        }
        decision
    }

    /// Decides `call` as [`Engine::decide`] would, then gives back whatever the decision
    /// reserved: what the call would get now, with nothing counted and no typed line
    /// moved (`nanokvm_policy_explain`).
    pub fn explain(&self, call: &Call<'_>, now: Timestamp) -> Decision {
        let mut decision = self.decide(call, now);
        if let Some(reservation) = decision.reservation.take() {
            let _ = self.rollback(reservation);
        }
        decision
    }

    /// Where the caller of `call` stands with its tool under the policy in force: hidden,
    /// denied, approved by a human, allowed under argument checks, or allowed; and the
    /// limits a call of it counts against, with what is left of each now. The call's
    /// arguments are not checked (`args` only sets the weight of a length-weighted
    /// limit).
    pub fn standing(&self, call: &Call<'_>, now: Timestamp) -> Standing {
        let tool = call.tool;
        let Some(policy) = self.policy() else {
            return Standing {
                tool: tool.to_owned(),
                access: Access::Denied,
                quotas: Vec::new(),
            };
        };
        let rule = policy.tools.get(tool).or_else(|| {
            policy
                .risk_of(tool, call.risk)
                .and_then(|class| policy.risk[class as usize].as_ref())
        });
        let access = if policy.is_hidden(tool) {
            Access::Hidden
        } else {
            match rule {
                None if policy.default == Posture::Deny => Access::Denied,
                None => Access::Allowed,
                Some(r) if r.action == Action::Deny => Access::Denied,
                Some(r) if r.action == Action::RequireApproval => Access::Approval,
                Some(r) if !r.approve_if.is_empty() => Access::SometimesApproval,
                Some(r) if !(r.require.is_empty() && r.deny_if.is_empty()) => Access::Conditional,
                Some(_) => Access::Allowed,
            }
        };
        let limits = rule
            .map(|r| r.limits.as_slice())
            .unwrap_or_default()
            .iter()
            .chain(&policy.all_tools);
        let quotas = if matches!(access, Access::Hidden | Access::Denied) {
            Vec::new()
        } else {
            limits
                .map(|limit| {
                    let key = counter_key(limit, call);
                    let used = self.store.usage(&key, now).ok();
                    Quota {
                        counter: limit.counter.clone(),
                        rule: limit.pointer.clone(),
                        window: limit.window.to_string(),
                        scope: limit.scope.name(),
                        max: limit.max,
                        used,
                        cost: weight(&limit.weight, call.args),
                    }
                })
                .collect()
        };
        Standing {
            tool: tool.to_owned(),
            access,
            quotas,
        }
    }

    fn evaluate(
        &self,
        policy: &Policy,
        call: &Call<'_>,
        now: Timestamp,
        keystroke_check: &mut dyn FnMut() -> Option<(String, String)>,
    ) -> Outcome {
        let tool = call.tool;
        if policy.is_hidden(tool) {
            return Outcome::deny(
                policy.mode,
                RULE_HIDDEN,
                format!("tool `{tool}` is hidden by the policy"),
            );
        }
        let rule = policy.tools.get(tool).or_else(|| {
            policy
                .risk_of(tool, call.risk)
                .and_then(|class| policy.risk[class as usize].as_ref())
        });
        let mode = rule.and_then(|r| r.mode).unwrap_or(policy.mode);
        if rule.is_none() && policy.default == Posture::Deny {
            return Outcome::deny(
                policy.mode,
                RULE_DEFAULT_DENY,
                format!("tool `{tool}` is not allowed by the policy"),
            );
        }
        if let Some(rule) = rule
            && let Some(outcome) = Self::check_rule(rule, call, mode)
        {
            return outcome;
        }
        if let Some((rule, message)) = keystroke_check() {
            return Outcome::deny(mode, rule, message);
        }
        if let Some(rule) = rule
            && !call.approved
        {
            if rule.action == Action::RequireApproval {
                return Outcome::approval(
                    format!("{}/action", rule.pointer),
                    format!("tool `{tool}` needs a human's approval for every call"),
                );
            }
            if let Some(p) = rule.approve_if.iter().find(|p| p.holds(call.args)) {
                return Outcome::approval(
                    p.pointer.clone(),
                    format!(
                        "this call of `{tool}` needs a human's approval ({})",
                        p.describe()
                    ),
                );
            }
        }
        let limits: Vec<&Limit> = rule
            .map(|r| r.limits.as_slice())
            .unwrap_or_default()
            .iter()
            .chain(&policy.all_tools)
            .collect();
        if limits.is_empty() {
            return Outcome::allow(None);
        }
        let requests: Vec<CounterRequest> = limits
            .iter()
            .map(|limit| CounterRequest {
                key: counter_key(limit, call),
                max: limit.max,
                weight: weight(&limit.weight, call.args),
            })
            .collect();
        match self.store.reserve(&requests, now) {
            Ok(Reserve::Reserved(id)) => Outcome::allow(Some(Reservation {
                id: Some(id),
                line: None,
            })),
            Ok(Reserve::Refused(refusals)) => {
                let Some(first) = refusals.first() else {
                    return Outcome::deny(
                        Mode::Enforce,
                        RULE_STORE_ERROR,
                        "the counter store refused without a reason",
                    );
                };
                let limit = limits[first.index.min(limits.len() - 1)];
                let request = &requests[first.index.min(requests.len() - 1)];
                // The call fits only once every refusing counter has room.
                let retry = refusals
                    .iter()
                    .map(|r| r.retry_after_s)
                    .try_fold(0, |acc, r| r.map(|r| acc.max(r)));
                let message = if request.weight > limit.max {
                    format!(
                        "this call costs {} on limit `{}`, more than its maximum of {} per {}",
                        request.weight, limit.counter, limit.max, limit.window
                    )
                } else {
                    format!(
                        "limit `{}` allows {} per {} ({} scope); try again in {} s",
                        limit.counter,
                        limit.max,
                        limit.window,
                        limit.scope.name(),
                        retry.unwrap_or(0)
                    )
                };
                let mut outcome = Outcome::deny(mode, limit.pointer.clone(), message);
                outcome.retry_after_s = retry;
                outcome
            }
            Err(e) => Outcome::deny(
                Mode::Enforce,
                RULE_STORE_ERROR,
                format!("the call is denied because {e}"),
            ),
        }
    }

    /// Steps 4 and 5: `action: deny`, then `require`, then `deny_if`.
    fn check_rule(rule: &ToolRule, call: &Call<'_>, mode: Mode) -> Option<Outcome> {
        let tool = call.tool;
        if rule.action == Action::Deny {
            let message = rule
                .reason
                .clone()
                .unwrap_or_else(|| format!("tool `{tool}` is denied by the policy"));
            return Some(Outcome::deny(
                mode,
                format!("{}/action", rule.pointer),
                message,
            ));
        }
        if let Some(p) = rule.require.iter().find(|p| !p.holds(call.args)) {
            let message = rule
                .on_deny
                .clone()
                .unwrap_or_else(|| format!("a required argument check failed ({})", p.describe()));
            return Some(Outcome::deny(mode, p.pointer.clone(), message));
        }
        if let Some(p) = rule.deny_if.iter().find(|p| p.holds(call.args)) {
            let message = rule
                .on_deny
                .clone()
                .unwrap_or_else(|| format!("the arguments match a deny rule ({})", p.describe()));
            return Some(Outcome::deny(mode, p.pointer.clone(), message));
        }
        None
    }
}

/// The rule and message of a keystroke filter's refusal.
fn line_denial(denial: LineDenial, device: &str) -> (String, String) {
    match denial {
        LineDenial::Pattern(i) => (
            format!("/keystrokes/deny/{i}"),
            format!("the line being typed on device `{device}` matches a denied command pattern"),
        ),
        LineDenial::Unknown => (
            "/keystrokes".to_owned(),
            format!(
                "the line being typed on device `{device}` is not known after a typing call \
                 that may have run in part; press ctrl+c to start a new line"
            ),
        ),
    }
}

/// The counter `limit` keeps for the caller of `call`.
fn counter_key(limit: &Limit, call: &Call<'_>) -> CounterKey {
    CounterKey {
        counter: limit.counter.clone(),
        window: limit.window,
        scope: limit.scope,
        scope_key: match limit.scope {
            Scope::Grant | Scope::Principal => call.principal,
            Scope::Session => call.session,
            Scope::Device => call.device,
            Scope::Global => "",
        }
        .to_owned(),
    }
}

/// How a caller may use a tool, as [`Engine::standing`] reads the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The tool does not exist for callers.
    Hidden,
    /// Every call is refused.
    Denied,
    /// Every call needs a human's approval.
    Approval,
    /// Calls whose arguments match an `approve_if` need a human's approval.
    SometimesApproval,
    /// Calls are allowed when their arguments pass the rule's checks.
    Conditional,
    /// Calls are allowed (within the limits).
    Allowed,
}

impl Access {
    /// The name in JSON: `hidden`, `denied`, `approval`, `approval_for_some`,
    /// `conditional`, `allowed`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Hidden => "hidden",
            Self::Denied => "denied",
            Self::Approval => "approval",
            Self::SometimesApproval => "approval_for_some",
            Self::Conditional => "conditional",
            Self::Allowed => "allowed",
        }
    }
}

/// One limit a tool's calls count against, and its use now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quota {
    /// The counter's name.
    pub counter: String,
    /// The limit's JSON Pointer in the policy.
    pub rule: String,
    /// The window (`1m`).
    pub window: String,
    /// Whom it is kept for (`grant`, `session`, `device`, `global`).
    pub scope: &'static str,
    /// Its maximum per window.
    pub max: u64,
    /// What is used in the current window; `None` when the store could not be read.
    pub used: Option<u64>,
    /// What the call asked about would cost.
    pub cost: u64,
}

/// Where a caller stands with one tool: [`Engine::standing`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standing {
    /// The tool.
    pub tool: String,
    /// How it may be used.
    pub access: Access,
    /// The limits its calls count against.
    pub quotas: Vec<Quota>,
}

/// What one call costs on a limit.
fn weight(weight: &Weight, args: &Value) -> u64 {
    match weight {
        Weight::Calls => 1,
        Weight::Len(path) => lookup(args, path)
            .and_then(Value::as_str)
            .map_or(1, |s| s.chars().count() as u64),
    }
}

/// A decision before shadow mode is applied.
struct Outcome {
    verdict: Verdict,
    mode: Mode,
    rule: Option<String>,
    message: String,
    retry_after_s: Option<u64>,
    reservation: Option<Reservation>,
}

impl Outcome {
    fn deny(mode: Mode, rule: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Deny,
            mode,
            rule: Some(rule.into()),
            message: message.into(),
            retry_after_s: None,
            reservation: None,
        }
    }

    fn approval(rule: String, message: String) -> Self {
        Self {
            verdict: Verdict::ApprovalRequired,
            mode: Mode::Enforce,
            rule: Some(rule),
            message,
            retry_after_s: None,
            reservation: None,
        }
    }

    fn allow(reservation: Option<Reservation>) -> Self {
        Self {
            verdict: Verdict::Allow,
            mode: Mode::Enforce,
            rule: None,
            message: "allowed".to_owned(),
            retry_after_s: None,
            reservation,
        }
    }

    fn finish(self) -> Decision {
        let verdict = match (self.verdict, self.mode) {
            (Verdict::Deny, Mode::Shadow) => Verdict::ShadowDeny,
            (verdict, _) => verdict,
        };
        Decision {
            verdict,
            rule: self.rule,
            message: self.message,
            retry_after_s: self.retry_after_s,
            reservation: self.reservation,
        }
    }
}

/// The decision a denied call got, as the error carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    /// `deny`, or `approval_required` when approval was needed and not given.
    pub verdict: Verdict,
    /// The deciding rule.
    pub rule: Option<String>,
    /// What the caller is told.
    pub message: String,
    /// For a limit, seconds until a slot frees.
    pub retry_after_s: Option<u64>,
    /// For an approval that was not given: the binding an operator can grant with
    /// `Gate::grant_approval` so that the same call succeeds when repeated.
    pub approval_binding: Option<String>,
}

impl Denial {
    /// The denial as the JSON object the MCP server returns as structured content:
    /// `{"verdict", "rule", "message", "retry_after_s"}` (plus `approval_binding`).
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut value = report_json(
            self.verdict,
            self.rule.as_deref(),
            &self.message,
            self.retry_after_s,
        );
        if let Some(b) = &self.approval_binding {
            value["approval_binding"] = json!(b);
        }
        value
    }
}
