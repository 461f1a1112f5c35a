//! `wtd call NODE PATH ARGS`: one call with JSON arguments, signed with the key held for
//! NODE and sent through the proxy's `/apply`; prints the JSON result.
//!
//! No node runs on this machine for this: the key file holds the capability key to sign
//! with and the callee's node key to check the reply against. What can be checked here
//! (the node name, the JSON, the path's shape, the timeout) is checked before anything is
//! sent, so a mistake costs no round trip and spends none of the key's rate.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::error::{CliError, ProxyError};
use super::key;
use super::node_config::NodeConfigFile;
use super::output::Output;
use super::proxy::Proxy;
use crate::call::{CallSpec, open_reply, sign_call};
use crate::error::Error;
use crate::wire::{self, Encoding};

/// `wtd call NODE PATH [ARGS] [--timeout T] [--proxy URL]`.
#[derive(clap::Args, Debug)]
pub(super) struct CallArgs {
    /// The node to call.
    node: String,
    /// mission/module/function, or mission/function where that names one function.
    path: String,
    /// The arguments as a JSON array, e.g. '[2, 3]'.
    #[arg(default_value = "[]")]
    args: String,
    /// How long to wait for the answer, e.g. 5s or 500ms.
    #[arg(long, default_value = "5s")]
    timeout: humantime::Duration,
    /// The proxy [default: the one in the key file].
    #[arg(long)]
    proxy: Option<String>,
}

/// A function on a node: `mission/module/function`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FunctionPath {
    /// The mission it is exported in.
    mission: String,
    /// Its module, as the exporting program names it (`cli`, `shop::cart`).
    module: String,
    /// Its name.
    function: String,
}

impl fmt::Display for FunctionPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.mission, self.module, self.function)
    }
}

/// What `wtd call` prints: the function's result, as the callee encoded it. Text is
/// compact JSON on one line; `--json` prints it pretty.
#[derive(Debug, Serialize)]
#[serde(transparent)]
struct CallResult(serde_json::Value);

impl fmt::Display for CallResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Makes the call and prints its result.
pub(super) fn run(out: &Output, home: &Path, args: &CallArgs) -> Result<(), CliError> {
    let node = args.node.as_str();
    let timeout = Duration::from(args.timeout);
    super::check_node_name(node)?;
    check_arguments(&args.args)?;
    let key = key::held_for(home, node).ok_or_else(|| Error::NoKey {
        node: node.to_string(),
    })?;
    let proxy = match &args.proxy {
        Some(url) => Proxy::given(url)?,
        None => Proxy::recorded(key.proxy.clone()),
    };
    if timeout > Duration::from_millis(wire::MAX_LIFETIME_MS) {
        return Err(CliError::Usage(format!(
            "--timeout can be at most {} s (a call lives at most that long)",
            wire::MAX_LIFETIME_MS / 1000
        )));
    }
    let path = resolve_path(&proxy, node, &args.path)?;
    // A caller with no registered name is still told apart in the callee's audit log.
    let caller = NodeConfigFile::read(home)
        .map(|c| c.name)
        .unwrap_or_else(|_| "cli".to_string());
    let spec = CallSpec {
        mission: &path.mission,
        module: &path.module,
        function: &path.function,
        encoding: Encoding::Json,
        args: args.args.as_bytes().to_vec(),
        want_reply: true,
    };
    let signed = sign_call(&key.signing_key()?, &caller, node, timeout, spec)?;
    // The proxy gives up at the call's expiry; the margin lets its answer arrive.
    let wait = timeout + Duration::from_secs(2);
    let reply = proxy
        .apply(node, &path, &signed, wait)
        .map_err(|e| for_the_callee(e, node, timeout))?;
    let result = open_reply(node, &key.node_key()?, &signed, &reply)?;
    let value = serde_json::from_slice(&result).map_err(|e| Error::BadReply {
        node: node.to_string(),
        detail: e.to_string(),
    })?;
    out.print(&CallResult(value));
    Ok(())
}

/// The arguments as typed must be a JSON array; the callee checks that they fit.
fn check_arguments(args: &str) -> Result<(), CliError> {
    let parsed = serde_json::from_str::<serde_json::Value>(args).map_err(|e| {
        CliError::ArgumentsNotJson {
            detail: e.to_string(),
        }
    })?;
    if parsed.is_array() {
        Ok(())
    } else {
        Err(CliError::ArgumentsNotArray)
    }
}

/// The proxy's 503 and 504 to `/apply` are about the callee: said in its name, with the
/// timeout the user chose.
fn for_the_callee(e: ProxyError, node: &str, timeout: Duration) -> CliError {
    match e {
        ProxyError::Unavailable { .. } => Error::NodeDown {
            node: node.to_string(),
        }
        .into(),
        ProxyError::NoReply { .. } => Error::Timeout {
            node: node.to_string(),
            after: timeout,
        }
        .into(),
        other => other.into(),
    }
}

/// `mission/module/function`, or `mission/function` resolved through the directory.
fn resolve_path(proxy: &Proxy, node: &str, path: &str) -> Result<FunctionPath, CliError> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        [mission, module, function] => Ok(FunctionPath {
            mission: mission.to_string(),
            module: module.to_string(),
            function: function.to_string(),
        }),
        [mission, function] => {
            let directory = proxy.directory()?;
            let offered = directory
                .nodes
                .iter()
                .find(|n| n.name == node)
                .ok_or_else(|| Error::NodeDown {
                    node: node.to_string(),
                })?;
            let matches: Vec<&String> = offered
                .missions
                .iter()
                .filter(|m| m.mission == *mission)
                .flat_map(|m| m.functions.iter())
                .filter(|f| f.rsplit('/').next() == Some(*function))
                .collect();
            match matches.as_slice() {
                [one] => {
                    let (module, function) = one.rsplit_once('/').unwrap_or(("", one));
                    Ok(FunctionPath {
                        mission: mission.to_string(),
                        module: module.to_string(),
                        function: function.to_string(),
                    })
                }
                [] => Err(Error::NoSuchFunction {
                    node: node.to_string(),
                    path: path.to_string(),
                }
                .into()),
                many => Err(CliError::Usage(format!(
                    "`{path}` names several functions on `{node}` ({}): write mission/module/function",
                    many.iter()
                        .map(|f| f.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            }
        }
        _ => Err(CliError::Usage(format!(
            "{path:?} is not a function path: write mission/function or mission/module/function, e.g. demo/add"
        ))),
    }
}
