//! What a supervisor tells about its children ([`ChildInfo`], [`ChildCounts`]) and why
//! it refuses an operation on one ([`ChildError`]). All three travel to other nodes.

use serde::{Deserialize, Serialize};

use super::child_spec::{ChildKind, Restart};

/// One child, as `which_children` lists it (OTP's `{Id, Child, Type, Modules}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildInfo {
    /// Its id in the supervisor.
    pub id: String,
    /// Its process as `<node.id>` while it runs; `None` while it does not (it ended
    /// and is not to be restarted, or was terminated). Text to read: it is not a right
    /// to message the process.
    pub pid: Option<String>,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// When it is restarted.
    pub restart: Restart,
}

/// How many children a supervisor has, as `count_children` says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildCounts {
    /// Every child spec it holds, running or not.
    pub specs: usize,
    /// The children running now.
    pub active: usize,
    /// The specs of supervisors.
    pub supervisors: usize,
    /// The specs of workers.
    pub workers: usize,
}

/// Why a supervisor refused an operation on a child. Each is a sentence saying what to
/// do instead.
#[derive(thiserror::Error, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ChildError {
    /// No child has this id.
    #[error("the supervisor has no child `{id}`: which_children lists the ones it has")]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// The child runs, and the operation needs it stopped.
    #[error(
        "child `{id}` is running: terminate_child it first (a restart_child or delete_child is for a child that is not running)"
    )]
    Running {
        /// The child.
        id: String,
    },
    /// `start_child` with the id of a child the supervisor already has.
    #[error(
        "the supervisor already has a child `{id}`: pick another id, or restart_child that one"
    )]
    AlreadyPresent {
        /// The id.
        id: String,
    },
    /// The child's start function failed.
    #[error("child `{id}` did not start: {reason}")]
    StartFailed {
        /// The child.
        id: String,
        /// What the start function returned, in words.
        reason: String,
    },
    /// The id is not 1-64 characters of a-z, 0-9, `_` and `-`.
    #[error(
        "`{id}` cannot be a child id: use 1-64 characters of a-z, 0-9, _ and - (other nodes may name the child)"
    )]
    BadId {
        /// The id, as given (cut to 80 characters).
        id: String,
    },
}
