//! Approvals for the CLI. On a terminal the operator is asked at once, while the request
//! also waits in the state directory's approval queue, so `nanokvm approvals approve ID`
//! (or `nanokvm-mcp approvals`) from another terminal answers it too; the first answer
//! wins. Without a terminal nobody can be asked: an approval given earlier for exactly
//! this call is used, otherwise the request is left in the queue and the action is
//! refused with its id, so the operator can approve it and run the command again. With
//! `--approval-timeout` the CLI waits on the queue instead.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use nanokvm_policy::gate::{
    ApprovalAnswer, ApprovalQueue, ApprovalRequest, Approver, BoxFuture, masked_args,
};

use crate::output::Output;

/// How long a call without a terminal looks for an earlier approval before it gives up.
const NO_TERMINAL_WAIT: Duration = Duration::from_millis(300);

/// Asks the operator on the terminal, raced with the approval queue.
pub struct CliApprover {
    path: PathBuf,
    /// Opened on the first approval, so that commands that need none do not pay for it.
    queue: OnceLock<ApprovalQueue>,
    out: Output,
    wait_on_queue: bool,
}

impl CliApprover {
    /// An approver over the queue in `path` (`approvals.sqlite` of the state
    /// directory); `wait_on_queue` makes a run without a terminal wait for an
    /// out-of-band answer (up to the gate's approval timeout) instead of refusing.
    #[must_use]
    pub fn new(path: PathBuf, out: Output, wait_on_queue: bool) -> Self {
        Self {
            path,
            queue: OnceLock::new(),
            out,
            wait_on_queue,
        }
    }

    fn queue(&self) -> Result<&ApprovalQueue, ApprovalAnswer> {
        if let Some(queue) = self.queue.get() {
            return Ok(queue);
        }
        let queue = ApprovalQueue::open(&self.path).map_err(|e| ApprovalAnswer::Deny {
            reason: Some(format!("the approval queue cannot be opened: {e}")),
        })?;
        Ok(self.queue.get_or_init(|| queue))
    }

    /// The queue id of the request for `binding`, once posted.
    fn queued_id(&self, binding: &str) -> Option<String> {
        let prefix: String = binding.chars().take(8).collect();
        self.queue()
            .ok()?
            .pending()
            .ok()?
            .into_iter()
            .rev()
            .find(|p| p.id.starts_with(&prefix))
            .map(|p| p.id)
    }

    async fn ask(&self, queue: &ApprovalQueue, request: &ApprovalRequest) -> ApprovalAnswer {
        let args = masked_args(&request.tool, &request.args);
        let question = format!(
            "{} on {} needs approval: {}\n  arguments: {args}\n  rule: {}\nAllow it once? [y/N] ",
            request.tool,
            request.device,
            request.message,
            request.rule.as_deref().unwrap_or("-"),
        );
        let prompt = tokio::task::spawn_blocking(move || prompt_yes_no(&question));
        let queued = queue.approve(request);
        tokio::select! {
            answer = queued => {
                self.out.note("\nanswered from the approval queue");
                answer
            }
            answer = prompt => {
                let approve = matches!(answer, Ok(Ok(true)));
                // Take the request out of the queue; a denial there leaves no grant
                // behind for a later identical call.
                if let Some(id) = self.queued_id(&request.binding) {
                    let _ = queue.answer(&id, false, Some("answered on the terminal"));
                }
                if approve {
                    ApprovalAnswer::Approve
                } else {
                    ApprovalAnswer::Deny { reason: Some("refused on the terminal".to_owned()) }
                }
            }
        }
    }

    async fn without_terminal(
        &self,
        queue: &ApprovalQueue,
        request: &ApprovalRequest,
    ) -> ApprovalAnswer {
        if self.wait_on_queue {
            let waiting = queue.approve(request);
            tokio::pin!(waiting);
            // Say where to answer once the request is posted.
            if let Ok(answer) = tokio::time::timeout(NO_TERMINAL_WAIT, &mut waiting).await {
                return answer;
            }
            let id = self.queued_id(&request.binding).unwrap_or_default();
            self.out.note(&format!(
                "{} waits for approval: `nanokvm approvals approve {id}` from another terminal",
                request.tool
            ));
            return waiting.await;
        }
        match tokio::time::timeout(NO_TERMINAL_WAIT, queue.approve(request)).await {
            Ok(answer) => answer,
            Err(_) => {
                let id = self.queued_id(&request.binding).unwrap_or_default();
                ApprovalAnswer::Deny {
                    reason: Some(format!(
                        "no terminal to ask on: approve it with `nanokvm approvals approve \
                         {id}` and run the same command again within 10 minutes (or pass \
                         --approval-timeout to wait for the answer)"
                    )),
                }
            }
        }
    }
}

impl Approver for CliApprover {
    fn approve<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, ApprovalAnswer> {
        Box::pin(async move {
            let queue = match self.queue() {
                Ok(queue) => queue,
                Err(refusal) => return refusal,
            };
            if crate::session::interactive() {
                self.ask(queue, request).await
            } else {
                self.without_terminal(queue, request).await
            }
        })
    }
}

/// Asks on stderr, reads a line from stdin: `y` or `yes` approves.
fn prompt_yes_no(question: &str) -> std::io::Result<bool> {
    use std::io::Write as _;
    let mut stderr = std::io::stderr().lock();
    stderr.write_all(question.as_bytes())?;
    stderr.flush()?;
    drop(stderr);
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
