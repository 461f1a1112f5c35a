//! The `#[wtd_export]` and `#[wtd_behaviour]` attributes of WTD. Use it through the `wtd` crate, which
//! re-exports it: `use wtd::prelude::*;`.
//!
//! # Layout
//!
//! One phase per file, each feeding the next:
//!
//! * `parse`: the attribute's mission name and the item it is on.
//! * `check`: every reason the function cannot be called from another node, each with
//!   a message saying what to write instead.
//! * `expand`: the stub module (`call`, `cast`, `PATH`), the shim a node runs when a
//!   call arrives, and its registration.
//! * `diag`: collects the errors of one invocation, so all are reported at once.
//! * `export`: runs the phases in order.
//! * `behaviour_parse`, `behaviour_check`, `behaviour_expand`, `behaviour`: the same
//!   phases for `#[wtd_behaviour]` on an `impl GenServer for Type` (the mission and
//!   wire name; message types that cannot travel; `Type::remote`, the shim and its
//!   registration).

#![warn(missing_docs)]

use proc_macro::TokenStream;

mod behaviour;
mod behaviour_check;
mod behaviour_expand;
mod behaviour_kinds;
mod behaviour_parse;
mod check;
mod diag;
mod expand;
mod export;
mod parse;

/// Exports a function: other nodes granted its mission may call it.
///
/// ```ignore
/// use wtd::prelude::*;
///
/// pub mod math {
///     use super::*;
///
///     /// Adds two numbers.
///     #[wtd_export(demo)]
///     pub fn add(a: i64, b: i64) -> i64 {
///         a + b
///     }
/// }
///
/// // On another node, holding a `Peer` for this one:
/// async fn use_it(peer: &wtd::Peer) -> Result<i64, wtd::Error> {
///     math::add::call(peer, 2, 3).await // Ok(5)
/// }
/// ```
///
/// The function stays as you wrote it, and you can still call it locally. Next to it
/// appears a module of the same name (functions and modules live in different
/// namespaces) with:
///
/// * `add::call(&peer, a, b).await`: runs `add` on `peer`'s node and returns its
///   result, or a `wtd::Error` if the call could not be made or was refused;
/// * `add::cast(&peer, a, b).await`: asks `peer`'s node to run it, without waiting;
/// * `add::PATH`: the mission, module and name that identify it on the wire.
///
/// The function is registered at startup, so a node serves it as soon as it runs:
/// there is no list to keep up to date.
///
/// # The mission
///
/// `#[wtd_export(demo)]` puts the function in mission `demo`; a key is granted access
/// to missions, not to single functions. Mission names are 1–64 characters of `a-z`,
/// `0-9`, `_` and `-`; write names with `-` as a string: `#[wtd_export("my-mission")]`.
///
/// # What can be exported
///
/// Arguments and results travel between nodes as bytes, so the function must be
/// callable with nothing but data:
///
/// * every argument and the result are plain data of one exact type: numbers, `bool`,
///   `String`, `Vec`, `Option`, `Result`, tuples, and your own structs and enums that
///   derive `serde::Serialize` and `serde::Deserialize`;
/// * arguments are taken by value: `String`, not `&str`; results are returned by value;
/// * no closures or function pointers (`impl Fn`, `fn(..)`, `Box<dyn Fn>`): code does
///   not travel; send data, or export that function too;
/// * no `impl Trait`, no generics, no lifetimes: the caller must know the exact types;
/// * a free function: no `self` (methods are not exported), not `unsafe`;
/// * `fn` or `async fn`. A plain `fn` runs on a thread pool meant for blocking work,
///   so it may block; an `async fn` runs as a task, so its future must be `Send`.
///
/// Breaking a rule is a compile error on the offending token that says what to write
/// instead.
#[proc_macro_attribute]
pub fn wtd_export(args: TokenStream, item: TokenStream) -> TokenStream {
    export::export(args.into(), item.into()).into()
}

/// Exposes a gen_server to other nodes: holders of the mission's key may call and cast
/// to its instances that are started *by name* on a node's process table.
///
/// ```ignore
/// use serde::{Deserialize, Serialize};
/// use wtd::gen_server::{GenServer, Next, ReplyTo, ServerProcess};
/// use wtd::prelude::*;
///
/// #[derive(Default)]
/// pub struct Counter(u64);
///
/// #[derive(Serialize, Deserialize)]
/// pub enum CounterCall { Incr(u64), Get }
///
/// #[wtd_behaviour(counting, name = "counter")]
/// impl GenServer for Counter {
///     type Call = CounterCall;
///     type Reply = u64;
///     type Cast = u64;
///     type Info = ();
///     async fn handle_call(&mut self, call: CounterCall, from: ReplyTo<u64>, _: &ServerProcess<Self>) -> Next {
///         if let CounterCall::Incr(n) = call { self.0 += n; }
///         from.reply(self.0);
///         Next::Continue
///     }
/// }
///
/// // On alice's node:
/// //     wtd::gen_server::start_named(node.processes(), "main", Counter::default()).await?;
/// // On bob's, holding a `Peer` for alice:
/// //     Counter::remote(&alice, "main").call(CounterCall::Incr(2)).await? // Ok(2)
/// ```
///
/// # Arguments
///
/// The mission (as in `#[wtd_export]`), and optionally `name = "..."`: the behaviour's
/// name on the wire. Without it, the name is the module path without the crate name and
/// the type (`counting::Counter`). Callers name an instance `mission/behaviour@instance`
/// (`wtd call alice counting/counter@main '{"Incr": 2}'`).
///
/// # What it needs
///
/// `Call`, `Reply` and `Cast` travel as bytes: they must derive `serde::Serialize` and
/// `serde::Deserialize`, and cannot be closures or function pointers. `Info` stays on its
/// node. The type cannot be generic. Each mistake is a compile error on the offending
/// token saying what to write instead.
#[proc_macro_attribute]
pub fn wtd_behaviour(args: TokenStream, item: TokenStream) -> TokenStream {
    behaviour::behaviour(args.into(), item.into()).into()
}
