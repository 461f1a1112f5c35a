//! Links, monitors and exit signals: how the end of one process reaches others.
//!
//! * A **link** ties two processes' fates, both ways. When one ends abnormally, the other
//!   gets an *exit signal* with the same reason: if it traps exits, the signal arrives as
//!   an [`Exit`] message; if not, it ends too, with that reason (and its own links carry
//!   the news further). A normal exit is harmless to partners that do not trap exits.
//! * A **monitor** watches one way and never kills: when the watched process ends, for
//!   whatever reason, the watcher gets one [`Down`] message. Monitoring a process that has
//!   already ended gives `Down` with [`ExitReason::NoProc`] at once, so there is no race
//!   between "is it alive?" and "tell me when it dies".
//! * [`ProcessTable::exit`] sends an exit signal by hand, as Erlang's `exit(Pid, Reason)`;
//!   with [`ExitReason::Killed`] it cannot be trapped (Erlang's `kill`).
//!
//! Erlang delivers signals asynchronously; here a signal is applied under the table lock
//! the moment it is sent. A killed process stops at its next `.await`: code that never
//! awaits (a busy loop) cannot be killed, just as a tokio task cannot be cancelled there.

use super::exit::{Down, Exit, ExitReason, MonitorRef};
use super::pid::{Pid, ProcessId};
use super::table::{Entry, ProcessTable, TableState};

impl Entry {
    /// Applies an exit signal from `from` to this process.
    fn exit_signal(&self, from: Option<ProcessId>, reason: &ExitReason, untrappable: bool) {
        if untrappable {
            self.kill(ExitReason::Killed);
        } else if self.trap_exit {
            self.signals.exit(Exit {
                from,
                reason: reason.clone(),
            });
        } else if !reason.is_normal() {
            self.kill(reason.clone());
        }
    }
}

impl TableState {
    /// Takes an ended process out of the table and tells its partners and watchers.
    pub(crate) fn remove_exited(&mut self, id: ProcessId, reason: &ExitReason) {
        let Some(entry) = self.processes.remove(&id) else {
            return;
        };
        if let Some(name) = &entry.name {
            self.names.remove(name);
        }
        for partner in &entry.links {
            if let Some(partner) = self.processes.get_mut(partner) {
                partner.links.remove(&id);
                partner.exit_signal(Some(id), reason, false);
            }
        }
        for (monitor, watcher) in &entry.watchers {
            if let Some(watcher) = self.processes.get_mut(watcher) {
                watcher.watching.remove(monitor);
                watcher.signals.down(Down {
                    monitor: *monitor,
                    process: id,
                    reason: reason.clone(),
                });
            }
        }
        for (monitor, watched) in &entry.watching {
            if let Some(watched) = self.processes.get_mut(watched) {
                watched.watchers.remove(monitor);
            }
        }
        for watch in entry.watching_remote.values() {
            watch.abort();
        }
    }

    /// Links `a` and `b`. If `b` has ended, `a` gets an exit signal `NoProc` instead,
    /// as in Erlang (which kills `a` unless it traps exits).
    pub(crate) fn link(&mut self, a: ProcessId, b: ProcessId) {
        if a == b || !self.processes.contains_key(&a) {
            return;
        }
        match self.processes.get_mut(&b) {
            Some(partner) => {
                partner.links.insert(a);
            }
            None => {
                if let Some(me) = self.processes.get(&a) {
                    me.exit_signal(Some(b), &ExitReason::NoProc, false);
                }
                return;
            }
        }
        if let Some(me) = self.processes.get_mut(&a) {
            me.links.insert(b);
        }
    }
}

impl ProcessTable {
    /// Sends an exit signal to `pid`, as Erlang's `exit(Pid, Reason)` from outside any
    /// process (inside one, use [`Process::exit`](super::Process::exit)).
    ///
    /// [`ExitReason::Killed`] always ends the process. Any other abnormal reason ends it
    /// unless it traps exits, in which case it gets an [`Exit`] message;
    /// [`ExitReason::Normal`] is ignored unless it traps exits. Nothing happens if the
    /// process has already ended.
    pub fn exit<N>(&self, pid: &Pid<N>, reason: ExitReason) {
        self.send_exit(None, pid.id(), reason);
    }

    pub(crate) fn send_exit(&self, from: Option<ProcessId>, to: ProcessId, reason: ExitReason) {
        let state = self.lock();
        if let Some(target) = state.processes.get(&to) {
            let untrappable = reason == ExitReason::Killed;
            target.exit_signal(from, &reason, untrappable);
        }
    }

    pub(crate) fn link(&self, a: ProcessId, b: ProcessId) {
        self.lock().link(a, b);
    }

    pub(crate) fn unlink(&self, a: ProcessId, b: ProcessId) {
        let mut state = self.lock();
        if let Some(me) = state.processes.get_mut(&a) {
            me.links.remove(&b);
        }
        if let Some(partner) = state.processes.get_mut(&b) {
            partner.links.remove(&a);
        }
    }

    pub(crate) fn set_trap_exit(&self, id: ProcessId, on: bool) {
        if let Some(me) = self.lock().processes.get_mut(&id) {
            me.trap_exit = on;
        }
    }

    /// `watcher` starts monitoring `watched`; if `watched` has ended, `watcher` gets its
    /// `Down` (reason `NoProc`) at once.
    pub(crate) fn monitor(&self, watcher: ProcessId, watched: ProcessId) -> MonitorRef {
        let monitor = self.next_monitor();
        let mut state = self.lock();
        match state.processes.get_mut(&watched) {
            Some(target) => {
                target.watchers.insert(monitor, watcher);
                if let Some(me) = state.processes.get_mut(&watcher) {
                    me.watching.insert(monitor, watched);
                }
            }
            None => {
                if let Some(me) = state.processes.get(&watcher) {
                    me.signals.down(Down {
                        monitor,
                        process: watched,
                        reason: ExitReason::NoProc,
                    });
                }
            }
        }
        monitor
    }

    /// Records a monitor `watcher` set on a process of another node, watched by the task
    /// `watch`; if `watcher` has ended, stops the task at once.
    pub(crate) fn monitor_remote(
        &self,
        watcher: ProcessId,
        monitor: MonitorRef,
        watch: tokio::task::AbortHandle,
    ) {
        match self.lock().processes.get_mut(&watcher) {
            Some(me) => {
                me.watching_remote.insert(monitor, watch);
            }
            None => watch.abort(),
        }
    }

    /// Delivers the one `Down` of a monitor on a process of another node, unless the
    /// watcher demonitored (or ended) meanwhile.
    pub(crate) fn remote_down(&self, watcher: ProcessId, down: Down) {
        let mut state = self.lock();
        if let Some(me) = state.processes.get_mut(&watcher)
            && me.watching_remote.remove(&down.monitor).is_some()
        {
            me.signals.down(down);
        }
    }

    /// Removes a monitor `watcher` set. The caller also removes a `Down` that already
    /// arrived (see `Process::demonitor`).
    pub(crate) fn demonitor(&self, watcher: ProcessId, monitor: MonitorRef) {
        let mut state = self.lock();
        if let Some(watch) = state
            .processes
            .get_mut(&watcher)
            .and_then(|me| me.watching_remote.remove(&monitor))
        {
            watch.abort();
            return;
        }
        let watched = state
            .processes
            .get_mut(&watcher)
            .and_then(|me| me.watching.remove(&monitor));
        if let Some(target) = watched.and_then(|id| state.processes.get_mut(&id)) {
            target.watchers.remove(&monitor);
        }
    }
}
