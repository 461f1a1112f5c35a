//! What `#[wtd_export]` submits into `inventory`, and how a node finds it again.
//!
//! Each exported function becomes one [`ExportedFn`]: its mission, module, name, and a
//! *shim* that decodes the arguments, runs the function and encodes the result. The
//! linker gathers every entry of the program into one list at build time; a node builds
//! an index of it the first time it is asked.
//!
//! A crate whose only use is its exported functions is dropped by the linker, and its
//! missions vanish with it: write `use that_crate as _;` in your binary. A node logs the
//! missions it serves when it starts, so a missing one shows.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::wire::{Encoding, Offer};

/// What running a shim can fail with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyError {
    /// The arguments did not decode as the function's parameter types.
    BadArguments(String),
    /// The function panicked; the message is the panic's.
    Panic(String),
    /// The function ran, but its result cannot be encoded (in JSON, a map whose keys are
    /// not strings).
    Unencodable(String),
    /// A behaviour's instance is not (or no longer) running under that name.
    NoSuchInstance,
    /// A behaviour's instance did not answer (it ended, its mailbox was full, or it took
    /// longer than the call may live).
    ServerFailed(String),
}

/// The future a shim returns.
pub type ApplyFuture = Pin<Box<dyn Future<Output = Result<Vec<u8>, ApplyError>> + Send>>;

/// One function exported with `#[wtd_export(mission)]`.
#[derive(Debug)]
pub struct ExportedFn {
    /// The mission it belongs to.
    pub mission: &'static str,
    /// `module_path!()` where it was defined (the crate name is dropped when matching).
    pub module_path: &'static str,
    /// The function's name.
    pub name: &'static str,
    /// Number of arguments.
    pub arity: usize,
    /// Decode the arguments, run, encode the result.
    pub apply: fn(Encoding, Vec<u8>) -> ApplyFuture,
}

inventory::collect!(ExportedFn);

/// The module of a function as it travels on the wire: its module path without the crate
/// name (`my_app::demo` → `demo`), or the crate name for a function at the crate root.
///
/// Dropping the crate name lets two different programs (say, the `node` and `quickstart`
/// examples) that include the same module agree on the path.
pub fn wire_module(module_path: &str) -> &str {
    match module_path.split_once("::") {
        Some((_crate, rest)) => rest,
        None => module_path,
    }
}

/// What the program exports, indexed once.
struct Index {
    /// Keyed by `mission/module/function`.
    by_path: HashMap<String, &'static ExportedFn>,
    /// Paths exported more than once (by different crates that share a module name),
    /// with the Rust module paths exporting each: a node serving their mission refuses to
    /// start, since a call could reach either.
    twice: Vec<(String, Vec<&'static str>)>,
}

impl Index {
    fn build(entries: impl IntoIterator<Item = &'static ExportedFn>) -> Index {
        let mut by_path: HashMap<String, &'static ExportedFn> = HashMap::new();
        let mut twice: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
        for f in entries {
            let path = format!("{}/{}/{}", f.mission, wire_module(f.module_path), f.name);
            match by_path.get(&path) {
                Some(first) => twice
                    .entry(path)
                    .or_insert_with(|| vec![first.module_path])
                    .push(f.module_path),
                None => {
                    by_path.insert(path, f);
                }
            }
        }
        Index {
            by_path,
            twice: twice.into_iter().collect(),
        }
    }
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| Index::build(inventory::iter::<ExportedFn>))
}

/// The `mission/module/function` paths of `mission` that more than one crate exports, each
/// with the Rust module paths that export it (empty when none is).
pub fn exported_twice(mission: &str) -> Vec<(String, Vec<&'static str>)> {
    twice_in(index(), mission)
}

fn twice_in(index: &Index, mission: &str) -> Vec<(String, Vec<&'static str>)> {
    let prefix = format!("{mission}/");
    index
        .twice
        .iter()
        .filter(|(path, _)| path.starts_with(&prefix))
        .cloned()
        .collect()
}

/// Finds an exported function by mission, wire module and name.
pub fn lookup(mission: &str, module: &str, function: &str) -> Option<&'static ExportedFn> {
    index()
        .by_path
        .get(&format!("{mission}/{module}/{function}"))
        .copied()
}

/// Every mission exported in this program, with its functions as `module/function` and
/// its behaviours by wire name, sorted.
pub fn offers() -> Vec<Offer> {
    let mut missions: BTreeMap<&str, Offer> = BTreeMap::new();
    for f in index().by_path.values() {
        missions
            .entry(f.mission)
            .or_insert_with(|| empty_offer(f.mission))
            .functions
            .push(format!("{}/{}", wire_module(f.module_path), f.name));
    }
    for (mission, behaviour) in crate::gen_server::exposed_behaviours() {
        missions
            .entry(mission)
            .or_insert_with(|| empty_offer(mission))
            .behaviours
            .push(behaviour);
    }
    missions
        .into_values()
        .map(|mut offer| {
            offer.functions.sort();
            offer.behaviours.sort();
            offer
        })
        .collect()
}

fn empty_offer(mission: &str) -> Offer {
    Offer {
        mission: mission.to_string(),
        functions: Vec::new(),
        behaviours: Vec::new(),
    }
}

/// Decodes a call's argument tuple. For JSON, `[]` also stands for "no arguments".
pub fn decode_args<A: DeserializeOwned>(encoding: Encoding, bytes: &[u8]) -> Result<A, ApplyError> {
    match encoding {
        Encoding::Postcard => match crate::nesting::from_postcard::<A>(bytes) {
            Ok(args) => Ok(args),
            Err(crate::nesting::NestingError::Trailing(_)) => Err(ApplyError::BadArguments(
                "more argument bytes than the function takes".into(),
            )),
            Err(e) => Err(ApplyError::BadArguments(e.to_string())),
        },
        Encoding::Json => serde_json::from_slice::<A>(bytes).or_else(|e| {
            let empty =
                serde_json::from_slice::<Vec<serde_json::Value>>(bytes).is_ok_and(|v| v.is_empty());
            if empty {
                serde_json::from_slice::<A>(b"null")
                    .map_err(|_| ApplyError::BadArguments(e.to_string()))
            } else {
                Err(ApplyError::BadArguments(format!(
                    "{e} (pass the arguments as a JSON array, e.g. [2, 3])"
                )))
            }
        }),
    }
}

/// Encodes a function's result. Only JSON can fail (a map whose keys are not strings).
pub fn encode_result<R: Serialize>(encoding: Encoding, result: &R) -> Result<Vec<u8>, ApplyError> {
    match encoding {
        Encoding::Postcard => {
            postcard::to_allocvec(result).map_err(|e| ApplyError::Unencodable(e.to_string()))
        }
        Encoding::Json => {
            serde_json::to_vec(result).map_err(|e| ApplyError::Unencodable(e.to_string()))
        }
    }
}

/// Who is running an exported function, and for whom: see [`current_call`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    /// The node running the function (this node).
    pub node: String,
    /// The node that called it.
    pub caller: String,
    /// The mission it was called under.
    pub mission: String,
    /// The capability key the call was signed with.
    pub key: [u8; 32],
    /// This node's processes: where an exported function starts a process (a worker a
    /// supervisor on the caller's node asked for) or finds one by name.
    pub processes: crate::process::ProcessTable,
}

tokio::task_local! {
    static CONTEXT: CallContext;
}

thread_local! {
    static BLOCKING_CONTEXT: std::cell::RefCell<Option<CallContext>> =
        const { std::cell::RefCell::new(None) };
}

/// Inside an exported function: which node runs it and who called. `None` outside a
/// remote call (e.g. when the function is called locally).
///
/// Like Erlang's `node()`, this lets one program run several nodes that each keep their
/// own state, e.g. a counter per node.
pub fn current_call() -> Option<CallContext> {
    CONTEXT
        .try_with(Clone::clone)
        .ok()
        .or_else(|| BLOCKING_CONTEXT.with(|c| c.borrow().clone()))
}

/// Runs `future` with `context` as the [`current_call`].
pub(crate) async fn with_context<F: Future>(context: CallContext, future: F) -> F::Output {
    CONTEXT.scope(context, future).await
}

/// The shim body for a plain (blocking) function: decode, run on tokio's blocking pool so
/// a slow function never stalls the node, encode. A panic becomes [`ApplyError::Panic`].
pub fn apply_blocking<A, R, F>(encoding: Encoding, args: Vec<u8>, f: F) -> ApplyFuture
where
    A: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    F: FnOnce(A) -> R + Send + 'static,
{
    Box::pin(async move {
        let args = decode_args::<A>(encoding, &args)?;
        let context = current_call();
        let run = move || {
            /// Clears the context even if the function panics, so the next task on this
            /// pool thread never sees a stale caller.
            struct Clear;
            impl Drop for Clear {
                fn drop(&mut self) {
                    BLOCKING_CONTEXT.with(|c| *c.borrow_mut() = None);
                }
            }
            BLOCKING_CONTEXT.with(|c| *c.borrow_mut() = context);
            let _clear = Clear;
            f(args)
        };
        match tokio::task::spawn_blocking(run).await {
            Ok(result) => encode_result(encoding, &result),
            Err(e) => Err(ApplyError::Panic(panic_message(e))),
        }
    })
}

/// The shim body for an `async fn`: decode, run as its own task, encode.
pub fn apply_async<A, R, F, Fut>(encoding: Encoding, args: Vec<u8>, f: F) -> ApplyFuture
where
    A: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    F: FnOnce(A) -> Fut + Send + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    Box::pin(async move {
        let args = decode_args::<A>(encoding, &args)?;
        let task = match current_call() {
            Some(context) => tokio::spawn(CONTEXT.scope(context, f(args))),
            None => tokio::spawn(f(args)),
        };
        match task.await {
            Ok(result) => encode_result(encoding, &result),
            Err(e) => Err(ApplyError::Panic(panic_message(e))),
        }
    })
}

fn panic_message(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(payload) => {
            if let Some(s) = payload.downcast_ref::<&str>() {
                s.to_string()
            } else if let Some(s) = payload.downcast_ref::<String>() {
                s.clone()
            } else {
                "panic with a non-text payload".to_string()
            }
        }
        Err(_) => "the task was cancelled".to_string(),
    }
}

/// Where a typed stub sends its call: mission, module and name.
#[derive(Debug, Clone, Copy)]
pub struct FnPath {
    /// The mission.
    pub mission: &'static str,
    /// `module_path!()` of the function's module.
    pub module_path: &'static str,
    /// The function's name.
    pub name: &'static str,
}

impl FnPath {
    /// The module as it travels on the wire (see [`wire_module`]).
    pub fn module(&self) -> &'static str {
        wire_module(self.module_path)
    }
}

/// `module_path!()` as seen from inside the stub module `#[wtd_export]` generates (which
/// is named after the function) → the module of the function itself.
pub const fn parent_module(stub_module_path: &'static str) -> &'static str {
    let bytes = stub_module_path.as_bytes();
    let mut i = bytes.len();
    while i >= 2 {
        if bytes[i - 1] == b':' && bytes[i - 2] == b':' {
            let (head, _) = stub_module_path.split_at(i - 2);
            return head;
        }
        i -= 1;
    }
    stub_module_path
}

/// Implemented by every type that may cross the wire as an argument or result of an
/// exported function.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent to another node",
    label = "this type is not `Serialize + Deserialize`",
    note = "arguments and results of a `#[wtd_export]` function travel over the network as bytes: derive `serde::Serialize` and `serde::Deserialize` on `{Self}`, or use plain data (numbers, String, Vec, structs of those)"
)]
pub trait Remote: Serialize + DeserializeOwned + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Send + 'static> Remote for T {}

#[cfg(test)]
mod tests {
    use super::*;

    fn nothing(_: Encoding, _: Vec<u8>) -> ApplyFuture {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// `add` of mission `demo`, exported from the Rust module `module_path`.
    fn add_in(module_path: &'static str) -> &'static ExportedFn {
        Box::leak(Box::new(ExportedFn {
            mission: "demo",
            module_path,
            name: "add",
            arity: 2,
            apply: nothing,
        }))
    }

    #[test]
    fn a_path_two_crates_export_is_found_and_the_first_is_not_picked_silently() {
        let index = Index::build([
            add_in("crate_a::demo"),
            add_in("crate_b::demo"),
            add_in("crate_a::other"),
        ]);
        assert_eq!(
            twice_in(&index, "demo"),
            [(
                "demo/demo/add".to_string(),
                vec!["crate_a::demo", "crate_b::demo"]
            )]
        );
        assert!(twice_in(&index, "dem").is_empty(), "missions match whole");
        assert_eq!(index.by_path.len(), 2);
    }

    #[test]
    fn wire_module_drops_the_crate_name() {
        assert_eq!(wire_module("quickstart::demo"), "demo");
        assert_eq!(wire_module("app::a::b"), "a::b");
        assert_eq!(wire_module("app"), "app");
    }

    #[test]
    fn parent_module_drops_the_stub_name() {
        assert_eq!(parent_module("app::demo::add"), "app::demo");
        assert_eq!(parent_module("app"), "app");
    }

    #[test]
    fn json_arguments_decode_as_tuples() {
        let args: (i64, i64) = decode_args(Encoding::Json, b"[2, 3]").expect("decodes");
        assert_eq!(args, (2, 3));
        let (s,): (String,) = decode_args(Encoding::Json, br#"["hi"]"#).expect("decodes");
        assert_eq!(s, "hi");
        let () = decode_args(Encoding::Json, b"[]").expect("no arguments");
        assert!(decode_args::<(i64, i64)>(Encoding::Json, b"[2]").is_err());
    }

    #[test]
    fn postcard_arguments_refuse_trailing_bytes() {
        let mut bytes = crate::wire::encode(&(2i64, 3i64));
        assert_eq!(
            decode_args::<(i64, i64)>(Encoding::Postcard, &bytes),
            Ok((2, 3))
        );
        bytes.push(1);
        assert!(decode_args::<(i64, i64)>(Encoding::Postcard, &bytes).is_err());
    }
}
