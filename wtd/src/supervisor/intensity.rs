//! [`RestartLog`]: the restarts a supervisor made recently, to tell when it has made too
//! many (its [`Intensity`]) and must give up.

use std::collections::VecDeque;

use tokio::time::Instant;

use super::behaviour::Intensity;

/// When the recent restarts happened. Holds at most `max_restarts + 1` instants: past
/// that the supervisor gives up, so the log never grows.
#[derive(Debug)]
pub(crate) struct RestartLog {
    intensity: Intensity,
    restarts: VecDeque<Instant>,
}

impl RestartLog {
    pub(crate) fn new(intensity: Intensity) -> Self {
        RestartLog {
            intensity,
            restarts: VecDeque::new(),
        }
    }

    pub(crate) fn intensity(&self) -> Intensity {
        self.intensity
    }

    /// Records a restart at `now`; `false` if that makes more than `max_restarts` within
    /// the last `period`, so the supervisor must give up instead.
    pub(crate) fn record(&mut self, now: Instant) -> bool {
        let period = self.intensity.period;
        while self
            .restarts
            .front()
            .is_some_and(|first| now.duration_since(*first) >= period)
        {
            self.restarts.pop_front();
        }
        self.restarts.push_back(now);
        self.restarts.len() <= self.intensity.max_restarts as usize
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn log(max_restarts: u32, secs: u64) -> RestartLog {
        RestartLog::new(Intensity {
            max_restarts,
            period: Duration::from_secs(secs),
        })
    }

    #[test]
    fn more_than_max_restarts_within_the_period_is_too_many() {
        let start = Instant::now();
        let mut log = log(2, 5);
        assert!(log.record(start));
        assert!(log.record(start + Duration::from_secs(1)));
        assert!(!log.record(start + Duration::from_secs(2)));
    }

    #[test]
    fn restarts_older_than_the_period_no_longer_count() {
        let start = Instant::now();
        let mut log = log(1, 5);
        assert!(log.record(start));
        assert!(log.record(start + Duration::from_secs(5)));
        assert!(log.record(start + Duration::from_secs(10)));
        assert!(!log.record(start + Duration::from_secs(11)));
    }

    #[test]
    fn zero_restarts_gives_up_at_the_first() {
        assert!(!log(0, 5).record(Instant::now()));
    }
}
