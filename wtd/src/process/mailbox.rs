//! A process's mailbox: a bounded queue of messages, plus the exit and down signals that
//! arrive as messages.
//!
//! # Bounded, unlike Erlang's
//!
//! An Erlang mailbox grows without limit: a process that falls behind eats the node's
//! memory until the node dies, taking every other process with it. A WTD mailbox holds
//! at most `capacity` ordinary messages ([`DEFAULT_MAILBOX_CAPACITY`](super::DEFAULT_MAILBOX_CAPACITY)
//! unless the spawn said otherwise), and a send to a full mailbox fails at once with
//! [`ProcessError::MailboxFull`]: the sender learns that its receiver is behind and decides
//! what to do (wait, drop, report). The remote half of WTD needs this even more: a friend's
//! node must never be able to grow our memory.
//!
//! Exit and down signals are not counted against the capacity, so a full mailbox never
//! loses the news that a partner died. They stay bounded all the same: a monitor delivers
//! one `Down` and is gone, a link one `Exit`, and `exit` is only callable by code in this
//! program (a remote holder of a Pid can send messages, never exit signals).
//!
//! # Why a deque and not a channel
//!
//! A tokio channel can only hand out its oldest item. Erlang's *selective receive* takes
//! the first message that matches a pattern and leaves the others in place, in order. A
//! `VecDeque` under a mutex, with a [`Notify`] to wake the one receiver, does both in a
//! few lines.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::{Notify, watch};

use super::error::ProcessError;
use super::exit::{Down, Exit, ExitReason};

/// What a process receives: a message someone sent it, or a signal turned into a message.
#[derive(Debug)]
pub enum Received<M> {
    /// An ordinary message, sent with [`Pid::send`](super::Pid::send).
    Message(M),
    /// A linked partner ended, or someone called `exit` on this process; only delivered
    /// while the process traps exits.
    Exit(Exit),
    /// A process this one monitors ended.
    Down(Down),
}

impl<M> Received<M> {
    /// The ordinary message, if this is one.
    pub fn message(self) -> Option<M> {
        match self {
            Received::Message(message) => Some(message),
            _ => None,
        }
    }
}

/// The queue every [`Pid`](super::Pid) of one process points at.
pub(crate) struct Mailbox<M> {
    state: Mutex<State<M>>,
    /// Wakes the process when something arrives. `notify_one` keeps a permit when the
    /// process is not waiting yet, so an arrival between "found nothing" and "wait" is
    /// never missed.
    arrived: Notify,
    /// `None` while the process lives; its exit reason afterwards. A watch channel, so a
    /// caller waiting for a server to end (`stop`, a call whose server crashed) can wait.
    exited: watch::Sender<Option<ExitReason>>,
    /// How many ordinary messages may wait at once.
    capacity: usize,
}

struct State<M> {
    queue: VecDeque<Received<M>>,
    /// How many entries of `queue` are ordinary messages (the ones the capacity counts).
    messages: usize,
    closed: bool,
}

impl<M> Mailbox<M> {
    pub(crate) fn new(capacity: usize) -> Self {
        Mailbox {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                messages: 0,
                closed: false,
            }),
            arrived: Notify::new(),
            exited: watch::Sender::new(None),
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> MutexGuard<'_, State<M>> {
        // A receiver's match function may panic while we hold the lock; the queue itself
        // is still consistent then, so a poisoned lock is used as is.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues an ordinary message, or says why not. `describe` names the process for the
    /// error (built only when needed).
    pub(crate) fn push_message(
        &self,
        message: M,
        describe: impl FnOnce() -> String,
    ) -> Result<(), ProcessError> {
        let mut state = self.lock();
        if state.closed {
            return Err(ProcessError::NotAlive { pid: describe() });
        }
        if state.messages >= self.capacity {
            return Err(ProcessError::MailboxFull {
                pid: describe(),
                capacity: self.capacity,
            });
        }
        state.queue.push_back(Received::Message(message));
        state.messages += 1;
        drop(state);
        self.arrived.notify_one();
        Ok(())
    }

    /// Queues an exit or down signal; dropped if the process has ended.
    pub(crate) fn push_signal(&self, signal: Received<M>) {
        let mut state = self.lock();
        if state.closed {
            return;
        }
        state.queue.push_back(signal);
        drop(state);
        self.arrived.notify_one();
    }

    /// Removes and returns the oldest entry `wanted` accepts, leaving the others in order.
    pub(crate) fn take_first(
        &self,
        wanted: &mut impl FnMut(&Received<M>) -> bool,
    ) -> Option<Received<M>> {
        let mut state = self.lock();
        let index = state.queue.iter().position(wanted)?;
        let taken = state.queue.remove(index)?;
        if matches!(taken, Received::Message(_)) {
            state.messages -= 1;
        }
        Some(taken)
    }

    /// Removes the `Down` of one monitor, if it already arrived (for `demonitor`).
    pub(crate) fn remove_down(&self, monitor: super::MonitorRef) {
        self.lock()
            .queue
            .retain(|entry| !matches!(entry, Received::Down(down) if down.monitor == monitor));
    }

    /// Waits until something new may have arrived.
    pub(crate) async fn arrival(&self) {
        self.arrived.notified().await;
    }

    /// Marks the process as ended: later sends fail with `NotAlive`, and whoever waits
    /// for the exit learns the reason. Returns what was still queued, for the caller to
    /// drop outside the lock (dropping a queued call wakes its caller). The first reason
    /// given is the one kept.
    pub(crate) fn close(&self, reason: &ExitReason) -> VecDeque<Received<M>> {
        let mut state = self.lock();
        state.closed = true;
        state.messages = 0;
        let left = std::mem::take(&mut state.queue);
        self.exited.send_if_modified(|exited| {
            if exited.is_none() {
                *exited = Some(reason.clone());
                true
            } else {
                false
            }
        });
        left
    }

    /// The exit reason, once the process has ended.
    pub(crate) fn exit_reason(&self) -> Option<ExitReason> {
        self.exited.borrow().clone()
    }

    /// Waits until the process has ended, and says why.
    pub(crate) async fn wait_exit(&self) -> ExitReason {
        let mut exited = self.exited.subscribe();
        match exited.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or(ExitReason::NoProc),
            // The sender lives inside `self`, so it cannot be gone while we borrow it.
            Err(_) => ExitReason::NoProc,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> String {
        "<test.1>".into()
    }

    #[test]
    fn a_full_mailbox_refuses_messages_but_not_signals() {
        let mailbox = Mailbox::new(2);
        assert!(mailbox.push_message(1, name).is_ok());
        assert!(mailbox.push_message(2, name).is_ok());
        assert!(matches!(
            mailbox.push_message(3, name),
            Err(ProcessError::MailboxFull { capacity: 2, .. })
        ));
        mailbox.push_signal(Received::Exit(Exit {
            from: None,
            reason: ExitReason::Shutdown,
        }));
        // Taking one message makes room for one more.
        assert!(matches!(
            mailbox.take_first(&mut |_| true),
            Some(Received::Message(1))
        ));
        assert!(mailbox.push_message(4, name).is_ok());
    }

    #[test]
    fn selective_take_leaves_the_others_in_order() {
        let mailbox = Mailbox::new(8);
        for n in 1..=4 {
            assert!(mailbox.push_message(n, name).is_ok());
        }
        let even = mailbox.take_first(&mut |r| matches!(r, Received::Message(n) if n % 2 == 0));
        assert!(matches!(even, Some(Received::Message(2))));
        let rest: Vec<i32> = std::iter::from_fn(|| mailbox.take_first(&mut |_| true))
            .filter_map(Received::message)
            .collect();
        assert_eq!(rest, vec![1, 3, 4]);
    }

    #[test]
    fn a_closed_mailbox_refuses_and_keeps_the_first_reason() {
        let mailbox = Mailbox::new(8);
        assert!(mailbox.push_message(1, name).is_ok());
        let left = mailbox.close(&ExitReason::Killed);
        assert_eq!(left.len(), 1);
        let _ = mailbox.close(&ExitReason::Normal);
        assert_eq!(mailbox.exit_reason(), Some(ExitReason::Killed));
        assert!(matches!(
            mailbox.push_message(2, name),
            Err(ProcessError::NotAlive { .. })
        ));
    }
}
