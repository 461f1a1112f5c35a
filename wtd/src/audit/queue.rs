//! The audit log's writer: one thread, fed by a bounded queue.
//!
//! The task that answered a call only queues its entry (a lock, a push, at most one
//! wake-up) and goes on serving; the writer formats the JSON and appends it, many
//! entries per write. A reply never waits for a disk, and under load the log costs one
//! write for a batch of calls instead of one per call.
//!
//! Woken by an entry, the writer lets more come for [`GATHER`] before it writes. Waking
//! a thread costs context switches, on a small machine more than appending one line
//! (measured on two cores: a writer woken for every call cost ~1.3 more context switches
//! and ~8 % more CPU per call than writing inline; docs/PERFORMANCE.md); gathering makes
//! it one wake-up for many calls. Whoever waits for the writer (a flush, a close, a queue
//! half full) wakes it at once.
//!
//! The queue is bounded, twice: [`QUEUED_CALLS`] entries of calls that ran and, apart,
//! [`QUEUED_REFUSALS`] refusals, so refusals can never take a call's place here either.
//! An entry that finds its part full is counted, never waited for: a call that ran in a
//! `CallsNotLogged` line in `audit.log`, written as soon as the writer catches up; a
//! refusal in the refusals' `NotLogged` count.
//!
//! The writer starts with the first entry (a program that only reads a log has none).
//! [`EntryQueue::flush`] waits until what was queued before it is written, and
//! [`EntryQueue::close`] writes everything queued and stops the writer; both wait at most
//! [`WRITER_WAIT`], so a disk that hangs cannot hang the node's stop. Once closed, an
//! entry is written by the thread that records it, as before there was a writer.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{AuditEntry, Files};

/// Entries of calls that ran that may wait for the writer (a few hundred bytes each).
pub const QUEUED_CALLS: usize = 4096;

/// Refusals that may wait for the writer, apart from the calls that ran. Above the
/// refusal burst, so only a writer stalled for half a minute drops one.
pub const QUEUED_REFUSALS: usize = 1024;

/// Longest a flush or a close waits for the writer.
pub const WRITER_WAIT: Duration = Duration::from_secs(5);

/// How long the writer, woken by an entry, lets more come before it writes them all.
pub const GATHER: Duration = Duration::from_millis(10);

/// What recording an entry came to.
pub(super) enum Pushed {
    /// The writer will write it.
    Queued,
    /// Its part of the queue was full: a call that ran is counted here; a refusal is
    /// the caller's to count (in the refusal budget).
    Full(AuditEntry),
    /// There is no writer (closed, or its thread could not start): write it now.
    WriteNow(AuditEntry),
}

/// The bounded queue and its writer thread.
pub(super) struct EntryQueue {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the writer: an entry arrived, or the queue is closing.
    arrived: Condvar,
    /// Wakes whoever waits in a flush or a close: the writer finished a batch, or ended.
    written: Condvar,
}

#[derive(Default)]
struct State {
    entries: VecDeque<(AuditEntry, bool)>,
    /// Of `entries`, how many are calls that ran (the rest are refusals).
    calls: usize,
    /// Calls that ran that found the queue full since the writer last looked.
    calls_lost: u64,
    /// Work handed to the writer so far (entries queued and calls counted); a flush
    /// waits until `done` reaches what it saw here.
    seen: u64,
    /// Work the writer has finished.
    done: u64,
    /// The writer waits for an entry: the next one must wake it.
    idle: bool,
    /// Someone waits for the writer (a flush, or a queue half full): write now, without
    /// gathering.
    hurry: bool,
    writer: Writer,
}

#[derive(Default)]
enum Writer {
    /// No entry yet, so no thread.
    #[default]
    NotStarted,
    Running(JoinHandle<()>),
    /// Asked to write what is queued and end.
    Closing,
    /// Ended (or never could start): entries are written by whoever records them.
    Closed,
}

impl EntryQueue {
    pub(super) fn new() -> EntryQueue {
        EntryQueue {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                arrived: Condvar::new(),
                written: Condvar::new(),
            }),
        }
    }

    /// Queues `entry` for the writer of `files` (started now if this is the first);
    /// `ran`: it is a call whose function ran.
    pub(super) fn push(&self, entry: AuditEntry, ran: bool, files: &Arc<Files>) -> Pushed {
        let mut state = self.shared.lock();
        match state.writer {
            Writer::NotStarted => match self.start(files) {
                Ok(writer) => state.writer = Writer::Running(writer),
                Err(e) => {
                    tracing::warn!(
                        "cannot start the audit log's writer (each entry is written as it comes): {e}"
                    );
                    state.writer = Writer::Closed;
                    return Pushed::WriteNow(entry);
                }
            },
            Writer::Running(_) => {}
            Writer::Closing | Writer::Closed => return Pushed::WriteNow(entry),
        }
        let refusals = state.entries.len() - state.calls;
        if ran && state.calls >= QUEUED_CALLS {
            state.calls_lost += 1;
            state.seen += 1;
            if std::mem::take(&mut state.idle) {
                self.shared.arrived.notify_one();
            }
            return Pushed::Full(entry);
        }
        if !ran && refusals >= QUEUED_REFUSALS {
            return Pushed::Full(entry);
        }
        state.entries.push_back((entry, ran));
        state.calls += usize::from(ran);
        state.seen += 1;
        let half_full = state.calls >= QUEUED_CALLS / 2
            || state.entries.len() - state.calls >= QUEUED_REFUSALS / 2;
        if half_full && !state.hurry {
            state.hurry = true;
            self.shared.arrived.notify_one();
        } else if std::mem::take(&mut state.idle) {
            self.shared.arrived.notify_one();
        }
        Pushed::Queued
    }

    fn start(&self, files: &Arc<Files>) -> std::io::Result<JoinHandle<()>> {
        let (shared, files) = (self.shared.clone(), files.clone());
        std::thread::Builder::new()
            .name("wtd-audit".into())
            .spawn(move || shared.write_until_closed(&files))
    }

    /// Waits until every entry queued before this call is written (at most
    /// [`WRITER_WAIT`]).
    pub(super) fn flush(&self) {
        let deadline = Instant::now() + WRITER_WAIT;
        let mut state = self.shared.lock();
        let wanted = state.seen;
        if state.done < wanted {
            state.hurry = true;
            self.shared.arrived.notify_one();
        }
        while state.done < wanted && matches!(state.writer, Writer::Running(_) | Writer::Closing) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::warn!("the audit log's writer is behind; reading without waiting");
                return;
            }
            state = self.shared.wait(&self.shared.written, state, left);
        }
    }

    /// Writes everything queued, stops the writer and waits for it (at most
    /// [`WRITER_WAIT`]; then it is left to finish on its own). Later entries are written
    /// by whoever records them.
    pub(super) fn close(&self) {
        let deadline = Instant::now() + WRITER_WAIT;
        let mut state = self.shared.lock();
        let writer = match std::mem::replace(&mut state.writer, Writer::Closing) {
            Writer::Running(writer) => writer,
            Writer::NotStarted | Writer::Closed => {
                state.writer = Writer::Closed;
                return;
            }
            Writer::Closing => return,
        };
        state.hurry = true;
        self.shared.arrived.notify_one();
        while !matches!(state.writer, Writer::Closed) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::warn!(
                    "the audit log's writer did not finish within {WRITER_WAIT:?}; not waiting longer"
                );
                return;
            }
            state = self.shared.wait(&self.shared.written, state, left);
        }
        drop(state);
        let _ = writer.join();
    }

    /// How many entries wait for the writer.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.shared.lock().entries.len()
    }

    /// Whether a close is waiting for the writer.
    #[cfg(test)]
    pub(super) fn closing(&self) -> bool {
        matches!(self.shared.lock().writer, Writer::Closing)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait<'a>(
        &self,
        condvar: &Condvar,
        state: MutexGuard<'a, State>,
        at_most: Duration,
    ) -> MutexGuard<'a, State> {
        match condvar.wait_timeout(state, at_most) {
            Ok((state, _)) => state,
            Err(poisoned) => poisoned.into_inner().0,
        }
    }

    /// The writer thread: waits for an entry, gathers more for [`GATHER`] (unless
    /// hurried), takes everything queued at once, writes it, and again, until the queue
    /// closes and is empty.
    fn write_until_closed(&self, files: &Files) {
        loop {
            let mut state = self.lock();
            while state.entries.is_empty() && state.calls_lost == 0 {
                if matches!(state.writer, Writer::Closing) {
                    state.writer = Writer::Closed;
                    drop(state);
                    files.write_pending_summary();
                    self.written.notify_all();
                    return;
                }
                state.idle = true;
                state = match self.arrived.wait(state) {
                    Ok(state) => state,
                    Err(poisoned) => poisoned.into_inner(),
                };
            }
            state.idle = false;
            if !state.hurry && matches!(state.writer, Writer::Running(_)) {
                state = self.wait(&self.arrived, state, GATHER);
            }
            state.hurry = false;
            let batch = std::mem::take(&mut state.entries);
            let calls_lost = std::mem::take(&mut state.calls_lost);
            state.calls = 0;
            let upto = state.seen;
            drop(state);
            files.write_batch(batch, calls_lost);
            self.lock().done = upto;
            self.written.notify_all();
        }
    }
}
