//! Approvals an operator gives from another process: a queue in an SQLite file of the
//! state directory.
//!
//! A frontend that waits for a human posts the request ([`ApprovalQueue`] is an
//! [`Approver`]) and polls for an answer; an operator lists what waits and answers it
//! from another terminal (`nanokvm-mcp approvals list|approve ID|deny ID`). Each request
//! gets a short id. The request shows the call as it will run, with typed text replaced
//! by its length; the binding digest ties the answer to exactly that call.
//!
//! A request nobody answered in time stays listed until it expires, and approving it
//! then still helps: the answer is kept as a grant for the same binding, so repeating
//! the identical call goes through once without asking again, until the grant expires.

use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension as _, params};
use serde::Serialize;
use serde_json::Value;

use super::approval::{ApprovalAnswer, ApprovalRequest, Approver, BoxFuture};
use crate::catalogue;
use crate::error::Error;

/// How often a waiting call looks for an answer.
const POLL: Duration = Duration::from_millis(200);
/// How long a request or a late answer stays usable.
const KEEP: Duration = Duration::from_secs(600);

/// A request waiting for an operator.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PendingApproval {
    /// The short id operators answer with.
    pub id: String,
    /// The tool.
    pub tool: String,
    /// The device.
    pub device: String,
    /// Who asked.
    pub principal: String,
    /// The arguments as they will run, typed text as its length.
    pub args: Value,
    /// Why approval is needed.
    pub message: String,
    /// Seconds since the Unix epoch when it was asked.
    pub asked_at: u64,
}

/// The approval queue of a state directory. Shareable across threads.
#[derive(Debug)]
pub struct ApprovalQueue {
    conn: Mutex<Connection>,
}

fn failed(operation: &'static str) -> impl Fn(rusqlite::Error) -> Error {
    move |e| Error::Store {
        operation,
        message: e.to_string(),
    }
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn seconds(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The arguments with typed strings shown as their length only.
#[must_use]
pub fn masked_args(tool: &str, args: &Value) -> Value {
    fn mask(v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(format!("<{} characters>", s.chars().count())),
            Value::Array(items) => Value::Array(items.iter().map(mask).collect()),
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), mask(v))).collect())
            }
            other => other.clone(),
        }
    }
    if catalogue::types(tool) {
        mask(args)
    } else {
        args.clone()
    }
}

impl ApprovalQueue {
    /// Opens (or creates) the queue at `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the file cannot be opened or set up.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let conn = Connection::open(path).map_err(|e| Error::Store {
            operation: "open the approval queue",
            message: format!("{}: {e}", path.display()),
        })?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(failed("open the approval queue"))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS approvals (
                id TEXT PRIMARY KEY,
                binding TEXT NOT NULL,
                tool TEXT NOT NULL,
                device TEXT NOT NULL,
                principal TEXT NOT NULL,
                args TEXT NOT NULL,
                message TEXT NOT NULL,
                asked_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                answer TEXT,
                reason TEXT,
                used INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX IF NOT EXISTS approvals_binding ON approvals(binding);",
        )
        .map_err(failed("open the approval queue"))?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Posts `request` and returns its id.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub fn post(&self, request: &ApprovalRequest) -> Result<String, Error> {
        let asked = now_s();
        let mut id = request.binding.chars().take(8).collect::<String>();
        let conn = self.conn();
        conn.execute(
            "DELETE FROM approvals WHERE expires_at < ?1",
            params![seconds(asked)],
        )
        .map_err(failed("post an approval"))?;
        // A second request for the same call gets a longer id.
        let mut n = 0;
        while conn
            .query_row("SELECT 1 FROM approvals WHERE id = ?1", params![id], |_| {
                Ok(())
            })
            .optional()
            .map_err(failed("post an approval"))?
            .is_some()
        {
            n += 1;
            id = format!("{}-{n}", &request.binding[..8.min(request.binding.len())]);
        }
        let args = masked_args(&request.tool, &request.args).to_string();
        conn.execute(
            "INSERT INTO approvals (id, binding, tool, device, principal, args, message,
                asked_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                id,
                request.binding,
                request.tool,
                request.device,
                request.principal,
                args,
                request.message,
                seconds(asked),
                seconds(asked + KEEP.as_secs()),
            ],
        )
        .map_err(failed("post an approval"))?;
        Ok(id)
    }

    /// The requests not answered and not expired, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub fn pending(&self) -> Result<Vec<PendingApproval>, Error> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, tool, device, principal, args, message, asked_at FROM approvals
                 WHERE answer IS NULL AND expires_at >= ?1 ORDER BY asked_at, id",
            )
            .map_err(failed("list approvals"))?;
        let rows = stmt
            .query_map(params![seconds(now_s())], |row| {
                let args: String = row.get(4)?;
                let asked: i64 = row.get(6)?;
                Ok(PendingApproval {
                    id: row.get(0)?,
                    tool: row.get(1)?,
                    device: row.get(2)?,
                    principal: row.get(3)?,
                    args: serde_json::from_str(&args).unwrap_or(Value::Null),
                    message: row.get(5)?,
                    asked_at: u64::try_from(asked).unwrap_or(0),
                })
            })
            .map_err(failed("list approvals"))?;
        rows.collect::<Result<_, _>>()
            .map_err(failed("list approvals"))
    }

    /// Answers request `id`.
    ///
    /// # Errors
    ///
    /// [`Error::Store`]; [`Error::InvalidArguments`] (argument `id`) when no unanswered
    /// request has that id.
    pub fn answer(&self, id: &str, approve: bool, reason: Option<&str>) -> Result<(), Error> {
        let changed = self
            .conn()
            .execute(
                "UPDATE approvals SET answer = ?2, reason = ?3
                 WHERE id = ?1 AND answer IS NULL AND expires_at >= ?4",
                params![
                    id,
                    if approve { "approve" } else { "deny" },
                    reason,
                    seconds(now_s())
                ],
            )
            .map_err(failed("answer an approval"))?;
        if changed == 0 {
            return Err(Error::InvalidArguments {
                tool: "approvals".to_owned(),
                argument: "id".to_owned(),
                message: format!(
                    "no request `{id}` is waiting (answered already, expired, or never asked)"
                ),
            });
        }
        Ok(())
    }

    /// The answer to request `id`, once there is one.
    fn answer_of(&self, id: &str) -> Result<Option<ApprovalAnswer>, Error> {
        let row: Option<(Option<String>, Option<String>)> = self
            .conn()
            .query_row(
                "SELECT answer, reason FROM approvals WHERE id = ?1",
                params![id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(failed("read an approval"))?;
        Ok(match row {
            Some((Some(answer), _)) if answer == "approve" => Some(ApprovalAnswer::Approve),
            Some((Some(_), reason)) => Some(ApprovalAnswer::Deny { reason }),
            _ => None,
        })
    }

    /// Uses an approval given earlier for exactly this call (a late answer), once.
    fn take_grant(&self, binding: &str) -> Result<bool, Error> {
        let changed = self
            .conn()
            .execute(
                "UPDATE approvals SET used = 1 WHERE rowid = (
                    SELECT rowid FROM approvals WHERE binding = ?1 AND answer = 'approve'
                    AND used = 0 AND expires_at >= ?2 LIMIT 1)",
                params![binding, seconds(now_s())],
            )
            .map_err(failed("use an approval"))?;
        Ok(changed > 0)
    }

    async fn wait(&self, request: &ApprovalRequest) -> Result<ApprovalAnswer, Error> {
        if self.take_grant(&request.binding)? {
            return Ok(ApprovalAnswer::Approve);
        }
        let id = self.post(request)?;
        tracing::warn!(
            id = %id,
            tool = %request.tool,
            device = %request.device,
            "a call waits for approval: `nanokvm approvals approve {id}` or `nanokvm-mcp \
             approvals approve {id}` (or deny), with the same state directory"
        );
        loop {
            if let Some(answer) = self.answer_of(&id)? {
                if answer == ApprovalAnswer::Approve {
                    // The answer was for this wait: it is not a grant for later.
                    self.conn()
                        .execute("UPDATE approvals SET used = 1 WHERE id = ?1", params![id])
                        .map_err(failed("use an approval"))?;
                }
                return Ok(answer);
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Approver for ApprovalQueue {
    fn approve<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, ApprovalAnswer> {
        Box::pin(async move {
            match self.wait(request).await {
                Ok(answer) => answer,
                Err(e) => ApprovalAnswer::Deny {
                    reason: Some(format!("the approval queue failed: {e}")),
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(binding: &str) -> ApprovalRequest {
        ApprovalRequest {
            tool: "nanokvm_type_text".to_owned(),
            args: json!({"text": "hunter2", "delay_ms": 0}),
            principal: "agent".to_owned(),
            session: "s".to_owned(),
            device: "lab".to_owned(),
            rule: None,
            message: "needs approval".to_owned(),
            policy_hash: "p".to_owned(),
            binding: binding.to_owned(),
        }
    }

    #[tokio::test]
    async fn an_operator_answers_a_waiting_call_from_another_handle() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("approvals.sqlite");
        let queue = ApprovalQueue::open(&path).expect("open");
        let operator = ApprovalQueue::open(&path).expect("open again");
        let req = request("0123456789abcdef");
        let waiting = queue.approve(&req);
        let answering = async {
            let pending = loop {
                let pending = operator.pending().expect("list");
                if !pending.is_empty() {
                    break pending;
                }
                tokio::time::sleep(POLL).await;
            };
            assert_eq!(pending[0].id, "01234567");
            assert_eq!(
                pending[0].args["text"], "<7 characters>",
                "typed text is masked"
            );
            assert!(operator.answer("nope", true, None).is_err());
            operator
                .answer(&pending[0].id, true, None)
                .expect("approve");
            assert!(
                operator.answer(&pending[0].id, false, None).is_err(),
                "answered once"
            );
        };
        let (answer, ()) = tokio::join!(waiting, answering);
        assert_eq!(answer, ApprovalAnswer::Approve);
        assert!(operator.pending().expect("list").is_empty());
        // That answer was used by its wait: the same call asks again.
        assert!(!queue.take_grant("0123456789abcdef").expect("grant"));
    }

    #[tokio::test]
    async fn a_late_approval_is_a_grant_for_the_same_call_once() {
        let dir = tempfile::tempdir().expect("dir");
        let queue = ApprovalQueue::open(dir.path().join("q.sqlite")).expect("open");
        let req = request("feedfacefeedface");
        // The caller gave up waiting (the gate's timeout dropped the future).
        let id = queue.post(&req).expect("post");
        queue.answer(&id, true, Some("ok")).expect("approve late");
        assert_eq!(queue.approve(&req).await, ApprovalAnswer::Approve);
        // Used: the next identical call waits for a new answer.
        let again = tokio::time::timeout(Duration::from_millis(500), queue.approve(&req)).await;
        assert!(again.is_err(), "no second use of one approval");
        let pending = queue.pending().expect("list");
        assert_eq!(pending.len(), 1);
        queue
            .answer(&pending[0].id, false, Some("not now"))
            .expect("deny");
        assert_eq!(
            queue.answer_of(&pending[0].id).expect("read"),
            Some(ApprovalAnswer::Deny {
                reason: Some("not now".to_owned())
            })
        );
    }
}
