//! Every way a `wtd` command fails, and the exit code of each class.
//!
//! Scripts branch on the exit code, people read the sentence on stderr. So each failure
//! is a variant with its own message (what happened, what to do) and exactly one exit
//! code, listed in `wtd --help` ([`EXIT_CODES`]). Where a failure happened decides its
//! type: a refusal from the callee is a library [`Error`], a refusal from the proxy a
//! [`ProxyError`], a mistake on the command line [`CliError::Usage`].

use crate::error::Error;

pub use super::proxy::ProxyError;

/// The exit codes, as `wtd --help` lists them after the commands.
pub const EXIT_CODES: &str = "Exit codes:
  0  success
  1  any other failure (files, proxy errors, a name already taken, ...)
  2  usage: wrong or missing arguments (a bad name, URL, rate, key, ...)
  3  denied: no key for that node, no grant, wrong mission, revoked or expired key
  4  rate-limited or busy: try again later
  5  timeout: no answer in time (the call may or may not have run)
  6  node down: the node you called is not connected
  7  bad arguments: unknown function, or arguments that do not fit it";

/// Exit code 1: any other failure.
pub const OTHER: u8 = 1;
/// Exit code 2: the command line was wrong; nothing was changed or sent.
pub const USAGE: u8 = 2;
/// Exit code 3: a key or grant does not allow this.
pub const DENIED: u8 = 3;
/// Exit code 4: too much at once; the same command can work later.
pub const BUSY: u8 = 4;
/// Exit code 5: no answer in time; a call may or may not have run.
pub const TIMEOUT: u8 = 5;
/// Exit code 6: the node called is not connected.
pub const NODE_DOWN: u8 = 6;
/// Exit code 7: no such function, or arguments that do not fit it.
pub const BAD_ARGUMENTS: u8 = 7;

/// Why a `wtd` command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// Occurs when the library fails: a key, grant or file that cannot be read or written,
    /// or a call the callee refused or could not run (its refusal arrives signed).
    #[error(transparent)]
    Wtd(#[from] Error),

    /// Occurs when the proxy cannot be reached, refuses a request, or answers with
    /// something that is not what the route promises.
    #[error(transparent)]
    Proxy(#[from] ProxyError),

    /// Occurs when the command line names something that cannot be: a node name, proxy
    /// URL, function path or timeout out of bounds. Nothing was changed or sent.
    #[error("{0}")]
    Usage(String),

    /// Occurs when the arguments of `wtd call`, as typed, are not JSON. They never left
    /// this machine.
    #[error(
        "the arguments are not valid JSON ({detail}): write them as a JSON array, e.g. '[2, 3]'"
    )]
    ArgumentsNotJson {
        /// What the JSON parser said, with the line and column.
        detail: String,
    },

    /// Occurs when the arguments of `wtd call` are JSON, but not the array of arguments a
    /// function takes. They never left this machine.
    #[error("the arguments must be a JSON array, one element per argument, e.g. '[2, 3]' or '[]'")]
    ArgumentsNotArray,

    /// Occurs when a node named on the command line is not in the proxy's directory, and
    /// no key is held for it: most often a typo.
    #[error(
        "node `{node}` is not connected to the proxy at {proxy}: no node of that name is online there{}; check the name with `wtd nodes`",
        match close.as_slice() {
            [] => String::new(),
            names => format!(" (did you mean {}?)", names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" or ")),
        }
    )]
    NoSuchNode {
        /// The name as typed.
        node: String,
        /// The proxy asked.
        proxy: String,
        /// Names online that are a small edit away.
        close: Vec<String>,
    },

    /// Occurs when a key file for a node pins another node key or proxy than the keys
    /// already held for that node. Taken quietly, a file claiming to be for `alice` could
    /// send the next call elsewhere and make replies signed by another key trusted.
    #[error(
        "this key for `{node}` pins node key {new_node_key}… via {new_proxy}, but the keys you hold for `{node}` pin node key {held_node_key}… via {held_proxy}: nothing was kept. \
         Check with `{node}`'s owner (`wtd init` shows their node key); if they really changed it, run again with --replace (your earlier keys are kept as backups)"
    )]
    PinDiffers {
        /// The node.
        node: String,
        /// The first 16 hex digits of the node key the keys held pin.
        held_node_key: String,
        /// The proxy the keys held use.
        held_proxy: String,
        /// The first 16 hex digits of the node key the new key pins.
        new_node_key: String,
        /// The proxy the new key uses.
        new_proxy: String,
    },

    /// Occurs when a reply does not verify against the node key a key file pins, but does
    /// against the key the directory lists for that node: the key file was made for
    /// another node, or edited. What the node said is reported; nothing it sent is used.
    #[error(
        "node `{node}` answered, but not with the node key your key file pins ({pinned}…; the proxy lists {listed}… for `{node}`): the key file was made for another node, or edited to name `{node}`. \
         `{node}` said: {said}. Ask `{node}`'s owner for a key of its own"
    )]
    NotThePinnedNode {
        /// The node called.
        node: String,
        /// The first 16 hex digits of the pinned node key.
        pinned: String,
        /// The first 16 hex digits of the node key the directory lists.
        listed: String,
        /// What the node answered, checked against the listed key.
        said: String,
        /// The exit code of what it answered.
        exit: u8,
    },

    /// Occurs when the proxy refused a call because the node does not announce the key,
    /// and the key file pins another node key than the one the proxy lists for that node:
    /// the key file was made for another node, or edited. Nothing reached the node.
    #[error(
        "node `{node}` does not accept this key, and your key file pins node key {pinned}… while the proxy lists {listed}… for `{node}`: the key file was made for another node, or edited to name `{node}`. Ask `{node}`'s owner for a key of its own"
    )]
    PinsAnotherNode {
        /// The node called.
        node: String,
        /// The first 16 hex digits of the pinned node key.
        pinned: String,
        /// The first 16 hex digits of the node key the directory lists.
        listed: String,
    },

    /// Occurs when every key held for a node was refused by it for this call.
    #[error(
        "none of your {} keys for `{node}` may run mission `{mission}`: {}; ask `{node}`'s owner to grant it (`wtd key list` shows your keys)",
        tried.len(),
        tried.join("; ")
    )]
    NoKeyCovers {
        /// The node called.
        node: String,
        /// The mission called.
        mission: String,
        /// Each key tried, with its missions and what the node said.
        tried: Vec<String>,
    },

    /// Occurs when the user answers no to a question the command asked before doing
    /// something; nothing was changed.
    #[error("{0}")]
    Declined(String),
}

impl CliError {
    /// The exit code of this failure's class (see [`EXIT_CODES`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Wtd(e) => exit_code(e),
            CliError::Proxy(e) => e.exit_code(),
            CliError::Usage(_) => USAGE,
            // Arguments that do not fit the function, found before sending instead of by
            // the callee: the same class, so a script has one code to handle.
            CliError::ArgumentsNotJson { .. } | CliError::ArgumentsNotArray => BAD_ARGUMENTS,
            CliError::NoSuchNode { .. } => NODE_DOWN,
            CliError::PinDiffers { .. } | CliError::Declined(_) => OTHER,
            CliError::NotThePinnedNode { exit, .. } => *exit,
            CliError::PinsAnotherNode { .. } => DENIED,
            CliError::NoKeyCovers { .. } => DENIED,
        }
    }

    /// A stable word for this failure, for scripts (`--json` prints it as `error`): the
    /// library's [`Error::kind`] for its errors, the variant's name for the others.
    pub fn kind(&self) -> &'static str {
        match self {
            CliError::Wtd(e) => e.kind(),
            CliError::Proxy(e) => e.kind(),
            CliError::Usage(_) => "Usage",
            CliError::ArgumentsNotJson { .. } => "ArgumentsNotJson",
            CliError::ArgumentsNotArray => "ArgumentsNotArray",
            CliError::NoSuchNode { .. } => "NoSuchNode",
            CliError::PinDiffers { .. } => "PinDiffers",
            CliError::NotThePinnedNode { .. } => "NotThePinnedNode",
            CliError::PinsAnotherNode { .. } => "PinsAnotherNode",
            CliError::NoKeyCovers { .. } => "NoKeyCovers",
            CliError::Declined(_) => "Declined",
        }
    }
}

/// The exit code of a library error's class (see [`EXIT_CODES`]).
pub fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Denied { .. }
        | Error::NotAccepted { .. }
        | Error::WrongMission { .. }
        | Error::Revoked { .. }
        | Error::Expired { .. }
        | Error::NoKey { .. } => DENIED,
        Error::RateLimited { .. } | Error::Busy { .. } => BUSY,
        Error::Timeout { .. } => TIMEOUT,
        Error::NodeDown { .. } => NODE_DOWN,
        // The callee's own answer: it is running and read the call, and the arguments
        // do not fit. Not a usage error: the command line itself was fine.
        Error::BadArguments { .. }
        | Error::NoSuchFunction { .. }
        | Error::NoSuchBehaviour { .. }
        | Error::NoSuchInstance { .. } => BAD_ARGUMENTS,
        // A rate, public key or grantee the library refused, as typed on the command line.
        Error::Invalid(_) => USAGE,
        _ => OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A remote "these arguments do not fit" is exit 7, never 2 (usage): the user typed a
    /// well-formed command, and the callee answered.
    #[test]
    fn a_remote_bad_arguments_is_not_a_usage_error() {
        let remote = CliError::from(Error::BadArguments {
            node: "alice".into(),
            detail: "expected 2 arguments, got 1".into(),
        });
        assert_eq!(remote.exit_code(), BAD_ARGUMENTS);
        assert_eq!(CliError::Usage("bad path".into()).exit_code(), USAGE);
    }

    /// Every code the enum can give is one `wtd --help` lists.
    #[test]
    fn every_exit_code_is_in_the_help() {
        for code in [
            OTHER,
            USAGE,
            DENIED,
            BUSY,
            TIMEOUT,
            NODE_DOWN,
            BAD_ARGUMENTS,
        ] {
            assert!(EXIT_CODES.contains(&format!("\n  {code}  ")), "{code}");
        }
    }
}
