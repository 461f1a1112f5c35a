//! The three kinds of timeout a state machine keeps, and which fires next.
//!
//! They live in the machine's own loop, as deadlines, not as tasks: the loop waits for
//! its mailbox at most until the earliest one, so a timeout is one comparison, costs
//! no task, and can never fire after it was cancelled. (Deadlines use tokio's clock, so
//! tests under `tokio::time::pause` run them instantly.)

use std::time::Duration;

use tokio::time::Instant;

use super::transition::TimerAction;

/// A timeout that came due.
pub(crate) enum Fired<T> {
    State(T),
    Named(&'static str, T),
    Event(T),
}

pub(crate) struct Timers<T> {
    /// Cancelled by a state change.
    state: Option<(Instant, T)>,
    /// Generic timeouts by name; they survive state changes. As many as the program has
    /// names for them, so few.
    named: Vec<(&'static str, Instant, T)>,
    /// Cancelled by any event.
    event: Option<(Instant, T)>,
}

impl<T> Timers<T> {
    pub(crate) fn new() -> Self {
        Timers {
            state: None,
            named: Vec::new(),
            event: None,
        }
    }

    pub(crate) fn apply(&mut self, action: TimerAction<T>) {
        let at = |after: Duration| Instant::now() + after;
        match action {
            TimerAction::State(after, msg) => self.state = Some((at(after), msg)),
            TimerAction::CancelState => self.state = None,
            TimerAction::Named(name, after, msg) => {
                self.named.retain(|(n, ..)| *n != name);
                self.named.push((name, at(after), msg));
            }
            TimerAction::CancelNamed(name) => self.named.retain(|(n, ..)| *n != name),
            TimerAction::Event(after, msg) => self.event = Some((at(after), msg)),
        }
    }

    pub(crate) fn cancel_state(&mut self) {
        self.state = None;
    }

    pub(crate) fn cancel_event(&mut self) {
        self.event = None;
    }

    /// The earliest deadline of all.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let state = self.state.as_ref().map(|(at, _)| *at);
        let event = self.event.as_ref().map(|(at, _)| *at);
        let named = self.named.iter().map(|(_, at, _)| *at);
        state.into_iter().chain(event).chain(named).min()
    }

    /// Takes the earliest timeout due by `now`. The event timeout only if
    /// `with_event`: it fires only when the mailbox stayed empty until then.
    pub(crate) fn take_due(&mut self, now: Instant, with_event: bool) -> Option<Fired<T>> {
        let state = self.state.as_ref().map(|(at, _)| *at);
        let event = self
            .event
            .as_ref()
            .map(|(at, _)| *at)
            .filter(|_| with_event);
        let named = self
            .named
            .iter()
            .enumerate()
            .min_by_key(|(_, (_, at, _))| *at)
            .map(|(i, (_, at, _))| (i, *at));
        let earliest = [state, event, named.map(|(_, at)| at)]
            .into_iter()
            .flatten()
            .min()
            .filter(|at| *at <= now)?;
        if state == Some(earliest) {
            return self.state.take().map(|(_, msg)| Fired::State(msg));
        }
        if let Some((i, at)) = named
            && at == earliest
        {
            let (name, _, msg) = self.named.remove(i);
            return Some(Fired::Named(name, msg));
        }
        self.event.take().map(|(_, msg)| Fired::Event(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_earliest_due_fires_first_and_the_event_timeout_only_when_asked() {
        let mut timers = Timers::new();
        timers.apply(TimerAction::Named("b", Duration::from_secs(2), 'b'));
        timers.apply(TimerAction::State(Duration::from_secs(3), 's'));
        timers.apply(TimerAction::Event(Duration::from_secs(1), 'e'));
        timers.apply(TimerAction::Named("a", Duration::from_secs(4), 'a'));
        assert!(
            timers.take_due(Instant::now(), true).is_none(),
            "nothing due yet"
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        let now = Instant::now();
        let mut order = Vec::new();
        while let Some(fired) = timers.take_due(now, false) {
            order.push(match fired {
                Fired::State(c) | Fired::Named(_, c) | Fired::Event(c) => c,
            });
        }
        assert_eq!(
            order,
            vec!['b', 's', 'a'],
            "the event timeout waits to be asked"
        );
        assert!(matches!(
            timers.take_due(now, true),
            Some(Fired::Event('e'))
        ));
        assert!(timers.next_deadline().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_name_set_again_restarts_and_cancel_removes() {
        let mut timers = Timers::new();
        timers.apply(TimerAction::Named("t", Duration::from_secs(1), 1));
        timers.apply(TimerAction::Named("t", Duration::from_secs(5), 2));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(
            timers.take_due(Instant::now(), true).is_none(),
            "restarted at 5 s"
        );
        tokio::time::advance(Duration::from_secs(4)).await;
        assert!(matches!(
            timers.take_due(Instant::now(), true),
            Some(Fired::Named("t", 2))
        ));
        timers.apply(TimerAction::Named("t", Duration::from_secs(1), 3));
        timers.apply(TimerAction::CancelNamed("t"));
        assert!(timers.next_deadline().is_none());
    }
}
