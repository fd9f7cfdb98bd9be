//! The Redis counter store against a real `redis-server` started on a free loopback
//! port in a temporary directory: the differential property test against
//! `MemoryStore`, handles and threads sharing one server, prefixes, key expiry,
//! reservations never settled, a Redis that goes away or stops answering (fail closed),
//! and passwords kept out of `Debug` and errors.
//!
//! Without `redis-server` on the `PATH` these tests say why and pass, unless
//! `NANOKVM_REQUIRE_REDIS` is set, as `.ci/run` does once it has installed the Debian
//! package `redis-server`.

#![allow(clippy::print_stderr)] // A skipped test says why.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Barrier;
use std::time::Duration;

use nanokvm_policy::{
    Call, CounterStore, Engine, Error, RULE_STORE_ERROR, RedisStore, Refusal, Reserve, Timestamp,
    Verdict, Window,
};
use serde_json::json;
use tempfile::TempDir;

use crate::stores::{answers_like_memory, key, request, reserved};
use crate::support::policy;

/// A `redis-server` this test started, killed when dropped.
pub struct RedisServer {
    child: Child,
    port: u16,
    dir: TempDir,
    args: Vec<String>,
}

impl RedisServer {
    /// Starts a server without persistence, or says why not and returns `None` when
    /// `redis-server` is not installed (a failure if `NANOKVM_REQUIRE_REDIS` is set).
    pub fn start() -> Option<Self> {
        Self::start_with(&[])
    }

    /// As [`RedisServer::start`], with more `redis-server` arguments.
    pub fn start_with(args: &[&str]) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("no temporary directory: {e}"));
        let args: Vec<String> = args.iter().map(|&a| a.to_owned()).collect();
        // Another process may take the free port before the server binds it; try again.
        for _ in 0..5 {
            let port = free_port();
            match spawn(port, &dir, &args) {
                Spawned::Ready(child) => {
                    return Some(Self {
                        child,
                        port,
                        dir,
                        args,
                    });
                }
                Spawned::Missing(reason) => {
                    assert!(
                        std::env::var_os("NANOKVM_REQUIRE_REDIS").is_none(),
                        "NANOKVM_REQUIRE_REDIS is set, but {reason}"
                    );
                    eprintln!(
                        "skipped: {reason} (Debian package redis-server; .ci/run installs it)"
                    );
                    return None;
                }
                Spawned::Failed(log) if log.contains("Address already in use") => {}
                Spawned::Failed(log) => panic!("redis-server did not start:\n{log}"),
            }
        }
        panic!("redis-server found no free port in five tries");
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// A store on this server with its own key prefix.
    pub fn store(&self, prefix: &str) -> RedisStore {
        open(&self.url(), prefix)
    }

    /// Kills the server and waits until it is gone.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port (empty: nothing is persisted).
    pub fn restart(&mut self) {
        self.stop();
        match spawn(self.port, &self.dir, &self.args) {
            Spawned::Ready(child) => self.child = child,
            Spawned::Missing(log) | Spawned::Failed(log) => {
                panic!("redis-server did not start again:\n{log}")
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

enum Spawned {
    Ready(Child),
    Missing(String),
    Failed(String),
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("no port: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("no address: {e}"))
        .port()
}

/// Starts `redis-server` and reads its log until it accepts connections (or exits).
fn spawn(port: u16, dir: &TempDir, args: &[String]) -> Spawned {
    let port_arg = port.to_string();
    let started = Command::new("redis-server")
        .args(["--port", &port_arg, "--bind", "127.0.0.1", "--save", ""])
        .args(["--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(dir.path())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match started {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Spawned::Missing("redis-server is not installed".to_owned());
        }
        Err(e) => return Spawned::Failed(format!("cannot run redis-server: {e}")),
    };
    let Some(stdout) = child.stdout.take() else {
        return Spawned::Failed("no stdout".to_owned());
    };
    let mut lines = BufReader::new(stdout).lines();
    let mut log = String::new();
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        log.push_str(&line);
        log.push('\n');
        // `Ready to accept connections tcp` (Redis 7), `The server is now ready to accept
        // connections on port N` (before, and on Unix sockets).
        if line
            .to_ascii_lowercase()
            .contains("ready to accept connections")
        {
            // Keep reading, so that the server never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return Spawned::Ready(child);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    Spawned::Failed(log)
}

fn open(url: &str, prefix: &str) -> RedisStore {
    RedisStore::builder(url)
        .prefix(prefix)
        .open()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A plain connection to the server, to look at the keys the store wrote.
fn raw(server: &RedisServer) -> ::redis::Connection {
    ::redis::Client::open(server.url())
        .and_then(|c| c.get_connection())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn command<T: ::redis::FromRedisValue>(connection: &mut ::redis::Connection, args: &[&str]) -> T {
    let mut cmd = ::redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(connection)
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

const T0: i64 = 1_772_532_000_000;

#[test]
fn redis_answers_every_sequence_like_memory() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let case = std::cell::Cell::new(0);
    answers_like_memory(|| {
        case.set(case.get() + 1);
        server.store(&format!("case{}:", case.get()))
    });
}

#[test]
fn two_handles_share_counters_and_either_settles_a_reservation() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (one, two) = (server.store("shared:"), server.store("shared:"));
    let k = key("c", Window::Fixed(3600));
    let now = Timestamp::from_unix_millis(T0);
    let id = reserved(one.reserve(&[request(&k, 2, 1)], now));
    assert_eq!(
        two.usage(&k, now).ok(),
        Some(1),
        "in flight in the other handle"
    );
    let other = reserved(two.reserve(&[request(&k, 2, 1)], now));
    assert_ne!(id, other);
    assert_eq!(
        one.reserve(&[request(&k, 2, 1)], now).ok(),
        Some(Reserve::Refused(vec![Refusal {
            index: 0,
            retry_after_s: Some(3600)
        }]))
    );
    assert!(two.rollback(id).is_ok());
    assert!(matches!(
        one.commit(id),
        Err(Error::UnknownReservation { .. })
    ));
    assert!(one.commit(other).is_ok());
    assert_eq!(one.usage(&k, now).ok(), Some(1));
}

#[test]
fn stores_with_different_prefixes_share_nothing() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (a, b) = (server.store("fleet-a:"), server.store("fleet-b:"));
    let k = key("c", Window::Fixed(60));
    let now = Timestamp::from_unix_millis(T0);
    let id = reserved(a.reserve(&[request(&k, 1, 1)], now));
    assert_eq!(
        (a.usage(&k, now).ok(), b.usage(&k, now).ok()),
        (Some(1), Some(0))
    );
    let other = reserved(b.reserve(&[request(&k, 1, 1)], now));
    // Each prefix has its own reservations: rolling back one leaves the other counting.
    assert!(a.rollback(id).is_ok());
    assert_eq!(
        (a.usage(&k, now).ok(), b.usage(&k, now).ok()),
        (Some(0), Some(1))
    );
    assert!(b.commit(other).is_ok());
    let mut raw = raw(&server);
    let mut keys: Vec<String> = command(&mut raw, &["KEYS", "*"]);
    keys.sort();
    assert!(
        keys.iter()
            .all(|k| k.starts_with("fleet-a:") || k.starts_with("fleet-b:")),
        "{keys:?}"
    );
}

#[test]
fn threads_on_two_handles_never_overrun_a_limit() {
    const THREADS: usize = 6;
    const TRIES: usize = 12;
    const MAX: u64 = 29;
    let Some(server) = RedisServer::start() else {
        return;
    };
    let handles = [server.store("race:"), server.store("race:")];
    let k = key("c", Window::Sliding(3600));
    let now = Timestamp::from_unix_millis(T0);
    let barrier = Barrier::new(THREADS);
    let granted: usize = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let store = &handles[t % 2];
                let (barrier, k) = (&barrier, &k);
                scope.spawn(move || {
                    barrier.wait();
                    (0..TRIES)
                        .filter(|_| {
                            // Two requests on the counter, so each call takes 2 units,
                            // checked together.
                            let requests = [request(k, MAX, 1), request(k, MAX, 1)];
                            match store.reserve(&requests, now) {
                                Ok(Reserve::Reserved(id)) => store.commit(id).is_ok(),
                                Ok(Reserve::Refused(_)) => false,
                                Err(e) => panic!("{e}"),
                            }
                        })
                        .count()
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panic!("a thread panicked")))
            .sum()
    });
    // 29 units hold 14 calls of 2. A refusal means the units committed and in flight
    // left no room for 2 more, and everything in flight commits, so there are exactly 14
    // (with 72 tries, some are refused).
    assert_eq!(granted, 14);
    assert_eq!(handles[0].usage(&k, now).ok(), Some(28));
}

#[test]
fn a_reservation_never_settled_keeps_counting_and_every_key_expires() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let sliding = key("s", Window::Sliding(60));
    let hour = key("h", Window::Fixed(3600));
    let t0 = Timestamp::from_unix_millis(T0);
    let lost = {
        let store = server.store("crash:");
        reserved(store.reserve(&[request(&sliding, 1, 1), request(&hour, 5, 2)], t0))
        // The process dies here: the reservation is neither committed nor rolled back.
    };
    let store = server.store("crash:");
    assert_eq!(store.usage(&hour, t0).ok(), Some(2));
    let at = |s: i64| Timestamp::from_unix_millis(T0 + s * 1000);
    assert_eq!(
        store.reserve(&[request(&sliding, 1, 1)], at(59)).ok(),
        Some(Reserve::Refused(vec![Refusal {
            index: 0,
            retry_after_s: Some(1)
        }]))
    );
    let id = reserved(store.reserve(&[request(&sliding, 1, 1)], at(60)));
    assert_ne!(id, lost, "reservation ids are never reused");
    assert!(store.commit(id).is_ok());
    // The lost reservation can still be settled within its grace.
    assert!(store.rollback(lost).is_ok());
    assert_eq!(store.usage(&hour, at(60)).ok(), Some(0));
    let again = reserved(store.reserve(&[request(&hour, 5, 0)], at(61)));

    // Every key but the id sequence expires: counters when their newest use stops
    // counting (plus five minutes of slack), reservations a day after that.
    let mut raw = raw(&server);
    let keys: Vec<String> = command(&mut raw, &["KEYS", "crash:*"]);
    assert!(keys.len() >= 3, "{keys:?}");
    let slack = 300_000;
    let day = 86_400_000;
    for k in &keys {
        let ttl: i64 = command(&mut raw, &["PTTL", k]);
        let most = if k.starts_with("crash:c:") || k.starts_with("crash:t:") {
            3_600_000 + slack
        } else if k.starts_with("crash:r:") {
            3_600_000 + slack + day
        } else if k == "crash:next-reservation" {
            assert_eq!(ttl, -1, "{k}");
            continue;
        } else {
            600_000
        };
        assert!(ttl > 0 && ttl <= most, "{k}: {ttl} ms");
    }
    assert!(
        keys.contains(&format!("crash:r:{}", again.0)),
        "a zero-weight reservation is known: {keys:?}"
    );
    assert!(store.commit(again).is_ok());
}

#[test]
fn a_lost_running_total_is_counted_again_from_the_uses() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = server.store("heal:");
    let k = key("c", Window::Sliding(60));
    let now = Timestamp::from_unix_millis(T0);
    for weight in [1, 2] {
        let id = reserved(store.reserve(&[request(&k, 10, weight)], now));
        assert!(store.commit(id).is_ok());
    }
    let mut raw = raw(&server);
    let totals: Vec<String> = command(&mut raw, &["KEYS", "heal:t:*"]);
    assert_eq!(totals.len(), 1, "{totals:?}");
    let _: i64 = command(&mut raw, &["DEL", &totals[0]]);
    assert_eq!(store.usage(&k, now).ok(), Some(3));
    assert_eq!(
        store.reserve(&[request(&k, 4, 2)], now).ok(),
        Some(Reserve::Refused(vec![Refusal {
            index: 0,
            retry_after_s: Some(60)
        }]))
    );
    let id = reserved(store.reserve(&[request(&k, 4, 1)], now));
    let total: String = command(&mut raw, &["GET", &totals[0]]);
    assert_eq!(total, "4");
    assert!(store.rollback(id).is_ok());
    assert_eq!(store.usage(&k, now).ok(), Some(3));
}

#[test]
fn a_redis_that_goes_away_fails_closed_and_one_that_comes_back_is_used_again() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let store = server.store("gone:");
    let doc = r#"{"version": "1", "default": "deny", "tools": {"t": {"limits": [
        {"counter": "c", "window": "minute", "max": 5, "scope": "global"}]}}}"#;
    let engine = Engine::with_policy(policy(doc), store);
    let args = json!({});
    let call = Call::new("t", &args).principal("p");
    let now = Timestamp::from_unix_millis(T0);
    let first = engine.decide(&call, now);
    assert_eq!(first.verdict, Verdict::Allow);

    server.stop();
    let denied = engine.decide(&call, now);
    assert_eq!(
        (denied.verdict, denied.rule.as_deref()),
        (Verdict::Deny, Some(RULE_STORE_ERROR)),
        "{}",
        denied.message
    );
    assert!(denied.message.contains(&server.url()), "{}", denied.message);
    let k = key("c", Window::Fixed(60));
    let err = engine.store().usage(&k, now).err();
    assert!(
        matches!(&err, Some(Error::Store { operation: "usage", message }) if message.contains(&server.url())),
        "{err:?}"
    );
    if let Some(r) = first.reservation {
        let err = engine.commit(r).err();
        assert!(
            matches!(
                &err,
                Some(Error::Store {
                    operation: "commit",
                    ..
                })
            ),
            "{err:?}"
        );
    }

    // A new, empty Redis on the same address: the store connects again by itself.
    server.restart();
    let allowed = engine.decide(&call, now);
    assert_eq!(allowed.verdict, Verdict::Allow, "{}", allowed.message);
    if let Some(r) = allowed.reservation {
        assert!(engine.commit(r).is_ok());
    }
    assert_eq!(engine.store().usage(&k, now).ok(), Some(1));
    // Restarted under an open connection: the next operation finds it broken, connects
    // again and goes through at once.
    server.restart();
    let allowed = engine.decide(&call, now);
    assert_eq!(allowed.verdict, Verdict::Allow, "{}", allowed.message);
    if let Some(r) = allowed.reservation {
        assert!(engine.commit(r).is_ok());
    }
    assert_eq!(engine.store().usage(&k, now).ok(), Some(1));

    let nothing = format!("redis://127.0.0.1:{}/0", free_port());
    let err = RedisStore::open(&nothing).err();
    assert!(
        matches!(&err, Some(Error::Store { operation: "open", message }) if message.contains(&nothing)),
        "{err:?}"
    );
}

#[test]
fn a_redis_that_stops_answering_fails_within_the_timeout() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::builder(server.url())
        .prefix("paused:")
        .timeout(Duration::from_millis(300))
        .open()
        .unwrap_or_else(|e| panic!("{e}"));
    let k = key("c", Window::Fixed(60));
    let now = Timestamp::from_unix_millis(T0);
    reserved(store.reserve(&[request(&k, 5, 1)], now));
    // Redis holds every other client's commands for ten seconds.
    let mut raw = raw(&server);
    let _: () = command(&mut raw, &["CLIENT", "PAUSE", "10000", "ALL"]);
    let err = store.reserve(&[request(&k, 5, 1)], now).err();
    assert!(
        matches!(&err, Some(Error::Store { operation: "reserve", message })
            if message.contains("no answer within 300 ms") && message.contains(&server.url())),
        "{err:?}"
    );

    // A port that accepts connections and never answers: opening fails the same way.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "redis://{}/0",
        silent.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let err = RedisStore::builder(&url)
        .timeout(Duration::from_millis(300))
        .open()
        .err();
    assert!(
        matches!(&err, Some(Error::Store { operation: "open", message })
            if message.contains("no answer within 300 ms") && message.contains(&url)),
        "{err:?}"
    );
}

#[test]
fn passwords_stay_out_of_debug_and_errors() {
    const SECRET: &str = "hunter2-s3cret";
    let Some(mut server) = RedisServer::start_with(&["--requirepass", SECRET]) else {
        return;
    };
    let port = server.port;
    let with_password = format!("redis://:{SECRET}@127.0.0.1:{port}/0");
    let store = open(&with_password, "auth:");
    let k = key("c", Window::Fixed(60));
    let now = Timestamp::from_unix_millis(T0);
    let id = reserved(store.reserve(&[request(&k, 5, 1)], now));
    assert!(store.commit(id).is_ok());
    let shown = format!(
        "{store:?} {} {:?}",
        store.url(),
        RedisStore::builder(with_password.as_str())
    );
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");

    let wrong = format!("redis://:not-{SECRET}@127.0.0.1:{port}/0");
    let err = RedisStore::open(&wrong).err();
    let text = format!(
        "{err:?} {}",
        err.as_ref().map(ToString::to_string).unwrap_or_default()
    );
    assert!(
        matches!(
            err,
            Some(Error::Store {
                operation: "open",
                ..
            })
        ),
        "{text}"
    );
    assert!(!text.contains(SECRET), "{text}");

    let none = format!("redis://127.0.0.1:{port}/0");
    assert!(matches!(
        RedisStore::open(&none),
        Err(Error::Store {
            operation: "open",
            ..
        })
    ));

    server.stop();
    let err = store.reserve(&[request(&k, 5, 1)], now).err();
    let text = format!(
        "{err:?} {}",
        err.as_ref().map(ToString::to_string).unwrap_or_default()
    );
    assert!(
        matches!(
            err,
            Some(Error::Store {
                operation: "reserve",
                ..
            })
        ),
        "{text}"
    );
    assert!(!text.contains(SECRET), "{text}");
}

#[test]
fn the_store_crosses_threads() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<RedisStore>();
    send_sync::<Engine<RedisStore>>();
    send_sync::<Box<dyn CounterStore>>();
}
