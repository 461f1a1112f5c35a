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
        }
    }
}

/// The exit code of a library error's class (see [`EXIT_CODES`]).
pub fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Denied { .. }
        | Error::WrongMission { .. }
        | Error::Revoked { .. }
        | Error::Expired { .. }
        | Error::NoKey { .. } => DENIED,
        Error::RateLimited { .. } | Error::Busy { .. } => BUSY,
        Error::Timeout { .. } => TIMEOUT,
        Error::NodeDown { .. } => NODE_DOWN,
        // The callee's own answer: it is running and read the call, and the arguments
        // do not fit. Not a usage error: the command line itself was fine.
        Error::BadArguments { .. } | Error::NoSuchFunction { .. } => BAD_ARGUMENTS,
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
