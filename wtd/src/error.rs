//! The one error type of WTD.
//!
//! Every variant is a sentence a beginner can act on: what happened, and what to try
//! next. The variants a callee can answer with (`Denied`, `RateLimited`, …) travel on the
//! wire as a [`Refusal`](crate::wire::Refusal) inside a signed reply and become one of these
//! on the caller's side.

use std::path::PathBuf;
use std::time::Duration;

use crate::wire::Refusal;

/// Everything that can go wrong when starting a node, calling another node, or handling
/// keys and grants.
///
/// `Debug` prints the same sentence as `Display`, so a program whose `main` returns
/// `Result<(), wtd::Error>` tells its user what happened in words, not as a struct dump.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The callee has no grant for the key you called with.
    #[error(
        "node `{node}` does not accept this key: ask its owner to grant it, or check which key file you used"
    )]
    Denied {
        /// The node that refused.
        node: String,
    },

    /// The proxy refused an `/apply` call before it reached the node: the node never
    /// announced the key (never granted, or revoked long ago), or the call's signature does
    /// not verify with it.
    #[error(
        "node `{node}` does not accept this key (the proxy checked it against the keys `{node}` announces; nothing reached `{node}`): it was never granted, or was revoked long ago. Ask its owner to grant it, or check which key file you used"
    )]
    NotAccepted {
        /// The node called.
        node: String,
    },

    /// The key is granted, but not for this mission.
    #[error(
        "node `{node}` accepts this key, but not for mission `{mission}` (granted: {granted}): ask its owner to add the mission to your grant"
    )]
    WrongMission {
        /// The node that refused.
        node: String,
        /// The mission you called.
        mission: String,
        /// The missions your key is granted, comma separated.
        granted: String,
    },

    /// The callee's owner revoked the key.
    #[error(
        "node `{node}` revoked this key: it will not be accepted again; ask its owner for a new one"
    )]
    Revoked {
        /// The node that refused.
        node: String,
    },

    /// The grant, or the call itself, is past its expiry.
    #[error(
        "node `{node}` refused the call because {what} has expired: ask its owner to renew the grant, or check your clock"
    )]
    Expired {
        /// The node that refused.
        node: String,
        /// "the grant" or "the request".
        what: String,
    },

    /// The grant's rate limit is used up for now.
    #[error(
        "node `{node}` refused the call because this key's rate limit is used up: try again in {}",
        humantime::format_duration(*retry_after)
    )]
    RateLimited {
        /// The node that refused.
        node: String,
        /// How long to wait before the next call can succeed.
        retry_after: Duration,
    },

    /// The callee has seen this exact request before and will not run it twice.
    #[error(
        "node `{node}` has already seen this request and did not run it again (a replay is never executed twice)"
    )]
    Replayed {
        /// The node that refused.
        node: String,
    },

    /// The callee restarted after the call was made, and refused it so that no call can
    /// run twice. Its new process did not run it.
    #[error(
        "node `{node}` restarted after this call was made, and refuses calls made before its restart so that none runs twice: call again"
    )]
    Restarted {
        /// The node that refused.
        node: String,
    },

    /// This program holds no key file for the node it wants to call.
    #[error(
        "you hold no key for node `{node}`: ask its owner for one, then keep it with `wtd key add FILE` (see `wtd key list`)"
    )]
    NoKey {
        /// The node.
        node: String,
    },

    /// No reply arrived in time. The call may or may not have run.
    #[error(
        "no reply from `{node}` within {}: the outcome is unknown (the call may or may not have run); retry only if it is safe to run twice, or raise the timeout",
        humantime::format_duration(*after)
    )]
    Timeout {
        /// The node called.
        node: String,
        /// The timeout that passed.
        after: Duration,
    },

    /// The callee is not connected to the proxy.
    #[error(
        "node `{node}` is not connected to the proxy right now: check that it is running, or try again later"
    )]
    NodeDown {
        /// The node called.
        node: String,
    },

    /// The callee does not export this function in this mission.
    #[error(
        "node `{node}` has no function `{}`: check the spelling, and that both programs use the same module (`wtd nodes` lists what each node offers)",
        crate::path::shown(path)
    )]
    NoSuchFunction {
        /// The node called.
        node: String,
        /// mission/module/function (the message shows it as [`crate::path::shown`] does).
        path: String,
    },

    /// The callee exposes no such behaviour in this mission.
    #[error(
        "node `{node}` has no behaviour `{path}`: check the mission and the behaviour's name (`wtd nodes` lists the behaviours each node offers), and that both programs use the same `#[wtd_behaviour]` type"
    )]
    NoSuchBehaviour {
        /// The node called.
        node: String,
        /// mission/behaviour@instance.
        path: String,
    },

    /// The behaviour is exposed, but no instance of it runs under that name.
    #[error(
        "node `{node}` runs no `{path}`: the behaviour is exposed, but no server of it is registered under that name there (it was never started, or it ended)"
    )]
    NoSuchInstance {
        /// The node called.
        node: String,
        /// mission/behaviour@instance.
        path: String,
    },

    /// A send to a local process failed (it ended, or its mailbox is full).
    #[error("{0}")]
    Process(#[from] crate::process::ProcessError),

    /// A send to a billet-doux (a `Pid` from another node) was refused by the node that
    /// issued it.
    #[error("node `{node}` refused the message to its process: {why}")]
    BilletRefused {
        /// The billet's origin node.
        node: String,
        /// Why, in a sentence.
        why: String,
        /// Whether the refusal means the process is gone: it ended, or its node no longer
        /// knows the billet (freed with its process, or the node restarted).
        gone: bool,
    },

    /// The server was found but did not answer.
    #[error("node `{node}`'s server did not answer: {detail}")]
    ServerFailed {
        /// The node called.
        node: String,
        /// Why: it ended (and with what reason), its mailbox was full, or it took too long.
        detail: String,
    },

    /// The callee could not decode the arguments.
    #[error(
        "node `{node}` could not read the arguments: {detail}; check their number and types against the function"
    )]
    BadArguments {
        /// The node called.
        node: String,
        /// What the decoder said.
        detail: String,
    },

    /// The remote function panicked. The remote node is still running.
    #[error("the function panicked on node `{node}`: {message} (the node itself is still running)")]
    RemotePanic {
        /// The node called.
        node: String,
        /// The panic message.
        message: String,
    },

    /// The proxy could not be reached.
    #[error(
        "cannot reach the proxy at {url}: {detail}; check that it is running and the URL is right"
    )]
    ProxyUnreachable {
        /// The proxy URL.
        url: String,
        /// What went wrong.
        detail: String,
    },

    /// The proxy answered with an error.
    #[error("the proxy refused the request ({status}): {message}")]
    Proxy {
        /// The HTTP status.
        status: u16,
        /// The proxy's explanation.
        message: String,
    },

    /// A signature did not verify: the request or reply was altered, or signed with
    /// another key.
    #[error(
        "{who} refused a message whose signature does not verify: it was altered on the way, or signed with the wrong key"
    )]
    BadSignature {
        /// Who refused ("node `alice`", "this node").
        who: String,
    },

    /// The clocks of caller and callee are too far apart.
    #[error(
        "node `{node}` refused the call because the clocks differ by {} seconds: set both machines' clocks right (e.g. enable NTP)",
        skew_ms / 1000
    )]
    ClockSkew {
        /// The node that refused.
        node: String,
        /// The callee's clock minus the caller's, in milliseconds.
        skew_ms: i64,
    },

    /// Too much in flight right now.
    #[error("{what} is overloaded right now: try again in a moment")]
    Busy {
        /// What is overloaded.
        what: String,
    },

    /// A reply that could not be decoded as the expected type.
    #[error(
        "the reply from `{node}` is not the type this program expects ({detail}): do both programs use the same version of the function?"
    )]
    BadReply {
        /// The node called.
        node: String,
        /// What the decoder said.
        detail: String,
    },

    /// Invalid input given to WTD by the program (a bad name, rate, path…).
    #[error("{0}")]
    Invalid(String),

    /// A grant for a public key the grants file already names. A key belongs to one
    /// grantee, so a grant in another name would take over theirs; and a revoked key is
    /// refused forever, so it is never granted again.
    #[error(
        "{}: nothing was granted",
        if *revoked {
            format!("this key was granted to `{grantee}` and revoked, and a revoked key is never granted again: ask for a new key (`wtd key new`)")
        } else {
            format!("this key is already granted to `{grantee}`, and a key belongs to one grantee: `wtd grant list` shows the grant; for other terms, revoke it and grant a new key")
        }
    )]
    KeyTaken {
        /// Who the grants file grants the key to.
        grantee: String,
        /// Whether that grant is revoked.
        revoked: bool,
    },

    /// A key, key file or grants file could not be read or written.
    #[error("{}: {detail}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong, with a hint.
        detail: String,
    },

    /// The node is stopped.
    #[error("this node has been stopped: start a new one to make calls")]
    Stopped,

    /// The node called speaks another wire version, and refused the call unread.
    #[error(
        "node `{node}` speaks wire version {theirs} and this program speaks version {}: upgrade one of you (the call did not run)",
        crate::wire::PROTOCOL_VERSION
    )]
    WireVersion {
        /// The node called.
        node: String,
        /// The wire version it speaks.
        theirs: u8,
    },

    /// The proxy refused one message as too large or malformed; it was not delivered.
    #[error(
        "the proxy refused the message for `{node}` as too large or malformed: it was not delivered"
    )]
    MessageRefused {
        /// The node it was for.
        node: String,
    },

    /// The proxy answered with something that is not what the protocol says it sends.
    #[error(
        "the proxy at {url} gave an answer that does not decode ({detail}): is it a WTD proxy of the same version?"
    )]
    BadProxyAnswer {
        /// The proxy URL.
        url: String,
        /// What the decoder said.
        detail: String,
    },
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// A shorter name for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<crate::wire::WireError> for Error {
    /// Bytes or names that fail the wire's checks: the sentence says which field and why.
    fn from(e: crate::wire::WireError) -> Self {
        Error::Invalid(e.to_string())
    }
}

impl Error {
    /// The variant's name (`Denied`, `RateLimited`, …): a stable word for scripts, logs
    /// and counters, where the sentence is for people.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Denied { .. } => "Denied",
            Error::NotAccepted { .. } => "NotAccepted",
            Error::WrongMission { .. } => "WrongMission",
            Error::Revoked { .. } => "Revoked",
            Error::Expired { .. } => "Expired",
            Error::RateLimited { .. } => "RateLimited",
            Error::Replayed { .. } => "Replayed",
            Error::Restarted { .. } => "Restarted",
            Error::NoKey { .. } => "NoKey",
            Error::Timeout { .. } => "Timeout",
            Error::NodeDown { .. } => "NodeDown",
            Error::NoSuchFunction { .. } => "NoSuchFunction",
            Error::NoSuchBehaviour { .. } => "NoSuchBehaviour",
            Error::NoSuchInstance { .. } => "NoSuchInstance",
            Error::ServerFailed { .. } => "ServerFailed",
            Error::BilletRefused { .. } => "BilletRefused",
            Error::Process(_) => "Process",
            Error::BadArguments { .. } => "BadArguments",
            Error::RemotePanic { .. } => "RemotePanic",
            Error::ProxyUnreachable { .. } => "ProxyUnreachable",
            Error::Proxy { .. } => "Proxy",
            Error::BadSignature { .. } => "BadSignature",
            Error::ClockSkew { .. } => "ClockSkew",
            Error::Busy { .. } => "Busy",
            Error::BadReply { .. } => "BadReply",
            Error::Invalid(_) => "Invalid",
            Error::KeyTaken { .. } => "KeyTaken",
            Error::File { .. } => "File",
            Error::Stopped => "Stopped",
            Error::WireVersion { .. } => "WireVersion",
            Error::MessageRefused { .. } => "MessageRefused",
            Error::BadProxyAnswer { .. } => "BadProxyAnswer",
        }
    }

    /// Turns a callee's refusal of the call `path` (`mission/module/function`) into the
    /// error the caller sees.
    pub fn from_refusal(refusal: Refusal, callee: &str, path: &str) -> Error {
        let node = callee.to_string();
        match refusal {
            Refusal::Denied => Error::Denied { node },
            Refusal::WrongMission { granted } => Error::WrongMission {
                node,
                mission: path.split('/').next().unwrap_or_default().to_string(),
                granted: granted.join(", "),
            },
            Refusal::Revoked => Error::Revoked { node },
            Refusal::GrantExpired => Error::Expired {
                node,
                what: "the grant".into(),
            },
            Refusal::CallExpired => Error::Expired {
                node,
                what: "the request".into(),
            },
            Refusal::RateLimited { retry_after_ms } => Error::RateLimited {
                node,
                retry_after: Duration::from_millis(retry_after_ms),
            },
            Refusal::Replayed => Error::Replayed { node },
            Refusal::NoSuchFunction => Error::NoSuchFunction {
                node,
                path: path.to_string(),
            },
            Refusal::NoSuchBehaviour => Error::NoSuchBehaviour {
                node,
                path: path.to_string(),
            },
            Refusal::NoSuchInstance => Error::NoSuchInstance {
                node,
                path: path.to_string(),
            },
            Refusal::ServerFailed(detail) => Error::ServerFailed { node, detail },
            Refusal::NoSuchBillet => Error::BilletRefused {
                node,
                gone: true,
                why: "it never gave out this Pid (a forged or stale billet), or the process it named has ended and its billets were freed".into(),
            },
            Refusal::NotTheHolder => Error::BilletRefused {
                node,
                gone: false,
                why: "this Pid was given to another node or key, and only they may message it".into(),
            },
            Refusal::ProcessEnded => Error::BilletRefused {
                node,
                gone: true,
                why: "the process has ended".into(),
            },
            Refusal::BilletExpired => Error::BilletRefused {
                node,
                gone: false,
                why: "this Pid was given out with an expiry, and it has passed".into(),
            },
            Refusal::BadArguments(detail) => Error::BadArguments { node, detail },
            Refusal::RemotePanic(message) => Error::RemotePanic { node, message },
            Refusal::BadSignature => Error::BadSignature {
                who: format!("node `{node}`"),
            },
            Refusal::ClockSkew { skew_ms } => Error::ClockSkew { node, skew_ms },
            Refusal::WrongNode => Error::Invalid(format!(
                "node `{node}` says the call was addressed to another node: is the key file for `{node}`?"
            )),
            Refusal::Busy => Error::Busy {
                what: format!("node `{node}`"),
            },
            Refusal::Restarted => Error::Restarted { node },
            Refusal::ResultTooLarge { bytes } => Error::BadReply {
                node,
                detail: format!(
                    "the function ran, but its result is {bytes} bytes, more than the {} allowed",
                    crate::wire::MAX_ARGS_BYTES
                ),
            },
            Refusal::Malformed(detail) => {
                Error::Invalid(format!("node `{node}` refused the call: {detail}"))
            }
        }
    }

    pub(crate) fn file(path: impl Into<PathBuf>, detail: impl std::fmt::Display) -> Self {
        Error::File {
            path: path.into(),
            detail: detail.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_reads_as_the_sentence_a_main_returning_this_error_prints() {
        let e = Error::NodeDown {
            node: "alice".into(),
        };
        assert_eq!(format!("{e:?}"), e.to_string());
        assert!(format!("{e:?}").starts_with("node `alice` is not connected"));
        assert_eq!(e.kind(), "NodeDown");
    }
}
