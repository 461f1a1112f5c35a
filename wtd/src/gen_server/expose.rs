//! Exposing a gen_server to other nodes: what `#[wtd_behaviour(mission)]` registers, and
//! how a node runs a call that arrives for one of its named servers.
//!
//! The attribute submits one [`BehaviourEntry`] into `inventory`: the mission, the
//! behaviour's wire name, and two type-erased shims built from the generic functions
//! below. A node finds an entry by mission and wire name, then the instance by its
//! registered name in its own [`ProcessTable`] — typed: a process registered under that
//! name with another message type is not an instance of this behaviour. So a server
//! started without the attribute (or of another type) can never be reached from outside,
//! whatever name it has.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::behaviour::GenServer;
use super::server_ref::ServerRef;
use crate::process::{ProcessError, ProcessTable};
use crate::registry::{ApplyError, ApplyFuture, encode_result, wire_module};
use crate::wire::Encoding;

/// Implemented by every type that may travel as a `Call`, `Reply` or `Cast` of a server
/// exposed to other nodes.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent to another node",
    label = "this message type is not `Serialize + Deserialize`",
    note = "the messages of a `#[wtd_behaviour]` (a gen_server's `Call`, `Reply` and `Cast`, a gen_fsm's `Event`, `Call` and `Reply`, a gen_event's `Event`) travel over the network as bytes: derive `serde::Serialize` and `serde::Deserialize` on `{Self}`, or use plain data (numbers, String, Vec, enums and structs of those)"
)]
pub trait Message: Serialize + DeserializeOwned + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Send + 'static> Message for T {}

/// Where a behaviour is found on the wire: its mission and its wire name.
#[derive(Debug, Clone, Copy)]
pub struct BehaviourPath {
    /// The mission a caller's key must be granted.
    pub mission: &'static str,
    /// `module_path!()` where the `impl` is (the crate name is dropped on the wire).
    pub module_path: &'static str,
    /// The type's name (`Counter`).
    pub type_name: &'static str,
    /// The `name = "..."` the attribute gave, which replaces module and type on the wire.
    pub name: Option<&'static str>,
}

impl BehaviourPath {
    /// The wire name: the chosen name, or the module path without the crate name and
    /// the type (`counting::Counter`; a type at the crate root keeps the crate's name,
    /// as an exported function's module does).
    pub fn wire_name(&self) -> String {
        match self.name {
            Some(name) => name.to_string(),
            None => format!("{}::{}", wire_module(self.module_path), self.type_name),
        }
    }
}

/// Runs one call or cast on a named instance: the table, the instance's name, the
/// encoding, the encoded message, whether a reply is wanted, and how long the call may
/// still live.
pub type BehaviourApply = fn(&ProcessTable, &str, Encoding, Vec<u8>, bool, Duration) -> ApplyFuture;

/// One behaviour exposed with `#[wtd_behaviour(mission)]`.
#[derive(Debug)]
pub struct BehaviourEntry {
    /// Its mission and wire name.
    pub path: BehaviourPath,
    /// Whether an instance of this behaviour is registered under that name.
    pub running: fn(&ProcessTable, &str) -> bool,
    /// Decodes the message, calls or casts the instance, encodes the reply.
    pub apply: BehaviourApply,
}

inventory::collect!(BehaviourEntry);

/// [`BehaviourEntry::running`] for a gen_server `S`.
pub fn gen_server_running<S: GenServer>(table: &ProcessTable, instance: &str) -> bool {
    ServerRef::<S>::whereis(table, instance).is_ok_and(|server| server.is_alive())
}

/// [`BehaviourEntry::apply`] for a gen_server `S`: a call waits for the reply at most
/// `within` (what is left of the call's life), a cast returns once it is queued.
pub fn gen_server_apply<S>(
    table: &ProcessTable,
    instance: &str,
    encoding: Encoding,
    message: Vec<u8>,
    want_reply: bool,
    within: Duration,
) -> ApplyFuture
where
    S: GenServer,
    S::Call: Message,
    S::Reply: Message,
    S::Cast: Message,
{
    let server = ServerRef::<S>::whereis(table, instance);
    Box::pin(async move {
        let server = server.map_err(|_| ApplyError::NoSuchInstance)?;
        if want_reply {
            let call: S::Call = decode_message(encoding, &message)?;
            let reply = server
                .call_timeout(call, within)
                .await
                .map_err(server_failed)?;
            encode_result(encoding, &reply)
        } else {
            let cast: S::Cast = decode_message(encoding, &message)?;
            server.cast(cast).map_err(server_failed)?;
            Ok(Vec::new())
        }
    })
}

/// What a behaviour's process that could not take a remote operation means to the
/// caller: gone (no such instance), or failed, in words.
pub(crate) fn server_failed(e: ProcessError) -> ApplyError {
    match e {
        ProcessError::NotAlive { .. } => ApplyError::NoSuchInstance,
        e => ApplyError::ServerFailed(e.to_string()),
    }
}

/// Decodes one message: postcard (bounded nesting, no trailing bytes) or JSON.
pub(crate) fn decode_message<M: DeserializeOwned>(
    encoding: Encoding,
    bytes: &[u8],
) -> Result<M, ApplyError> {
    match encoding {
        Encoding::Postcard => crate::nesting::from_postcard::<M>(bytes).map_err(|e| match e {
            crate::nesting::NestingError::Trailing(_) => {
                ApplyError::BadArguments("more message bytes than the message type takes".into())
            }
            e => ApplyError::BadArguments(e.to_string()),
        }),
        Encoding::Json => serde_json::from_slice::<M>(bytes).map_err(|e| {
            ApplyError::BadArguments(format!(
                "{e} (a behaviour takes one message, e.g. {{\"Incr\": 2}} or \"Get\")"
            ))
        }),
    }
}

/// The program's exposed behaviours, indexed once by `mission/wire name`.
struct Index {
    by_path: HashMap<String, &'static BehaviourEntry>,
    /// Paths exposed more than once, with the Rust module paths exposing each.
    twice: BTreeMap<String, Vec<&'static str>>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut by_path: HashMap<String, &'static BehaviourEntry> = HashMap::new();
        let mut twice: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
        for entry in inventory::iter::<BehaviourEntry> {
            let path = format!("{}/{}", entry.path.mission, entry.path.wire_name());
            match by_path.get(&path) {
                Some(first) => twice
                    .entry(path)
                    .or_insert_with(|| vec![first.path.module_path])
                    .push(entry.path.module_path),
                None => {
                    by_path.insert(path, entry);
                }
            }
        }
        Index { by_path, twice }
    })
}

/// Finds an exposed behaviour by mission and wire name.
pub fn lookup_behaviour(mission: &str, behaviour: &str) -> Option<&'static BehaviourEntry> {
    index()
        .by_path
        .get(&format!("{mission}/{behaviour}"))
        .copied()
}

/// Every exposed behaviour, as (mission, wire name).
pub fn exposed_behaviours() -> Vec<(&'static str, String)> {
    index()
        .by_path
        .values()
        .map(|entry| (entry.path.mission, entry.path.wire_name()))
        .collect()
}

/// The `mission/behaviour` paths of `mission` exposed by more than one `impl`, each with
/// the Rust module paths exposing it.
pub fn exposed_twice(mission: &str) -> Vec<(String, Vec<&'static str>)> {
    let prefix = format!("{mission}/");
    index()
        .twice
        .iter()
        .filter(|(path, _)| path.starts_with(&prefix))
        .map(|(path, modules)| (path.clone(), modules.clone()))
        .collect()
}
