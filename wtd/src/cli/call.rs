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

use ed25519_dalek::VerifyingKey;

use super::error::{self, CliError, ProxyError};
use super::key_choice;
use super::key_store::{self, HeldKey};
use super::output::{Output, inert_lines};
use super::proxy::Proxy;
use super::suggest;
use crate::call::{TargetSpec, open_reply, sign_target};
use crate::error::Error;
use crate::keys;
use crate::node::record::NodeRecord;
use crate::wire::{self, Encoding, JsonDirectory, Signed, Target};

/// `wtd call NODE PATH [ARGS] [--timeout T] [--proxy URL]`.
#[derive(clap::Args, Debug)]
pub(super) struct CallArgs {
    /// The node to call.
    node: String,
    /// mission/function (e.g. demo/add), or mission/module/function in full.
    /// `demo/add` means `demo/demo/add` when the node has it, else the one `add` in
    /// mission `demo`. A gen_server is mission/behaviour@instance, e.g.
    /// counting/counter@main (`wtd nodes` lists each node's behaviours).
    path: String,
    /// The arguments as a JSON array, e.g. '[2, 3]'; for a gen_server, one message,
    /// e.g. '{"Incr": 2}' or '"Get"'.
    #[arg(default_value = "[]")]
    args: String,
    /// How long to wait for the answer, e.g. 5s or 500ms.
    #[arg(long, default_value = "5s")]
    timeout: humantime::Duration,
    /// The proxy [default: the one in the key file].
    #[arg(long)]
    proxy: Option<String>,
}

/// What is called on a node: a function, `mission/module/function`, or a gen_server's
/// named instance, `mission/behaviour@instance`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FunctionPath {
    /// The mission it is exported in.
    mission: String,
    /// The function, or the behaviour's instance.
    target: Target,
}

impl FunctionPath {
    fn function(mission: &str, module: &str, function: &str) -> FunctionPath {
        FunctionPath {
            mission: mission.to_string(),
            target: Target::Function {
                mission: mission.to_string(),
                module: module.to_string(),
                function: function.to_string(),
            },
        }
    }
}

impl fmt::Display for FunctionPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.target.path())
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
    check_arguments(&args.args, args.path.contains('@'))?;
    if timeout > Duration::from_millis(wire::MAX_LIFETIME_MS) {
        return Err(CliError::Usage(format!(
            "--timeout can be at most {} s (a call lives at most that long)",
            wire::MAX_LIFETIME_MS / 1000
        )));
    }
    let keys = key_store::held_for(home, node);
    let Some(first) = keys.first() else {
        return Err(no_key(home, node, args.proxy.as_deref()));
    };
    // Every key held for a node uses the same proxy (`key_store` refuses others).
    let (proxy, seen) = match &args.proxy {
        Some(url) => (Proxy::given(url)?, None),
        None => where_listed(&first.key, node),
    };
    let mut directory = DirectoryOnce {
        proxy: &proxy,
        got: seen,
    };
    let path = resolve_path(&mut directory, node, &args.path)?;
    // Which keys the node accepts matters only to choose among several.
    let accepts = if keys.len() > 1 {
        directory
            .get()
            .ok()
            .and_then(|d| d.nodes.iter().find(|n| n.name == node))
            .map(|n| n.accepts.clone())
    } else {
        None
    };
    let candidates = key_choice::rank(keys, &path.mission, accepts.as_deref());
    let covering = candidates
        .iter()
        .filter(|c| c.cover == key_choice::Cover::Listed)
        .count();
    // A caller with no registered name is still told apart in the callee's audit log.
    let caller = NodeRecord::read(home)
        .map(|c| c.name)
        .unwrap_or_else(|_| "cli".to_string());
    let mut refused: Vec<(String, CliError)> = Vec::new();
    let last = candidates.len() - 1;
    for (n, mut candidate) in candidates.into_iter().enumerate() {
        let attempt = call_once(
            &proxy,
            &mut directory,
            &candidate.held,
            &caller,
            node,
            &path,
            &args.args,
            timeout,
        );
        match attempt {
            Ok(result) => {
                if !candidate.held.key.missions.contains(&path.mission) {
                    let mut missions = candidate.held.key.missions.clone();
                    missions.push(path.mission.clone());
                    candidate.held.learn_missions(missions);
                }
                if n > 0 || covering > 1 {
                    let note = used_note(node, &candidate.held, &refused, covering, &path);
                    eprintln!("{}", inert_lines(&note));
                }
                out.print(&CallResult(result));
                return Ok(());
            }
            Err(CliError::Wtd(e)) if key_choice::refused_the_key(&e) => {
                if let Error::WrongMission { granted, .. } = &e {
                    let granted = granted
                        .split(", ")
                        .filter(|m| !m.is_empty())
                        .map(str::to_string)
                        .collect();
                    candidate.held.learn_missions(granted);
                }
                let line = format!(
                    "key {} ({}): {}",
                    candidate.held.fingerprint,
                    candidate.held.missions_text(),
                    key_choice::why(&e)
                );
                if n == last && refused.is_empty() {
                    // The one key held: the node's own words say it best.
                    return Err(e.into());
                }
                refused.push((line, e.into()));
            }
            Err(other) => return Err(other),
        }
    }
    Err(CliError::NoKeyCovers {
        node: node.to_string(),
        mission: path.mission.clone(),
        tried: refused.into_iter().map(|(line, _)| line).collect(),
    })
}

/// One call signed with `held`: its decoded result, or why not.
#[allow(clippy::too_many_arguments)]
fn call_once(
    proxy: &Proxy,
    directory: &mut DirectoryOnce<'_>,
    held: &HeldKey,
    caller: &str,
    node: &str,
    path: &FunctionPath,
    args: &str,
    timeout: Duration,
) -> Result<serde_json::Value, CliError> {
    let spec = TargetSpec {
        target: path.target.clone(),
        encoding: Encoding::Json,
        args: args.as_bytes().to_vec(),
        want_reply: true,
    };
    let signed = sign_target(&held.key.signing_key()?, caller, node, timeout, spec)?;
    // The proxy gives up at the call's expiry; the margin lets its answer arrive.
    let wait = timeout + Duration::from_secs(2);
    let pinned = held.key.node_key()?;
    let reply = match proxy.apply(node, path, &signed, wait) {
        Ok(reply) => reply,
        Err(ProxyError::NotAccepted { .. }) => {
            return Err(not_accepted(directory, node, &pinned));
        }
        Err(e) => return Err(for_the_callee(e, node, timeout)),
    };
    let result = match open_reply(node, &pinned, &signed, &reply) {
        Ok(result) => result,
        Err(Error::BadSignature { .. }) => {
            return Err(signed_by_another(directory, node, &pinned, &signed, &reply));
        }
        Err(e) => return Err(e.into()),
    };
    serde_json::from_slice(&result).map_err(|e| {
        Error::BadReply {
            node: node.to_string(),
            detail: e.to_string(),
        }
        .into()
    })
}

/// The proxy refused the call as one `node` does not accept. If the key file pins another
/// node key than the directory lists for `node`, that is most likely why: say so.
fn not_accepted(directory: &mut DirectoryOnce<'_>, node: &str, pinned: &VerifyingKey) -> CliError {
    let listed = directory
        .get()
        .ok()
        .and_then(|d| d.nodes.iter().find(|n| n.name == node))
        .and_then(|n| keys::parse_public_key("the directory's node key", &n.node_key).ok());
    match listed {
        Some(listed) if listed != *pinned => CliError::PinsAnotherNode {
            node: node.to_string(),
            pinned: keys::fingerprint(&pinned.to_bytes()),
            listed: keys::fingerprint(&listed.to_bytes()),
        },
        _ => Error::NotAccepted {
            node: node.to_string(),
        }
        .into(),
    }
}

/// A reply that does not verify against the pinned node key. If it verifies against the
/// key the directory lists for `node`, the node did answer, and the key file is the
/// mistake: say what the node said, and that the file pins another node. Nothing in such
/// a reply is used.
fn signed_by_another(
    directory: &mut DirectoryOnce<'_>,
    node: &str,
    pinned: &VerifyingKey,
    call: &Signed,
    reply: &Signed,
) -> CliError {
    let bad = CliError::from(Error::BadSignature {
        who: "this command".into(),
    });
    let Some(listed) = directory
        .get()
        .ok()
        .and_then(|d| d.nodes.iter().find(|n| n.name == node))
        .and_then(|n| keys::parse_public_key("the directory's node key", &n.node_key).ok())
    else {
        return bad;
    };
    if listed == *pinned {
        return bad;
    }
    let (said, exit) = match open_reply(node, &listed, call, reply) {
        Ok(_) => (
            "it ran the call, and its result is not shown, as it is not signed by the node your key file trusts".to_string(),
            error::OTHER,
        ),
        Err(Error::BadSignature { .. }) => return bad,
        Err(e) => (e.to_string(), error::exit_code(&e)),
    };
    CliError::NotThePinnedNode {
        node: node.to_string(),
        pinned: keys::fingerprint(&pinned.to_bytes()),
        listed: keys::fingerprint(&listed.to_bytes()),
        said,
        exit,
    }
}

/// Why there is no key to call `node` with: no home at all, a node that is not online
/// (a typo, most often: the close names online are listed), or no key held for it.
fn no_key(home: &Path, node: &str, proxy: Option<&str>) -> CliError {
    if !key_store::is_home(home) {
        return Error::file(
            home,
            "there is no WTD home here: make one with `wtd init` (or pass --home DIR, or set WTD_HOME, to use the one you made), then keep the key file you were given with `wtd key add FILE`",
        )
        .into();
    }
    let no_key = CliError::from(Error::NoKey {
        node: node.to_string(),
    });
    let proxy = match proxy {
        Some(url) => Proxy::given(url).ok(),
        None => NodeRecord::read(home)
            .ok()
            .map(|r| Proxy::recorded(r.proxy))
            .or_else(|| {
                key_store::held(home)
                    .into_iter()
                    .find_map(|(_, k)| k.ok())
                    .map(|k| Proxy::recorded(k.proxy))
            }),
    };
    let Some(directory) = proxy.as_ref().and_then(Proxy::glance) else {
        return no_key;
    };
    if directory.nodes.iter().any(|n| n.name == node) {
        return no_key;
    }
    CliError::NoSuchNode {
        node: node.to_string(),
        proxy: proxy.map(|p| p.url().to_string()).unwrap_or_default(),
        close: suggest::close_names(node, directory.nodes.iter().map(|n| n.name.as_str())),
    }
}

/// The note printed when a choice was made among several keys: which key ran the call.
fn used_note(
    node: &str,
    used: &HeldKey,
    refused: &[(String, CliError)],
    covering: usize,
    path: &FunctionPath,
) -> String {
    let mut note = format!(
        "note: called `{node}` with key {} ({})",
        used.fingerprint,
        used.missions_text()
    );
    if covering > 1 {
        note.push_str(&format!(
            ", one of {covering} keys you hold for `{node}` that cover `{}`",
            path.mission
        ));
    }
    for (line, _) in refused {
        note.push_str(&format!("; tried first: {line}"));
    }
    note
}

/// The directory, asked for at most once per command, and only if needed.
/// The proxy to call `node` through when `--proxy` is not given: the key's. A key naming
/// fallback proxies (its node moves to the next when one stops answering) calls through
/// the first of them whose directory lists the node now, or else the first that answers,
/// or else the primary, whose error then says it does not answer. The proxies are only
/// looked at (`/api/directory`, returned for the call to use): the call itself goes
/// through one proxy, once, so trying several can never run it twice.
fn where_listed(key: &crate::KeyFile, node: &str) -> (Proxy, Option<JsonDirectory>) {
    if key.fallback_proxies.is_empty() {
        return (Proxy::recorded(key.proxy.clone()), None);
    }
    let mut answering = None;
    for url in std::iter::once(&key.proxy).chain(&key.fallback_proxies) {
        let proxy = Proxy::recorded(url.clone());
        let Some(directory) = proxy.glance() else {
            continue;
        };
        if directory.nodes.iter().any(|n| n.name == node) {
            return (proxy, Some(directory));
        }
        answering.get_or_insert((proxy, Some(directory)));
    }
    answering.unwrap_or_else(|| (Proxy::recorded(key.proxy.clone()), None))
}

struct DirectoryOnce<'a> {
    proxy: &'a Proxy,
    got: Option<JsonDirectory>,
}

impl DirectoryOnce<'_> {
    fn get(&mut self) -> Result<&JsonDirectory, ProxyError> {
        if self.got.is_none() {
            self.got = Some(self.proxy.directory()?);
        }
        self.got.as_ref().ok_or_else(|| ProxyError::Unreachable {
            url: self.proxy.url().to_string(),
            detail: "no directory".into(),
        })
    }
}

/// The arguments as typed must be JSON, and an array for a function (a gen_server takes
/// one message of any shape); the callee checks that they fit.
fn check_arguments(args: &str, to_a_behaviour: bool) -> Result<(), CliError> {
    let parsed = serde_json::from_str::<serde_json::Value>(args).map_err(|e| {
        CliError::ArgumentsNotJson {
            detail: e.to_string(),
        }
    })?;
    if parsed.is_array() || to_a_behaviour {
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
        ProxyError::NotAccepted { .. } => Error::NotAccepted {
            node: node.to_string(),
        }
        .into(),
        other => other.into(),
    }
}

/// `mission/module/function`, or `mission/function` resolved through the directory:
/// `mission/mission/function` if the node has it (the short form shown everywhere, see
/// [`crate::path`]), else the one `function` of that name in the mission.
fn resolve_path(
    directory: &mut DirectoryOnce<'_>,
    node: &str,
    path: &str,
) -> Result<FunctionPath, CliError> {
    if path.contains('@') {
        let target = crate::path::parse_target(path).map_err(|_| {
            CliError::Usage(format!(
                "{path:?} is not a gen_server path: write mission/behaviour@instance, e.g. counting/counter@main"
            ))
        })?;
        target
            .check_bounds()
            .map_err(|e| CliError::Usage(format!("{path:?}: {e}")))?;
        return Ok(FunctionPath {
            mission: target.mission().to_string(),
            target,
        });
    }
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        [mission, module, function] => Ok(FunctionPath::function(mission, module, function)),
        [mission, function] => {
            let directory = directory.get()?;
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
            let own = format!("{mission}/{function}");
            let matches = match matches.iter().find(|f| ***f == own) {
                Some(own) => vec![*own],
                None => matches,
            };
            match matches.as_slice() {
                [one] => {
                    let (module, function) = one.rsplit_once('/').unwrap_or(("", one));
                    Ok(FunctionPath::function(mission, module, function))
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
