//! [`RateLimit`]: how many events per second the layer emits, the
//! lock-free budget that enforces it, and one budget per event name.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::event;
use super::rejection::RejectionKind;
use super::NARROWED_EVENT;

/// How many events of each name the layer may emit per second, so that a
/// scanner hammering the authorization endpoint cannot flood the logs.
///
/// Each event name (`oauth.authorize.invalid_scope`,
/// `oauth.token.invalid_scope`, `oauth.scope_narrowed`) has a budget of its
/// own under this limit. What goes over it is counted, not lost: the next
/// event of the same name carries the count in its `suppressed` field, and
/// when the layer and all its services are dropped (a graceful shutdown),
/// every count still pending is written as one `<event name>.suppressed`
/// event. So the rejections of one name are exactly the count of its events
/// plus the sum of `suppressed` over them and their summary. The default is
/// 100 per second with a burst of 100.
///
/// ```
/// use invalid_scope_observer::{InvalidScopeObserverLayer, RateLimit, ScopeSet};
///
/// let layer = InvalidScopeObserverLayer::new(ScopeSet::new())
///     .rate_limit(RateLimit::per_second(10).burst(50));
/// let unlimited = InvalidScopeObserverLayer::new(ScopeSet::new())
///     .rate_limit(RateLimit::unlimited());
/// # drop((layer, unlimited));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// `None` for unlimited, else (events per second, burst).
    events: Option<(u32, u32)>,
}

impl RateLimit {
    /// At most `events` per second on average, with a burst of as many.
    ///
    /// # Panics
    ///
    /// When `events` is 0: use [`RateLimit::unlimited`] or drop the layer.
    ///
    /// ```
    /// # use invalid_scope_observer::RateLimit;
    /// let limit = RateLimit::per_second(10);
    /// assert_eq!(limit, RateLimit::per_second(10).burst(10));
    /// ```
    pub const fn per_second(events: u32) -> Self {
        assert!(
            events > 0,
            "a rate limit needs at least one event per second"
        );
        Self {
            events: Some((events, events)),
        }
    }

    /// Lets up to `events` pass at once after a quiet spell. Has no effect
    /// on [`RateLimit::unlimited`].
    ///
    /// # Panics
    ///
    /// When `events` is 0.
    ///
    /// ```
    /// # use invalid_scope_observer::RateLimit;
    /// let limit = RateLimit::per_second(5).burst(20);
    /// # drop(limit);
    /// ```
    pub const fn burst(self, events: u32) -> Self {
        assert!(events > 0, "a burst needs at least one event");
        match self.events {
            Some((per_second, _)) => Self {
                events: Some((per_second, events)),
            },
            None => self,
        }
    }

    /// No limit: every rejection is emitted.
    ///
    /// ```
    /// # use invalid_scope_observer::RateLimit;
    /// assert_ne!(RateLimit::unlimited(), RateLimit::default());
    /// ```
    pub const fn unlimited() -> Self {
        Self { events: None }
    }
}

/// Reads as it was written: `RateLimit(100 per second, burst 100)` or
/// `RateLimit(unlimited)`.
impl fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.events {
            Some((per_second, burst)) => {
                write!(f, "RateLimit({per_second} per second, burst {burst})")
            }
            None => f.write_str("RateLimit(unlimited)"),
        }
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::per_second(100).burst(100)
    }
}

/// The shared state behind a [`RateLimit`]: the generic cell rate algorithm
/// (a token bucket kept as one "theoretical arrival time"), in one atomic,
/// plus the count of suppressed rejections. Constant memory at any rate, no
/// lock.
#[derive(Debug)]
pub(crate) struct EventBudget {
    /// `None` for unlimited, else (nanoseconds per event, burst tolerance).
    spacing: Option<(u64, u64)>,
    start: Instant,
    /// Nanoseconds since `start` at which the bucket is full again.
    theoretical_arrival: AtomicU64,
    suppressed: AtomicU64,
}

/// Whether one rejection may be reported, and how many were not since.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    Admitted { suppressed_before: u64 },
    Suppressed,
}

impl EventBudget {
    pub(crate) fn new(limit: RateLimit) -> Self {
        let spacing = limit.events.map(|(per_second, burst)| {
            let interval = 1_000_000_000 / u64::from(per_second);
            (interval, interval * (u64::from(burst) - 1))
        });
        Self {
            spacing,
            start: Instant::now(),
            theoretical_arrival: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Counts `rejections` that were not reported into the next event's
    /// `suppressed` (a report that failed after it was admitted gives its
    /// own rejection and the count it carried back this way).
    fn count_suppressed(&self, rejections: u64) {
        self.suppressed.fetch_add(rejections, Ordering::Relaxed);
    }

    /// Holds an admission until its report is written: see [`Unwritten`].
    pub(crate) fn hold(&self, admission: Admission) -> Unwritten<'_> {
        let rejections = match admission {
            Admission::Admitted { suppressed_before } => suppressed_before + 1,
            Admission::Suppressed => 0,
        };
        Unwritten {
            budget: self,
            rejections,
        }
    }

    /// Takes the count no event has carried yet.
    fn take_pending(&mut self) -> u64 {
        std::mem::take(self.suppressed.get_mut())
    }

    pub(crate) fn admit(&self) -> Admission {
        let now = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.admit_at(now)
    }

    fn admit_at(&self, now: u64) -> Admission {
        if let Some((interval, tolerance)) = self.spacing {
            let mut arrival = self.theoretical_arrival.load(Ordering::Relaxed);
            loop {
                if now < arrival.saturating_sub(tolerance) {
                    self.suppressed.fetch_add(1, Ordering::Relaxed);
                    return Admission::Suppressed;
                }
                let next = arrival.max(now).saturating_add(interval);
                match self.theoretical_arrival.compare_exchange_weak(
                    arrival,
                    next,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(current) => arrival = current,
                }
            }
        }
        Admission::Admitted {
            suppressed_before: self.suppressed.swap(0, Ordering::Relaxed),
        }
    }
}

/// An admitted report not written yet. Dropped unwritten (a panic while the
/// report is built or emitted), it gives its own rejection and the count it
/// carried back to the budget, for the next event of its name or the
/// shutdown summary: a panic never loses a count.
pub(crate) struct Unwritten<'a> {
    budget: &'a EventBudget,
    rejections: u64,
}

impl Unwritten<'_> {
    /// The report is out: nothing to give back.
    pub(crate) fn written(mut self) {
        self.rejections = 0;
    }
}

impl Drop for Unwritten<'_> {
    fn drop(&mut self) {
        if self.rejections > 0 {
            self.budget.count_suppressed(self.rejections);
        }
    }
}

/// One budget per event name, shared by every service of a layer. When the
/// last of them goes (the layer, its services and their requests in flight
/// all dropped), each count still pending is written as a summary event, so
/// no suppressed rejection is ever lost from the log.
#[derive(Debug)]
pub(crate) struct EventBudgets {
    limit: RateLimit,
    authorize: EventBudget,
    token: EventBudget,
    narrowing: EventBudget,
}

impl EventBudgets {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            authorize: EventBudget::new(limit),
            token: EventBudget::new(limit),
            narrowing: EventBudget::new(limit),
        }
    }

    /// The limit each budget keeps.
    pub(crate) fn limit(&self) -> RateLimit {
        self.limit
    }

    /// The budget of the event a rejection of this kind emits.
    pub(crate) fn rejections(&self, kind: RejectionKind) -> &EventBudget {
        match kind {
            RejectionKind::Authorize => &self.authorize,
            RejectionKind::Token => &self.token,
        }
    }

    /// The budget of `oauth.scope_narrowed`.
    pub(crate) fn narrowings(&self) -> &EventBudget {
        &self.narrowing
    }
}

impl Drop for EventBudgets {
    fn drop(&mut self) {
        let pending = [
            (RejectionKind::Authorize.event_name(), &mut self.authorize),
            (RejectionKind::Token.event_name(), &mut self.token),
            (NARROWED_EVENT, &mut self.narrowing),
        ];
        for (event_name, budget) in pending {
            let suppressed = budget.take_pending();
            if suppressed > 0 {
                event::emit_suppressed_summary(event_name, suppressed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    fn admitted(budget: &EventBudget, now: u64) -> Option<u64> {
        match budget.admit_at(now) {
            Admission::Admitted { suppressed_before } => Some(suppressed_before),
            Admission::Suppressed => None,
        }
    }

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let budget = EventBudget::new(RateLimit::per_second(10).burst(3));
        assert_eq!(admitted(&budget, 0), Some(0));
        assert_eq!(admitted(&budget, 0), Some(0));
        assert_eq!(admitted(&budget, 0), Some(0));
        assert_eq!(admitted(&budget, 0), None);
        assert_eq!(admitted(&budget, SECOND / 20), None);
        // One interval (100 ms) later one more may pass, carrying the count.
        assert_eq!(admitted(&budget, SECOND / 10), Some(2));
        assert_eq!(admitted(&budget, SECOND / 10), None);
    }

    #[test]
    fn over_a_long_run_the_average_is_the_rate() {
        let budget = EventBudget::new(RateLimit::per_second(100).burst(100));
        let mut emitted = 0u64;
        let mut suppressed = 0u64;
        // 10 000 rejections per second for 10 seconds.
        for tick in 0..100_000u64 {
            if let Some(before) = admitted(&budget, tick * SECOND / 10_000) {
                emitted += 1;
                suppressed += before;
            }
        }
        suppressed += budget.suppressed.load(Ordering::Relaxed);
        assert_eq!(
            emitted + suppressed,
            100_000,
            "every rejection is accounted for"
        );
        assert!(
            (1_000..=1_100).contains(&emitted),
            "{emitted} events in 10 s at 100/s + burst 100"
        );
    }

    #[test]
    fn unlimited_admits_everything() {
        let budget = EventBudget::new(RateLimit::unlimited());
        for now in 0..10_000 {
            assert_eq!(admitted(&budget, now), Some(0));
        }
    }

    #[test]
    fn burst_of_one_is_strict_spacing() {
        let budget = EventBudget::new(RateLimit::per_second(2).burst(1));
        assert_eq!(admitted(&budget, 0), Some(0));
        assert_eq!(admitted(&budget, SECOND / 2 - 1), None);
        assert_eq!(admitted(&budget, SECOND / 2), Some(1));
    }

    #[test]
    fn a_quiet_spell_refills_only_up_to_the_burst() {
        let budget = EventBudget::new(RateLimit::per_second(1).burst(2));
        let passed = (0..10)
            .filter(|_| admitted(&budget, 3600 * SECOND).is_some())
            .count();
        assert_eq!(passed, 2);
    }

    #[test]
    #[should_panic(expected = "at least one event per second")]
    fn zero_per_second_is_refused() {
        let _ = RateLimit::per_second(0);
    }
}
