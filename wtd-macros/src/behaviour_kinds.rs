//! The behaviours `#[wtd_behaviour]` knows, one row each: the trait, the associated types
//! that travel between nodes, and the names (under `::wtd::__private`) of the library's
//! generic shims the expansion ends in and of the typed remote handle it returns.
//!
//! Adding a behaviour is adding a row here and the shims in `wtd`: parsing, checks and
//! expansion read this table and know nothing else about any one behaviour.

/// One behaviour trait.
pub struct Kind {
    /// The trait's name, as the `impl` writes it (its last path segment).
    pub trait_name: &'static str,
    /// The associated types that cross the wire as bytes, so must be serde data (each
    /// proven `Message`); the others stay on their node.
    pub messages: &'static [&'static str],
    /// `fn(&ProcessTable, &str, Encoding, Vec<u8>, bool, Duration) -> ApplyFuture`,
    /// generic over the type: runs one remote operation on a named instance.
    pub apply: &'static str,
    /// `fn(&ProcessTable, &str) -> bool`, generic over the type: whether a named instance runs.
    pub running: &'static str,
    /// The typed handle `Type::remote(&peer, "name")` returns, generic over the type,
    /// with a `new(&Peer, BehaviourPath, &str)`.
    pub remote: &'static str,
}

/// Every behaviour an `impl` may expose.
pub const KINDS: &[Kind] = &[
    Kind {
        trait_name: "GenServer",
        messages: &["Call", "Reply", "Cast"],
        apply: "gen_server_apply",
        running: "gen_server_running",
        remote: "RemoteServer",
    },
    Kind {
        trait_name: "GenFsm",
        messages: &["Event", "Call", "Reply"],
        apply: "gen_fsm_apply",
        running: "gen_fsm_running",
        remote: "RemoteFsm",
    },
    Kind {
        trait_name: "GenEvent",
        messages: &["Event"],
        apply: "gen_event_apply",
        running: "gen_event_running",
        remote: "RemoteEventManager",
    },
    Kind {
        trait_name: "Supervisor",
        // Its remote messages are the library's own (`SupervisorRequest`, `SupervisorReply`).
        messages: &[],
        apply: "supervisor_apply",
        running: "supervisor_running",
        remote: "RemoteSupervisor",
    },
];

/// The row for a trait name.
pub fn kind(trait_name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|kind| kind.trait_name == trait_name)
}

/// `GenServer`, `GenFsm` or `Supervisor`: the trait names, for error messages.
pub fn names() -> String {
    let names: Vec<String> = KINDS
        .iter()
        .map(|kind| format!("`{}`", kind.trait_name))
        .collect();
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}
