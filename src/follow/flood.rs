//! [`FloodWarning`]: one WARN a minute at most when a store pushes out or
//! refuses authorizations, naming how many and how fast.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::report::TARGET;

/// At most one `oauth.follow.flooded` line per this long.
const LOG_EVERY: Duration = Duration::from_secs(60);
/// A rate is measured over at least this long before it is logged.
const MEASURE_FOR: Duration = Duration::from_secs(1);

/// What a flood did to the store.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Flooded {
    /// Live authorizations pushed out of a full store to make room.
    Evicted,
    /// Authorizations refused over the keep budget (Redis).
    #[cfg(feature = "redis")]
    NotKept,
}

/// Counts what floods did and logs `oauth.follow.flooded` at most once a
/// minute, with the counts since the last line and their rate per second:
/// a store under flood says so without flooding the log itself.
#[derive(Debug, Default)]
pub(crate) struct FloodWarning(Mutex<Window>);

#[derive(Debug, Default)]
struct Window {
    /// When the first event not yet logged happened.
    opened: Option<Instant>,
    last_logged: Option<Instant>,
    evicted: u64,
    not_kept: u64,
}

impl FloodWarning {
    pub(crate) fn note(&self, what: Flooded, by: u64, now: Instant) {
        if by == 0 {
            return;
        }
        let mut window = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let opened = *window.opened.get_or_insert(now);
        match what {
            Flooded::Evicted => window.evicted += by,
            #[cfg(feature = "redis")]
            Flooded::NotKept => window.not_kept += by,
        }
        let measured = now.saturating_duration_since(opened);
        let quiet = window
            .last_logged
            .is_none_or(|last| now.saturating_duration_since(last) >= LOG_EVERY);
        if measured < MEASURE_FOR || !quiet {
            return;
        }
        let seconds = measured.as_secs_f64();
        let (evicted, not_kept) = (window.evicted, window.not_kept);
        *window = Window {
            last_logged: Some(now),
            ..Window::default()
        };
        drop(window);
        tracing::warn!(
            target: TARGET,
            evicted,
            not_kept,
            per_second = ((evicted + not_kept) as f64 / seconds).round() as u64,
            seconds = seconds.round() as u64,
            "oauth.follow.flooded"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn one_line_a_minute_with_the_rate() {
        let lines = std::sync::Arc::new(Mutex::new(Vec::<String>::new()));
        let writer = {
            let lines = lines.clone();
            move || Line(lines.clone())
        };
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false)
                .without_time(),
        );
        let start = Instant::now();
        tracing::subscriber::with_default(subscriber, || {
            let warning = FloodWarning::default();
            // 100 a second for two minutes.
            for tick in 0..12_000u64 {
                let now = start + Duration::from_millis(tick * 10);
                warning.note(Flooded::Evicted, 1, now);
            }
        });
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains("evicted=101"), "{}", lines[0]);
        assert!(lines[0].contains("per_second=101"), "{}", lines[0]);
        assert!(lines[1].contains("per_second=100"), "{}", lines[1]);
        assert!(lines[1].contains("oauth.follow.flooded"), "{}", lines[1]);
    }

    struct Line(std::sync::Arc<Mutex<Vec<String>>>);

    impl std::io::Write for Line {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(bytes).into_owned());
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
