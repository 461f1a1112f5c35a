//! Exposing an event manager to other nodes: the two shims `#[wtd_behaviour(mission)]`
//! registers for an `impl GenEvent` (see `gen_server/expose.rs` for the registration
//! itself, shared by every behaviour).
//!
//! A remote operation on `mission/behaviour@instance` is a `notify` when it wants no
//! reply, a `sync_notify` when it does; its message is one `Event`. The instance is
//! found *typed* in the node's table, so only a manager of this very kind, started by
//! name, can be reached.

use std::time::Duration;

use super::behaviour::GenEvent;
use super::manager::EventManager;
use crate::gen_server::{Message, server_failed};
use crate::process::ProcessTable;
use crate::registry::{ApplyError, ApplyFuture, encode_result};
use crate::wire::Encoding;

/// [`BehaviourEntry::running`](crate::gen_server::BehaviourEntry::running) for an event
/// manager of kind `K`.
pub fn gen_event_running<K: GenEvent>(table: &ProcessTable, instance: &str) -> bool {
    EventManager::<K>::whereis(table, instance).is_ok_and(|manager| manager.is_alive())
}

/// [`BehaviourEntry::apply`](crate::gen_server::BehaviourEntry::apply) for an event
/// manager of kind `K`: with `want_reply`, a `sync_notify` that waits at most `within`
/// and answers `()`; without, a `notify` that returns once the event is queued.
pub fn gen_event_apply<K>(
    table: &ProcessTable,
    instance: &str,
    encoding: Encoding,
    message: Vec<u8>,
    want_reply: bool,
    within: Duration,
) -> ApplyFuture
where
    K: GenEvent,
    K::Event: Message,
{
    let manager = EventManager::<K>::whereis(table, instance);
    Box::pin(async move {
        let manager = manager.map_err(|_| ApplyError::NoSuchInstance)?;
        let event: K::Event = decode_event(encoding, &message)?;
        if want_reply {
            manager
                .sync_notify_timeout(event, within)
                .await
                .map_err(server_failed)?;
            encode_result(encoding, &())
        } else {
            manager.notify(event).map_err(server_failed)?;
            Ok(Vec::new())
        }
    })
}

/// Decodes one event: postcard (bounded nesting, no trailing bytes) or JSON.
fn decode_event<E: Message>(encoding: Encoding, bytes: &[u8]) -> Result<E, ApplyError> {
    match encoding {
        Encoding::Postcard => crate::nesting::from_postcard::<E>(bytes).map_err(|e| match e {
            crate::nesting::NestingError::Trailing(_) => {
                ApplyError::BadArguments("more event bytes than the event type takes".into())
            }
            e => ApplyError::BadArguments(e.to_string()),
        }),
        Encoding::Json => serde_json::from_slice::<E>(bytes).map_err(|e| {
            ApplyError::BadArguments(format!(
                "{e} (an event manager takes one event, as the JSON of its Event type)"
            ))
        }),
    }
}
