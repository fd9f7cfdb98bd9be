//! [`RedisStore`]: limit counters in Redis, shared by every gateway or server that points
//! at the same Redis, on one machine or on many (the `redis` feature).
//!
//! # Keys
//!
//! Every key starts with a prefix (`nanokvm:` unless [`RedisStoreBuilder::prefix`] says
//! otherwise), so several fleets or policies can share one Redis without sharing
//! counters:
//!
//! - `{prefix}c:{scope}:{window}:{length}:{counter}:{scope key}`: one sorted set per
//!   counter. Each use is a member `{reservation}:{weight}` scored with the time of its
//!   reservation in Unix milliseconds. The counter name is length-prefixed, so no
//!   principal, session or device name can make two counters share a key.
//! - `{prefix}t:...` (the rest as the counter's): the units the counter's sorted set
//!   holds, kept beside it, so a reservation costs the same however busy the counter
//!   is: pruning subtracts the uses it removes, a reservation adds, a rollback
//!   subtracts. Only a refusal on a sliding window reads the uses themselves.
//! - `{prefix}r:{id}`: one hash per unsettled reservation, naming the counters and
//!   members it added. Committing deletes it (the uses stay); rolling back removes its
//!   uses too.
//! - `{prefix}next-reservation`: the sequence reservation ids come from. It is the one
//!   key that never expires, so ids are never reused.
//! - `{prefix}n:{nonce}` and `{prefix}s:{id}`: what a reservation or a settle did,
//!   remembered for ten minutes under a random nonce, so that an operation can be asked
//!   again after a broken connection (see below).
//!
//! Every other key carries a `PEXPIRE`: a counter lives until its newest use stops
//! counting (plus five minutes for clocks that disagree between hosts), an unsettled
//! reservation a day longer (the grace a slow call has to settle it, as in
//! [`SqliteStore`](crate::SqliteStore)). Counters and reservations nobody touches any
//! more vanish on their own; a reservation that is never settled (its process died)
//! keeps counting until its window has passed, like a committed one.
//!
//! # Atomicity and arithmetic
//!
//! A reservation is one Lua script (`EVALSHA`, loaded again when Redis forgot it), which
//! Redis runs without interleaving anything else: it prunes every counter named to the
//! window's start, checks every request (requests naming the same counter must fit
//! together), and either adds every use or returns the refusals with the counted units,
//! and for sliding windows the counted uses. Window starts, expiries and retry-after
//! seconds are computed in Rust by the arithmetic [`MemoryStore`](crate::MemoryStore)
//! uses, from the caller's `now` (not Redis's clock), so the stores refuse alike (a
//! property test holds them to it). Lua counts in doubles, so maxima and weights are
//! capped at 2^52 units.
//!
//! # Failures
//!
//! Operations wait at most the timeout (two seconds unless
//! [`RedisStoreBuilder::timeout`] says otherwise) for a connection and for each answer;
//! then they fail with [`Error::Store`], naming the URL without its password, and the
//! engine denies the call: a dead Redis fails closed, quickly. A connection that fails
//! is dropped and the next operation connects again.
//!
//! An operation whose connection turns out to be broken (Redis restarted since the last
//! operation) is sent once more on a new connection. That is safe for every operation,
//! including [`CounterStore::reserve`]: each attempt carries a random nonce, and an
//! attempt whose first try did reach Redis finds that try's outcome under its nonce and
//! returns the same reservation id instead of reserving twice; a commit or rollback
//! whose first try went through finds its own nonce on the settled id and succeeds,
//! where a second settle from someone else gets [`Error::UnknownReservation`]. An
//! operation that timed out is not repeated: Redis may be stuck, and the caller should
//! not wait twice.
//!
//! The store holds one connection and serialises its operations on it, like
//! [`SqliteStore`](crate::SqliteStore). It uses Redis's synchronous client (plain
//! blocking sockets, no runtime of its own), so the gate may call it from inside a tokio
//! runtime as it calls the SQLite store: it blocks the calling thread for at most the
//! timeout. It needs a single Redis (or Valkey) server, version 5 or later, not a
//! cluster; `rediss://` (TLS) is not built in. Redis must not evict these keys to make
//! room: keep its `maxmemory-policy` at `noeviction` (the default), since a counter
//! evicted early would let calls through.

use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ::redis::{Connection, RedisError, RedisResult, Script, Value};

use crate::error::Error;
use crate::policy::Window;
use crate::store::{
    CounterKey, CounterRequest, CounterStore, Refusal, ReservationId, Reserve, expiry, retry_after,
    window_name, window_start,
};
use crate::time::Timestamp;

/// How long a connection and each answer may take unless the builder says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long an unsettled reservation stays known after its last use stopped counting.
const RESERVATION_GRACE_MS: i64 = 86_400_000;

/// A counter's key outlives its newest use by this much, so that a process whose clock
/// is behind the others' still finds the uses it must count.
const EXPIRY_SLACK_MS: i64 = 300_000;

/// How long an operation's outcome is kept under its nonce for a repeated attempt.
const OUTCOME_TTL_MS: i64 = 600_000;

/// The largest maximum or weight sent to Lua, whose numbers are doubles (exact to 2^53).
const LUA_MAX: u64 = 1 << 52;

/// The weight of a use's member (`{reservation}:{weight}`), and the running total's key
/// of a counter's key (`{prefix}c:...` to `{prefix}t:...`), for the scripts below.
const HELPERS: &str = r"
local function weight(member)
  return tonumber(string.match(member, ':(%d+)$'))
end
local function total_key(prefix, key)
  return prefix .. 't:' .. string.sub(key, #prefix + 3)
end
";

/// Reserves all or nothing. See the module docs for the keys.
///
/// KEYS: the id sequence, this attempt's outcome, then one counter per request (repeats
/// allowed). ARGV: the key prefix, now, the outcome's TTL, the grace of a reservation,
/// then per request: window start, max, weight, the TTL of a use made now, and `1` when
/// a refusal should list the counter's uses (sliding windows).
const RESERVE: &str = r"
local done = redis.call('GET', KEYS[2])
if done then
  return {1, done}
end
local prefix, now = ARGV[1], ARGV[2]
local used, planned, ttls, order, refusals = {}, {}, {}, {}, {}
for i = 1, #KEYS - 2 do
  local key = KEYS[i + 2]
  local a = 4 + (i - 1) * 5
  if used[key] == nil then
    -- Forget the uses from before the window's start, and their units.
    local start = '(' .. ARGV[a + 1]
    local stale = redis.call('ZRANGEBYSCORE', key, '-inf', start)
    local gone = 0
    for _, member in ipairs(stale) do
      gone = gone + weight(member)
    end
    if #stale > 0 then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', start)
    end
    local tkey = total_key(prefix, key)
    local total = redis.call('GET', tkey)
    if total then
      total = tonumber(total) - gone
      if gone > 0 then
        redis.call('DECRBY', tkey, string.format('%d', gone))
      end
    else
      -- No running total (lost): count the uses once, and keep the count.
      total = 0
      for _, member in ipairs(redis.call('ZRANGE', key, 0, -1)) do
        total = total + weight(member)
      end
      if total > 0 then
        redis.call('SET', tkey, string.format('%d', total))
        redis.call('PEXPIRE', tkey, math.max(redis.call('PTTL', key), 1))
      end
    end
    used[key], planned[key] = math.max(total, 0), 0
    ttls[key] = tonumber(ARGV[a + 4])
    order[#order + 1] = key
  end
  local wanted = planned[key] + tonumber(ARGV[a + 3])
  local max = tonumber(ARGV[a + 2])
  if used[key] + wanted > max then
    local listed = {}
    if ARGV[a + 5] == '1' and wanted <= max then
      local all = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
      for j = 1, #all, 2 do
        listed[#listed + 1] = all[j + 1]
        listed[#listed + 1] = weight(all[j])
      end
    end
    refusals[#refusals + 1] = {i - 1, used[key], listed}
  end
  planned[key] = wanted
end
if #refusals > 0 then
  return {0, refusals}
end
local id = redis.call('INCR', KEYS[1])
local record = prefix .. 'r:' .. id
redis.call('HSET', record, '@', now)
local keep = 0
for _, key in ipairs(order) do
  if planned[key] > 0 then
    local units = string.format('%d', planned[key])
    local member = id .. ':' .. units
    local tkey = total_key(prefix, key)
    redis.call('ZADD', key, now, member)
    redis.call('INCRBY', tkey, units)
    redis.call('HSET', record, key, member)
    for _, k in ipairs({key, tkey}) do
      if redis.call('PTTL', k) < ttls[key] then
        redis.call('PEXPIRE', k, ttls[key])
      end
    end
    if ttls[key] > keep then
      keep = ttls[key]
    end
  end
end
redis.call('PEXPIRE', record, keep + tonumber(ARGV[4]))
redis.call('SET', KEYS[2], id, 'PX', ARGV[3])
return {1, id}
";

/// Commits (`ARGV[1] == '1'`) or rolls back a reservation. KEYS: the reservation, its
/// settled marker. ARGV: keep, this attempt's nonce, the marker's TTL, the key prefix.
/// Returns 1 when settled (now or by an earlier try of this attempt), 0 when unknown.
const SETTLE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then
  if redis.call('GET', KEYS[2]) == ARGV[2] then
    return 1
  end
  return 0
end
if ARGV[1] == '0' then
  local fields = redis.call('HGETALL', KEYS[1])
  for j = 1, #fields, 2 do
    local key, member = fields[j], fields[j + 1]
    -- A use already pruned (its window passed) no longer counts in the total either.
    if key ~= '@' and redis.call('ZREM', key, member) == 1 then
      local tkey = total_key(ARGV[4], key)
      if redis.call('EXISTS', tkey) == 1 then
        redis.call('DECRBY', tkey, string.format('%d', weight(member)))
      end
    end
  end
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
";

/// The units a counter holds at a time, without changing anything. KEYS: the counter.
/// ARGV: the key prefix, the window's start.
const USAGE: &str = r"
local key, start = KEYS[1], ARGV[2]
local total = redis.call('GET', total_key(ARGV[1], key))
if total then
  total = tonumber(total)
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', key, '-inf', '(' .. start)) do
    total = total - weight(member)
  end
else
  total = 0
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', key, start, '+inf')) do
    total = total + weight(member)
  end
end
return math.max(total, 0)
";

/// Limit counters in Redis, shared by every process that opens the same server with the
/// same prefix.
///
/// # Example
///
/// ```no_run
/// use nanokvm_policy::{Engine, Policy, RedisStore};
///
/// let store = RedisStore::builder("redis://10.0.0.5:6379/0")
///     .prefix("lab-fleet:")
///     .open()?;
/// let policy = Policy::from_json(r#"{"version": "1", "default": "allow"}"#)?;
/// let engine = Engine::with_policy(policy, store);
/// # Ok::<(), nanokvm_policy::Error>(())
/// ```
pub struct RedisStore {
    client: ::redis::Client,
    /// The URL without its password, for errors and `Debug`.
    target: String,
    prefix: String,
    timeout: Duration,
    connection: Mutex<Option<Connection>>,
    reserve: Script,
    settle: Script,
    usage: Script,
}

/// How to open a [`RedisStore`]: [`RedisStore::builder`].
pub struct RedisStoreBuilder {
    url: String,
    prefix: String,
    timeout: Duration,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.target)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("url", &redact(&self.url))
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The URL as errors and logs may show it: without a password, in the user part or in
/// the query. A URL that does not parse is not shown at all, since it might hold one.
fn redact(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "(a URL that does not parse)".to_owned();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(None);
    }
    if parsed.query().is_some() {
        let kept: Vec<(String, String)> = parsed
            .query_pairs()
            .filter(|(name, _)| !name.to_ascii_lowercase().contains("pass"))
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        if kept.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    parsed.to_string()
}

/// Whether an operation that failed this way may be sent once more on a new
/// connection: the connection broke (reset, closed, refused), but Redis did not time
/// out on us.
fn broken(e: &RedisError) -> bool {
    e.is_connection_dropped() && !e.is_timeout()
}

/// Why an attempt failed: no connection, or the command on it.
enum Failure {
    Connect(RedisError),
    Command(RedisError),
}

impl RedisStoreBuilder {
    /// The prefix of every key this store reads and writes (default `nanokvm:`). Stores
    /// with different prefixes share no counters and no reservations.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long connecting, and each answer, may take before the operation fails
    /// (default two seconds; at least a millisecond).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        // A socket refuses a zero timeout; a millisecond is the shortest that works.
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Connects, checks that Redis answers and loads the scripts.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] with operation `open` when the URL is not a Redis URL, or Redis
    /// cannot be reached, refuses the credentials or cannot run scripts within the
    /// timeout. The message names the URL without its password.
    pub fn open(self) -> Result<RedisStore, Error> {
        let target = redact(&self.url);
        let client = ::redis::Client::open(self.url.as_str()).map_err(|_| Error::Store {
            operation: "open",
            message: format!("{target}: not a Redis URL (redis://[:PASSWORD@]HOST[:PORT][/DB])"),
        })?;
        let store = RedisStore {
            client,
            target,
            prefix: self.prefix,
            timeout: self.timeout,
            connection: Mutex::new(None),
            reserve: script(RESERVE),
            settle: script(SETTLE),
            usage: script(USAGE),
        };
        store.run("open", |c| {
            for script in [&store.reserve, &store.settle, &store.usage] {
                script.prepare_invoke().load(c)?;
            }
            Ok(())
        })?;
        Ok(store)
    }
}

impl RedisStore {
    /// The prefix of every key unless [`RedisStoreBuilder::prefix`] names another.
    pub const DEFAULT_PREFIX: &str = "nanokvm:";

    /// Opens the store at `url` (`redis://[:PASSWORD@]HOST[:PORT][/DB]`) with the
    /// default prefix and timeout.
    ///
    /// # Errors
    ///
    /// As [`RedisStoreBuilder::open`].
    pub fn open(url: &str) -> Result<Self, Error> {
        Self::builder(url).open()
    }

    /// A builder for a store at `url`, to choose the prefix or the timeout.
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            prefix: Self::DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The server's URL without its password.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.target
    }

    /// The prefix of this store's keys.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn lock(&self) -> MutexGuard<'_, Option<Connection>> {
        // A panic inside an operation leaves at worst a connection in an unknown state;
        // it is dropped below whenever an operation on it fails.
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn connect(&self) -> RedisResult<Connection> {
        let connection = self.client.get_connection_with_timeout(self.timeout)?;
        connection.set_read_timeout(Some(self.timeout))?;
        connection.set_write_timeout(Some(self.timeout))?;
        Ok(connection)
    }

    /// Runs `command` on the connection, connecting first when there is none. A failed
    /// connection is dropped, since an answer may still be on its way.
    fn attempt<T>(
        &self,
        slot: &mut Option<Connection>,
        command: &impl Fn(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, Failure> {
        let connection = match slot {
            Some(connection) => connection,
            None => slot.insert(self.connect().map_err(Failure::Connect)?),
        };
        command(connection).map_err(|e| {
            *slot = None;
            Failure::Command(e)
        })
    }

    /// Runs `command`, once more on a new connection when the one it had was found
    /// broken (every command given here may be repeated; see the module docs).
    fn run<T>(
        &self,
        operation: &'static str,
        command: impl Fn(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, Error> {
        let mut slot = self.lock();
        let reused = slot.is_some();
        match self.attempt(&mut slot, &command) {
            Ok(value) => Ok(value),
            Err(Failure::Command(e)) if reused && broken(&e) => {
                tracing::debug!(url = %self.target, error = %e, "the Redis connection broke; connecting again");
                self.attempt(&mut slot, &command)
                    .map_err(|f| self.failed(operation, f))
            }
            Err(f) => Err(self.failed(operation, f)),
        }
    }

    fn failed(&self, operation: &'static str, failure: Failure) -> Error {
        let (what, e) = match failure {
            Failure::Connect(e) => ("cannot connect", e),
            Failure::Command(e) => ("failed", e),
        };
        let message = if e.is_timeout() {
            format!(
                "{}: {what}: no answer within {} ms",
                self.target,
                self.timeout.as_millis()
            )
        } else {
            format!("{}: {what}: {e}", self.target)
        };
        Error::Store { operation, message }
    }

    fn counter_key(&self, key: &CounterKey) -> String {
        format!(
            "{}c:{}:{}:{}:{}:{}",
            self.prefix,
            key.scope.name(),
            window_name(key.window),
            key.counter.len(),
            key.counter,
            key.scope_key
        )
    }

    /// Settles as the attempt named `nonce`: a repeat with the same nonce (the first
    /// answer was lost) succeeds again without doing anything more.
    fn settle_as(&self, id: ReservationId, keep: bool, nonce: &str) -> Result<(), Error> {
        let operation = if keep { "commit" } else { "rollback" };
        let mut invocation = self.settle.prepare_invoke();
        invocation
            .key(format!("{}r:{}", self.prefix, id.0))
            .key(format!("{}s:{}", self.prefix, id.0))
            .arg(if keep { "1" } else { "0" })
            .arg(nonce)
            .arg(OUTCOME_TTL_MS)
            .arg(&self.prefix);
        let settled: i64 = self.run(operation, |c| invocation.invoke(c))?;
        if settled == 1 {
            Ok(())
        } else {
            Err(Error::UnknownReservation { id: id.0 })
        }
    }

    /// Reserves as the attempt named `nonce`: a repeat with the same nonce (the first
    /// answer was lost) returns the first reservation instead of making another.
    fn reserve_as(
        &self,
        requests: &[CounterRequest],
        now: Timestamp,
        nonce: &str,
    ) -> Result<Reserve, Error> {
        let now = now.unix_millis();
        let mut invocation = self.reserve.prepare_invoke();
        invocation
            .key(format!("{}next-reservation", self.prefix))
            .key(format!("{}n:{nonce}", self.prefix));
        for request in requests {
            invocation.key(self.counter_key(&request.key));
        }
        invocation
            .arg(&self.prefix)
            .arg(now)
            .arg(OUTCOME_TTL_MS)
            .arg(RESERVATION_GRACE_MS);
        for request in requests {
            let window = request.key.window;
            // A weight above the maximum must stay above it once both are capped.
            let max = request.max.min(LUA_MAX - 1);
            invocation
                .arg(window_start(window, now))
                .arg(max)
                .arg(request.weight.min(LUA_MAX))
                .arg(
                    expiry(window, now)
                        .saturating_sub(now)
                        .saturating_add(EXPIRY_SLACK_MS),
                )
                .arg(u8::from(matches!(window, Window::Sliding(_))));
        }
        let answer: Value = self.run("reserve", |c| invocation.invoke(c))?;
        let bad = || unexpected("reserve", &self.target, &answer);
        let Value::Array(parts) = &answer else {
            return Err(bad());
        };
        let [status, body] = parts.as_slice() else {
            return Err(bad());
        };
        if integer(status) == Some(1) {
            let id = integer(body)
                .and_then(|id| u64::try_from(id).ok())
                .ok_or_else(bad)?;
            return Ok(Reserve::Reserved(ReservationId(id)));
        }
        let Value::Array(refused) = body else {
            return Err(bad());
        };
        // What each request wanted, with the requests before it on the same counter,
        // exactly as `MemoryStore` plans it.
        let mut planned: Vec<(&CounterKey, u64)> = Vec::new();
        let mut wanted = Vec::with_capacity(requests.len());
        for request in requests {
            let before = planned.iter_mut().find(|(k, _)| *k == &request.key);
            let total = match before {
                Some((_, total)) => {
                    *total = total.saturating_add(request.weight);
                    *total
                }
                None => {
                    planned.push((&request.key, request.weight));
                    request.weight
                }
            };
            wanted.push(total);
        }
        let mut refusals = Vec::with_capacity(refused.len());
        for value in refused {
            let Refused { index, used, uses } = refusal_parts(value).ok_or_else(bad)?;
            let (Some(request), Some(&wanted)) = (requests.get(index), wanted.get(index)) else {
                return Err(bad());
            };
            refusals.push(Refusal {
                index,
                retry_after_s: retry_after(
                    request.key.window,
                    now,
                    request.max,
                    wanted,
                    used,
                    || uses,
                ),
            });
        }
        Ok(Reserve::Refused(refusals))
    }
}

/// A script with the helpers it uses.
fn script(body: &str) -> Script {
    Script::new(&format!("{HELPERS}{body}"))
}

/// A random token naming one attempt of an operation.
fn nonce() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn unexpected(operation: &'static str, target: &str, what: &Value) -> Error {
    Error::Store {
        operation,
        message: format!("{target}: unexpected answer from the script: {what:?}"),
    }
}

fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(*n),
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
        Value::SimpleString(text) => text.parse().ok(),
        _ => None,
    }
}

/// A sorted-set score as Redis prints it: an integer for the times stored here.
fn score(value: &Value) -> Option<i64> {
    integer(value).or_else(|| match value {
        Value::BulkString(bytes) => {
            let f: f64 = std::str::from_utf8(bytes).ok()?.parse().ok()?;
            #[allow(clippy::cast_possible_truncation)] // Times in ms are exact in a double.
            Some(f.round() as i64)
        }
        Value::Double(f) =>
        {
            #[allow(clippy::cast_possible_truncation)]
            Some(f.round() as i64)
        }
        _ => None,
    })
}

/// One refusing request as the script reports it.
struct Refused {
    /// The request's index.
    index: usize,
    /// The units its counter holds.
    used: u64,
    /// The counter's uses as `(time, weight)`, for sliding windows.
    uses: Vec<(i64, u64)>,
}

/// One refusal as the script returns it: `{index, used, {at, weight, ...}}`.
fn refusal_parts(value: &Value) -> Option<Refused> {
    let Value::Array(parts) = value else {
        return None;
    };
    let [index, used, uses] = parts.as_slice() else {
        return None;
    };
    let index = usize::try_from(integer(index)?).ok()?;
    let used = u64::try_from(integer(used)?).ok()?;
    let Value::Array(uses) = uses else {
        return None;
    };
    let mut listed = Vec::with_capacity(uses.len() / 2);
    for pair in uses.chunks(2) {
        let [at, weight] = pair else {
            return None;
        };
        listed.push((score(at)?, u64::try_from(integer(weight)?).ok()?));
    }
    Some(Refused {
        index,
        used,
        uses: listed,
    })
}

impl CounterStore for RedisStore {
    fn reserve(&self, requests: &[CounterRequest], now: Timestamp) -> Result<Reserve, Error> {
        self.reserve_as(requests, now, &nonce())
    }

    fn commit(&self, id: ReservationId) -> Result<(), Error> {
        self.settle_as(id, true, &nonce())
    }

    fn rollback(&self, id: ReservationId) -> Result<(), Error> {
        self.settle_as(id, false, &nonce())
    }

    fn usage(&self, key: &CounterKey, now: Timestamp) -> Result<u64, Error> {
        let mut invocation = self.usage.prepare_invoke();
        invocation
            .key(self.counter_key(key))
            .arg(&self.prefix)
            .arg(window_start(key.window, now.unix_millis()));
        self.run("usage", |c| invocation.invoke(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Scope;

    #[test]
    fn urls_lose_their_passwords() {
        for (url, shown) in [
            (
                "redis://:hunter2@127.0.0.1:6379/0",
                "redis://127.0.0.1:6379/0",
            ),
            ("redis://ops:hunter2@kv.lan/2", "redis://ops@kv.lan/2"),
            ("redis://kv.lan:6380", "redis://kv.lan:6380"),
            (
                "redis+unix:///run/redis.sock?db=1&pass=hunter2",
                "redis+unix:///run/redis.sock?db=1",
            ),
            ("redis://:hunter2@[::1", "(a URL that does not parse)"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    /// A throwaway `redis-server` on a Unix socket, killed when dropped.
    struct Server {
        child: std::process::Child,
        url: String,
        _dir: tempfile::TempDir,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// Starts one, or returns `None` when `redis-server` is not installed (a failure if
    /// `NANOKVM_REQUIRE_REDIS` is set). The integration tests (`tests/it/redis.rs`)
    /// start theirs on TCP ports and test everything else; this one reaches a private
    /// seam.
    #[allow(clippy::print_stderr)] // A skipped test says why.
    fn server() -> Option<Server> {
        use std::io::BufRead as _;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let socket = dir.path().join("redis.sock");
        let started = std::process::Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--appendonly", "no"])
            .arg("--unixsocket")
            .arg(&socket)
            .arg("--dir")
            .arg(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn();
        let mut child = match started {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                assert!(
                    std::env::var_os("NANOKVM_REQUIRE_REDIS").is_none(),
                    "NANOKVM_REQUIRE_REDIS is set, but redis-server is not installed"
                );
                eprintln!("skipped: redis-server is not installed");
                return None;
            }
            Err(e) => panic!("cannot run redis-server: {e}"),
        };
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut lines = std::io::BufReader::new(stdout).lines();
        // Redis 7 says `The server is now ready to accept connections at PATH` here.
        let ready = lines.by_ref().map_while(Result::ok).any(|line| {
            line.to_ascii_lowercase()
                .contains("ready to accept connections")
        });
        assert!(ready, "redis-server did not start");
        std::thread::spawn(move || lines.for_each(drop));
        Some(Server {
            child,
            url: format!("redis+unix://{}", socket.display()),
            _dir: dir,
        })
    }

    #[test]
    fn a_repeated_attempt_neither_reserves_nor_settles_twice() {
        let Some(server) = server() else {
            return;
        };
        let store = RedisStore::open(&server.url).unwrap_or_else(|e| panic!("{e}"));
        let key = CounterKey {
            counter: "c".to_owned(),
            window: Window::Fixed(60),
            scope: Scope::Global,
            scope_key: String::new(),
        };
        let one = [CounterRequest {
            key: key.clone(),
            max: 2,
            weight: 1,
        }];
        let now = Timestamp::from_unix_secs(1_772_532_000);
        let reserve = |nonce| store.reserve_as(&one, now, nonce).ok();
        let Some(Reserve::Reserved(first)) = reserve("a") else {
            panic!("not reserved");
        };
        // The first answer was lost; the repeat finds the reservation it made.
        assert_eq!(reserve("a"), Some(Reserve::Reserved(first)));
        assert_eq!(store.usage(&key, now).ok(), Some(1));
        let Some(Reserve::Reserved(second)) = reserve("b") else {
            panic!("not reserved");
        };
        assert_ne!(first, second);
        assert!(matches!(reserve("c"), Some(Reserve::Refused(_))));

        assert!(store.settle_as(first, false, "x").is_ok());
        assert!(store.settle_as(first, false, "x").is_ok(), "a repeat");
        assert!(matches!(
            store.settle_as(first, true, "y"),
            Err(Error::UnknownReservation { .. })
        ));
        assert!(store.settle_as(second, true, "z").is_ok());
        assert!(matches!(
            store.settle_as(second, false, "x"),
            Err(Error::UnknownReservation { .. })
        ));
        assert_eq!(store.usage(&key, now).ok(), Some(1));
    }

    #[test]
    fn counter_keys_cannot_collide_through_names() {
        let store_prefix = |prefix: &str| RedisStore {
            client: ::redis::Client::open("redis://127.0.0.1:1/").unwrap_or_else(|e| panic!("{e}")),
            target: String::new(),
            prefix: prefix.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            connection: Mutex::new(None),
            reserve: script(RESERVE),
            settle: script(SETTLE),
            usage: script(USAGE),
        };
        let store = store_prefix("p:");
        let key = |counter: &str, scope_key: &str| CounterKey {
            counter: counter.to_owned(),
            window: Window::Sliding(60),
            scope: Scope::Principal,
            scope_key: scope_key.to_owned(),
        };
        assert_eq!(
            store.counter_key(&key("calls", "alice")),
            "p:c:principal:sliding:60:5:calls:alice"
        );
        assert_ne!(
            store.counter_key(&key("a:b", "c")),
            store.counter_key(&key("a", "b:c"))
        );
    }
}
