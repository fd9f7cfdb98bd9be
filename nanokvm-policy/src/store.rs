//! Counters behind limits: the [`CounterStore`] trait and [`MemoryStore`].
//!
//! A call reserves units on every counter its limits name, all or nothing, before it
//! runs; the gate commits the reservation after the call succeeds or rolls it back after
//! it fails. Reserved units count at once, so calls in flight cannot overrun a limit
//! together. A use is recorded at the time of its reservation, which is the time the
//! engine decided the call.
//!
//! The trait is what a durable store (SQLite, in the gate) or a shared one implements;
//! [`MemoryStore`] is the reference implementation and the one tests and benchmarks use.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use crate::error::Error;
use crate::policy::{Scope, Window};
use crate::time::Timestamp;

/// Identifies one counter: name, window, scope and the scope's key (principal, session,
/// device, or empty for `global`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct CounterKey {
    /// The limit's `counter` name.
    pub counter: String,
    /// The window counted over.
    pub window: Window,
    /// Whom the counter is kept for.
    pub scope: Scope,
    /// The principal, session or device the counter belongs to; empty for `global`.
    pub scope_key: String,
}

/// One counter a call wants to reserve on.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CounterRequest {
    /// The counter.
    pub key: CounterKey,
    /// The most units the window may hold.
    pub max: u64,
    /// The units this call costs.
    pub weight: u64,
}

/// The handle of a reservation made by a store.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ReservationId(pub u64);

/// Why one counter refused a reservation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Refusal {
    /// Index of the refusing request in the slice given to [`CounterStore::reserve`].
    pub index: usize,
    /// Whole seconds (rounded up) until the call could fit on this counter, or `None`
    /// when it never can (its weight alone exceeds `max`).
    pub retry_after_s: Option<u64>,
}

/// What [`CounterStore::reserve`] did.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Reserve {
    /// Every request fitted and is now reserved.
    Reserved(ReservationId),
    /// At least one request did not fit; nothing was reserved. One entry per refusing
    /// request, in request order.
    Refused(Vec<Refusal>),
}

/// Where counters live.
///
/// Implementations must make [`reserve`](CounterStore::reserve) atomic across all its
/// requests (either every counter takes its weight, or none changes), count reserved but
/// unsettled units as used, and keep committed uses until their window has passed.
pub trait CounterStore: Send + Sync {
    /// Reserves `weight` units on each request's counter at `now`, all or nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store cannot answer; the engine then denies.
    fn reserve(&self, requests: &[CounterRequest], now: Timestamp) -> Result<Reserve, Error>;

    /// Makes a reservation's uses permanent (the call succeeded).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownReservation`] for an id already settled or never issued;
    /// [`Error::Store`] when the store fails.
    fn commit(&self, id: ReservationId) -> Result<(), Error>;

    /// Removes a reservation's uses (the call failed and did nothing).
    ///
    /// # Errors
    ///
    /// As [`CounterStore::commit`].
    fn rollback(&self, id: ReservationId) -> Result<(), Error>;

    /// The units counted on `key` at `now`, reserved ones included.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store fails.
    fn usage(&self, key: &CounterKey, now: Timestamp) -> Result<u64, Error>;
}

/// The uses of one counter: settled ones in time order with their running total, and
/// the few that are still in flight.
#[derive(Default, Debug)]
struct Uses {
    committed: VecDeque<(i64, u64)>,
    committed_total: u64,
    /// `(time, weight, reservation id)` of unsettled uses.
    pending: Vec<(i64, u64, u64)>,
    pending_total: u64,
}

pub(crate) fn window_ms(window: Window) -> i64 {
    i64::try_from(window.seconds().saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// Whole seconds in `ms`, rounded up.
fn ceil_secs(ms: i64) -> u64 {
    u64::try_from(ms.max(0)).unwrap_or(0).div_ceil(1000)
}

/// The first instant whose uses still count at `now`. Shared with the SQLite store, so
/// that both stores count exactly the same uses.
pub(crate) fn window_start(window: Window, now: i64) -> i64 {
    let len = window_ms(window);
    match window {
        Window::Fixed(_) => now.div_euclid(len).saturating_mul(len),
        // `sliding:Ns` counts exactly the last N seconds: a use N seconds old is gone.
        Window::Sliding(_) => now.saturating_sub(len).saturating_add(1),
    }
}

/// The first instant at which a use made at `at` no longer counts. Shared with the
/// durable stores, which forget uses and counters from then on.
pub(crate) fn expiry(window: Window, at: i64) -> i64 {
    let len = window_ms(window);
    match window {
        Window::Fixed(_) => window_start(window, at).saturating_add(len),
        Window::Sliding(_) => at.saturating_add(len),
    }
}

/// The stored name of a window: `fixed:60`, `sliding:60`.
pub(crate) fn window_name(window: Window) -> String {
    match window {
        Window::Fixed(s) => format!("fixed:{s}"),
        Window::Sliding(s) => format!("sliding:{s}"),
    }
}

/// Seconds until `weight` more units fit under `max` on a counter that holds `used`
/// units at `now`. `uses` lists the counted uses as `(time, weight)` and is only called
/// for sliding windows. Shared with the SQLite store, so both give the same answer.
pub(crate) fn retry_after(
    window: Window,
    now: i64,
    max: u64,
    weight: u64,
    used: u64,
    uses: impl FnOnce() -> Vec<(i64, u64)>,
) -> Option<u64> {
    if weight > max {
        return None;
    }
    let len = window_ms(window);
    match window {
        Window::Fixed(_) => Some(ceil_secs(
            window_start(window, now).saturating_add(len) - now,
        )),
        Window::Sliding(_) => {
            let mut all = uses();
            all.sort_unstable();
            let mut used = used;
            for (at, w) in all {
                used = used.saturating_sub(w);
                if used.saturating_add(weight) <= max {
                    return Some(ceil_secs(at.saturating_add(len) - now).max(1));
                }
            }
            Some(ceil_secs(len))
        }
    }
}

impl Uses {
    /// Forgets the uses that no longer count at `now`. Uses stamped after `now` (a
    /// caller whose clock went back) are kept and count, which errs on the side of
    /// refusing.
    fn prune(&mut self, window: Window, now: i64) {
        let start = window_start(window, now);
        while let Some(&(at, weight)) = self.committed.front() {
            if at >= start {
                break;
            }
            self.committed.pop_front();
            self.committed_total = self.committed_total.saturating_sub(weight);
        }
        if self.pending.iter().any(|p| p.0 < start) {
            self.pending.retain(|p| p.0 >= start);
            self.pending_total = self
                .pending
                .iter()
                .map(|p| p.1)
                .fold(0, u64::saturating_add);
        }
    }

    /// The units counted, once pruned.
    fn used(&self) -> u64 {
        self.committed_total.saturating_add(self.pending_total)
    }

    /// Seconds until `weight` more units fit under `max`, once pruned.
    fn retry_after(&self, window: Window, now: i64, max: u64, weight: u64) -> Option<u64> {
        retry_after(window, now, max, weight, self.used(), || {
            let mut all: Vec<(i64, u64)> = self.committed.iter().copied().collect();
            all.extend(self.pending.iter().map(|p| (p.0, p.1)));
            all
        })
    }

    fn reserve(&mut self, at: i64, weight: u64, id: u64) {
        if weight > 0 {
            self.pending.push((at, weight, id));
            self.pending_total = self.pending_total.saturating_add(weight);
        }
    }

    fn settle(&mut self, id: u64, keep: bool) {
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].2 != id {
                i += 1;
                continue;
            }
            let (at, weight, _) = self.pending.swap_remove(i);
            self.pending_total = self.pending_total.saturating_sub(weight);
            if keep {
                let index = self.committed.partition_point(|u| u.0 <= at);
                self.committed.insert(index, (at, weight));
                self.committed_total = self.committed_total.saturating_add(weight);
            }
        }
    }
}

#[derive(Default, Debug)]
struct Inner {
    counters: HashMap<CounterKey, Uses>,
    reservations: HashMap<u64, Vec<CounterKey>>,
    next_id: u64,
}

/// Counters in memory, behind one mutex: every operation is atomic. Nothing survives
/// the process; the gate uses a durable store.
#[derive(Default, Debug)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Reservations neither committed nor rolled back yet.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.lock().reservations.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied reservation, since
        // every operation checks before it mutates; so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn settle(&self, id: ReservationId, keep: bool) -> Result<(), Error> {
        let mut inner = self.lock();
        let keys = inner
            .reservations
            .remove(&id.0)
            .ok_or(Error::UnknownReservation { id: id.0 })?;
        for key in keys {
            if let Some(uses) = inner.counters.get_mut(&key) {
                uses.settle(id.0, keep);
            }
        }
        Ok(())
    }
}

impl CounterStore for MemoryStore {
    fn reserve(&self, requests: &[CounterRequest], now: Timestamp) -> Result<Reserve, Error> {
        let now = now.unix_millis();
        let mut inner = self.lock();
        for request in requests {
            if let Some(uses) = inner.counters.get_mut(&request.key) {
                uses.prune(request.key.window, now);
            }
        }
        // Several limits of one call may name the same counter; they must fit together.
        let mut planned: HashMap<&CounterKey, u64> = HashMap::new();
        let mut refusals = Vec::new();
        let empty = Uses::default();
        for (index, request) in requests.iter().enumerate() {
            let uses = inner.counters.get(&request.key).unwrap_or(&empty);
            let before = planned.get(&request.key).copied().unwrap_or(0);
            let wanted = before.saturating_add(request.weight);
            if uses.used().saturating_add(wanted) > request.max {
                refusals.push(Refusal {
                    index,
                    retry_after_s: uses.retry_after(request.key.window, now, request.max, wanted),
                });
            }
            planned.insert(&request.key, wanted);
        }
        if !refusals.is_empty() {
            return Ok(Reserve::Refused(refusals));
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let mut keys = Vec::with_capacity(requests.len());
        for request in requests {
            if let Some(uses) = inner.counters.get_mut(&request.key) {
                uses.reserve(now, request.weight, id);
            } else {
                let mut uses = Uses::default();
                uses.reserve(now, request.weight, id);
                inner.counters.insert(request.key.clone(), uses);
            }
            keys.push(request.key.clone());
        }
        inner.reservations.insert(id, keys);
        Ok(Reserve::Reserved(ReservationId(id)))
    }

    fn commit(&self, id: ReservationId) -> Result<(), Error> {
        self.settle(id, true)
    }

    fn rollback(&self, id: ReservationId) -> Result<(), Error> {
        self.settle(id, false)
    }

    fn usage(&self, key: &CounterKey, now: Timestamp) -> Result<u64, Error> {
        let mut inner = self.lock();
        Ok(inner.counters.get_mut(key).map_or(0, |u| {
            u.prune(key.window, now.unix_millis());
            u.used()
        }))
    }
}

/// A boxed store is a store, so a frontend can choose its store at run time
/// (`Gate<Box<dyn CounterStore>>`).
impl<S: CounterStore + ?Sized> CounterStore for Box<S> {
    fn reserve(&self, requests: &[CounterRequest], now: Timestamp) -> Result<Reserve, Error> {
        (**self).reserve(requests, now)
    }

    fn commit(&self, id: ReservationId) -> Result<(), Error> {
        (**self).commit(id)
    }

    fn rollback(&self, id: ReservationId) -> Result<(), Error> {
        (**self).rollback(id)
    }

    fn usage(&self, key: &CounterKey, now: Timestamp) -> Result<u64, Error> {
        (**self).usage(key, now)
    }
}
