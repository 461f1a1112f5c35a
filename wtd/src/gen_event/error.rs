//! What can go wrong with an event manager or one of its handlers.

use super::handler::HandlerId;
use crate::process::{ExitReason, ProcessError};

/// Everything that can go wrong adding, removing, swapping or calling a handler, or
/// notifying a manager. `Debug` prints the same sentence as `Display`.
#[derive(thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventError {
    /// The manager has no handler with this id: it was never added there, or it has
    /// left (removed, swapped, crashed, or its adder ended).
    #[error(
        "{id} is not in this event manager: it has been removed, swapped or has crashed; add a handler again if you need one"
    )]
    NoSuchHandler {
        /// The handler asked for.
        id: HandlerId,
    },

    /// The handler's `init` refused it, or panicked; it was not added.
    #[error("the handler was not added: its init returned {reason}")]
    HandlerInitFailed {
        /// What `init` returned, or its panic.
        reason: ExitReason,
    },

    /// The function given to `call` panicked: the handler was removed as crashed.
    #[error("{id} panicked during the call ({message}) and was removed from the manager")]
    HandlerCrashed {
        /// The handler, now removed.
        id: HandlerId,
        /// The panic's message.
        message: String,
    },

    /// The manager itself could not be reached, or did not answer in time.
    #[error(transparent)]
    Manager(#[from] ProcessError),
}

impl std::fmt::Debug for EventError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
