//! Registered names: find a process by a name instead of passing its Pid around, as
//! Erlang's `register`, `whereis` and `unregister`.
//!
//! A name belongs to one living process; a process has at most one name; a name is freed
//! the moment its process ends, so `whereis` never hands out a Pid of a dead process under
//! a name (it may die right after, of course: monitor it). Names follow the same rules as
//! node and mission names (1-64 characters of `a-z`, `0-9`, `_`, `-`), because a named
//! server is what other nodes will call.

use std::sync::Arc;

use super::error::ProcessError;
use super::mailbox::Mailbox;
use super::pid::Pid;
use super::table::ProcessTable;

impl ProcessTable {
    /// Gives `pid`'s process the name `name` on this node.
    ///
    /// Fails if the name is malformed ([`ProcessError::BadName`]), taken
    /// ([`ProcessError::NameTaken`]), the process already has a name
    /// ([`ProcessError::AlreadyNamed`]) or has ended ([`ProcessError::NotAlive`]).
    pub fn register<M>(&self, name: &str, pid: &Pid<M>) -> Result<(), ProcessError> {
        if crate::wire::names::check_name("process", name).is_err() {
            return Err(ProcessError::BadName {
                name: name.chars().take(80).collect(),
            });
        }
        let mut state = self.lock();
        if state.names.contains_key(name) {
            return Err(ProcessError::NameTaken {
                name: name.to_string(),
            });
        }
        let Some(entry) = state.processes.get_mut(&pid.id()) else {
            return Err(ProcessError::NotAlive {
                pid: pid.to_string(),
            });
        };
        if let Some(existing) = &entry.name {
            return Err(ProcessError::AlreadyNamed {
                pid: pid.to_string(),
                name: existing.clone(),
            });
        }
        entry.name = Some(name.to_string());
        state.names.insert(name.to_string(), pid.id());
        Ok(())
    }

    /// Frees `name`; its process keeps running. Returns whether the name was registered.
    pub fn unregister(&self, name: &str) -> bool {
        let mut state = self.lock();
        let Some(id) = state.names.remove(name) else {
            return false;
        };
        if let Some(entry) = state.processes.get_mut(&id) {
            entry.name = None;
        }
        true
    }

    /// The process registered as `name`, as a `Pid` of the message type you expect.
    ///
    /// Fails with [`ProcessError::NotRegistered`] if no living process has the name, and
    /// with [`ProcessError::WrongMessageType`] if its process takes other messages than
    /// `M` (Erlang would let you send it anything; here the types must agree).
    pub fn whereis<M: Send + 'static>(&self, name: &str) -> Result<Pid<M>, ProcessError> {
        let state = self.lock();
        let entry = state
            .names
            .get(name)
            .and_then(|id| state.processes.get(id).map(|entry| (*id, entry)));
        let Some((id, entry)) = entry else {
            return Err(ProcessError::NotRegistered {
                name: name.to_string(),
            });
        };
        match Arc::downcast::<Mailbox<M>>(entry.mailbox.clone()) {
            Ok(mailbox) => Ok(Pid::new(self.node_name(), id, mailbox)),
            Err(_) => Err(ProcessError::WrongMessageType {
                name: name.to_string(),
                expected: std::any::type_name::<M>(),
                actual: entry.message_type,
            }),
        }
    }
}
