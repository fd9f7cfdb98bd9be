//! How a call that needs a human's approval asks for it, shared by the device server and
//! the gateway.
//!
//! - A client with form elicitation on a session (protocol revisions before 2026-07-28):
//!   the human behind it is asked with a one-checkbox form ([`ElicitationApprover`]),
//!   raced with the operators' queue ([`FirstAnswer`]).
//! - A stateless client (2026-07-28 and later) with elicitation: the call ends with an
//!   `input_required` result carrying the same form ([`StatelessAsks::ask`]); the client
//!   calls again with the answer and the request state, and an approval lets that exact
//!   call through once ([`StatelessAsks::resolve`]).
//! - A client without elicitation: the operators' queue alone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use nanokvm_policy::gate::{
    ApprovalAnswer, ApprovalQueue, ApprovalRequest, Approver, BoxFuture, masked_args,
};
use rmcp::model::{
    ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema,
    InputRequest, InputRequests, InputRequiredResult, InputResponses, ProtocolVersion,
};
use rmcp::service::{ElicitationError, Peer, RequestContext, RoleServer};
use serde::Deserialize;
use serde_json::Value;

/// The key of the approval question in an `input_required` result.
const APPROVAL_INPUT: &str = "approval";
/// How long a stateless client has to answer an approval question.
const ASKED_TTL: Duration = Duration::from_secs(600);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How a call's approval is asked for, when the policy wants one.
pub(crate) enum Asking {
    /// Of the human behind a client with form elicitation, raced with the operators'
    /// queue.
    Elicit(Peer<RoleServer>),
    /// Of the operators' queue alone (a client without elicitation).
    Operator,
    /// Of a stateless client, in an `input_required` result.
    InputRequired,
    /// Already answered by a stateless client; a call that still needs approval is
    /// refused for this reason.
    Answered(String),
}

impl Asking {
    /// How to ask for the call in `context`; `request_state` is the state a stateless
    /// client sent back with its answers, which `answered` reads.
    pub(crate) fn of(
        context: &RequestContext<RoleServer>,
        request_state: Option<&str>,
        answered: impl FnOnce(&str) -> Self,
    ) -> Self {
        let stateless = context
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        let form = context
            .client_capabilities()
            .and_then(|c| c.elicitation)
            .is_some_and(|e| e.form.is_some() || e.url.is_none());
        match (request_state, stateless, form) {
            (Some(state), true, _) => answered(state),
            (None, true, true) => Self::InputRequired,
            (None, false, true) => Self::Elicit(context.peer.clone()),
            _ => Self::Operator,
        }
    }

    /// How to ask for an approval that cannot be asked in a result (the gateway's
    /// approval of a drifted tool, which no gate grant carries): a stateless client's
    /// human is reached through the operators' queue alone.
    pub(crate) fn without_result(&self) -> Self {
        match self {
            Self::Elicit(peer) => Self::Elicit(peer.clone()),
            _ => Self::Operator,
        }
    }

    /// The approver for the gate: `deferred` holds the question for a stateless client.
    pub(crate) fn approver(
        self,
        queue: Option<&Arc<ApprovalQueue>>,
        deferred: &Arc<Deferred>,
    ) -> Option<Arc<dyn Approver>> {
        match self {
            Self::Elicit(peer) => Some(Arc::new(FirstAnswer {
                elicitation: Some(ElicitationApprover { peer }),
                queue: queue.cloned(),
            })),
            Self::Operator => queue.map(|queue| {
                Arc::new(FirstAnswer {
                    elicitation: None,
                    queue: Some(Arc::clone(queue)),
                }) as Arc<dyn Approver>
            }),
            Self::InputRequired => Some(Arc::clone(deferred) as Arc<dyn Approver>),
            Self::Answered(reason) => Some(Arc::new(Refuse(reason))),
        }
    }
}

/// An approval a stateless client was asked for: whose gate (a device's name, or the
/// gateway's upstream), the call it binds, and when the question lapses.
#[derive(Debug)]
struct Asked {
    scope: String,
    binding: String,
    expires: Instant,
}

/// The approval questions asked of stateless clients, by request state.
#[derive(Debug, Default)]
pub(crate) struct StatelessAsks {
    asked: Mutex<HashMap<String, Asked>>,
}

impl StatelessAsks {
    /// Asks a stateless client for an approval of the call `binding` names on `scope`:
    /// an elicitation form in an `input_required` result, whose request state names the
    /// question.
    pub(crate) fn ask(
        &self,
        scope: &str,
        binding: &str,
        request: &ApprovalRequest,
    ) -> InputRequiredResult {
        let state = random_state();
        let now = Instant::now();
        {
            let mut asked = lock(&self.asked);
            asked.retain(|_, a| a.expires > now);
            asked.insert(
                state.clone(),
                Asked {
                    scope: scope.to_owned(),
                    binding: binding.to_owned(),
                    expires: now + ASKED_TTL,
                },
            );
        }
        let schema = ElicitationSchema::from_type::<Approval>()
            .unwrap_or_else(|_| ElicitationSchema::builder().build_unchecked());
        let form = ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: approval_message(request),
            requested_schema: schema,
        };
        let mut requests = InputRequests::new();
        requests.insert(
            APPROVAL_INPUT.to_owned(),
            InputRequest::Elicitation(ElicitRequest::new(form)),
        );
        InputRequiredResult::new(Some(requests), Some(state))
    }

    /// Reads a stateless client's answer to the question `state` names. When the human
    /// approved, `grant(scope, binding)` lets that exact call through once; the call
    /// then runs if it is that call, and a call that still needs approval is refused
    /// for the reason returned.
    pub(crate) fn resolve(
        &self,
        state: &str,
        responses: Option<&InputResponses>,
        grant: impl FnOnce(&str, &str) -> bool,
    ) -> Asking {
        let asked = lock(&self.asked).remove(state);
        let Some(asked) = asked.filter(|a| a.expires > Instant::now()) else {
            return Asking::Answered(
                "the approval question this answers is unknown or has lapsed".to_owned(),
            );
        };
        let answer = responses
            .and_then(|r| r.get(APPROVAL_INPUT))
            .and_then(|v| serde_json::from_value::<ElicitResult>(v.clone()).ok());
        let approved = answer.as_ref().is_some_and(|a| {
            a.action == ElicitationAction::Accept
                && a.content
                    .as_ref()
                    .and_then(|c| c.get("approve"))
                    .and_then(Value::as_bool)
                    == Some(true)
        });
        if approved && grant(&asked.scope, &asked.binding) {
            // The grant lets the identical call through once; nothing else is asked.
            return Asking::Answered(
                "the approval given was for another call: the arguments differ".to_owned(),
            );
        }
        Asking::Answered(match answer.map(|a| a.action) {
            Some(ElicitationAction::Decline) => "the human declined".to_owned(),
            Some(ElicitationAction::Cancel) => "the human dismissed the request".to_owned(),
            Some(ElicitationAction::Accept) if approved => {
                "the approval is for something that is gone".to_owned()
            }
            Some(ElicitationAction::Accept) => "the human did not tick approve".to_owned(),
            _ => "the client sent no answer to the approval question".to_owned(),
        })
    }
}

/// 128 random bits, hex: an approval question's request state.
fn random_state() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Holds the approval request of a call a stateless client must be asked about; the
/// gate is told no for now.
#[derive(Default)]
pub(crate) struct Deferred(Mutex<Option<ApprovalRequest>>);

impl Deferred {
    /// The request the gate asked about, if it asked.
    pub(crate) fn take(&self) -> Option<ApprovalRequest> {
        lock(&self.0).take()
    }
}

impl Approver for Deferred {
    fn approve<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, ApprovalAnswer> {
        *lock(&self.0) = Some(request.clone());
        Box::pin(async {
            ApprovalAnswer::Deny {
                reason: Some("the client was asked".to_owned()),
            }
        })
    }
}

/// Refuses every approval, for a reason.
struct Refuse(String);

impl Approver for Refuse {
    fn approve<'a>(&'a self, _request: &'a ApprovalRequest) -> BoxFuture<'a, ApprovalAnswer> {
        let reason = self.0.clone();
        Box::pin(async move {
            ApprovalAnswer::Deny {
                reason: Some(reason),
            }
        })
    }
}

/// The one field of the approval form.
#[derive(Deserialize, rmcp::schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct Approval {
    /// Tick to let this exact call run once.
    approve: bool,
}

rmcp::elicit_safe!(Approval);

/// Asks the human behind a client, through elicitation.
/// The gate bounds the wait with its approval timeout (`--approval-timeout`).
struct ElicitationApprover {
    peer: Peer<RoleServer>,
}

impl Approver for ElicitationApprover {
    fn approve<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, ApprovalAnswer> {
        Box::pin(async move {
            let message = approval_message(request);
            match self
                .peer
                .elicit_with_timeout::<Approval>(message, None)
                .await
            {
                Ok(Some(Approval { approve: true })) => ApprovalAnswer::Approve,
                Ok(_) => ApprovalAnswer::Deny {
                    reason: Some("the human did not tick approve".to_owned()),
                },
                Err(ElicitationError::UserDeclined) => ApprovalAnswer::Deny {
                    reason: Some("the human declined".to_owned()),
                },
                Err(ElicitationError::UserCancelled) => ApprovalAnswer::Deny {
                    reason: Some("the human dismissed the request".to_owned()),
                },
                Err(e) => ApprovalAnswer::Deny {
                    reason: Some(format!("the approval request failed: {e}")),
                },
            }
        })
    }
}

/// Asks the client's human (when the client can) and the operators' queue at once; the
/// first answer decides.
struct FirstAnswer {
    elicitation: Option<ElicitationApprover>,
    queue: Option<Arc<ApprovalQueue>>,
}

impl Approver for FirstAnswer {
    fn approve<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, ApprovalAnswer> {
        Box::pin(async move {
            let elicit = async {
                match &self.elicitation {
                    Some(e) => e.approve(request).await,
                    None => std::future::pending().await,
                }
            };
            let queued = async {
                match &self.queue {
                    Some(q) => q.approve(request).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                answer = elicit => answer,
                answer = queued => answer,
            }
        })
    }
}

/// What the human reads: the tool, the device (or the gateway's upstream server), the
/// arguments as they will run (typed text masked) and why approval is asked.
fn approval_message(request: &ApprovalRequest) -> String {
    let args = masked_args(&request.tool, &request.args);
    format!(
        "An AI agent ({}) wants to run {} on `{}` with {}. {}. Approve this call?",
        request.principal, request.tool, request.device, args, request.message
    )
}
