//! Exposing a state machine to other nodes: the two generic shims `#[wtd_behaviour]`
//! registers for an `impl GenFsm` (its row in `wtd-macros/src/behaviour_kinds.rs`).
//!
//! Everything else is the gen_server's: the same [`BehaviourEntry`](crate::gen_server::BehaviourEntry)
//! in `inventory`, the same lookup by `mission/behaviour`, the same typed lookup of the
//! instance by name (a process of another type under that name is not found), and so
//! the same grants, rate limits, revocation, replay protection and audit in `serve.rs`.

use std::time::Duration;

use super::behaviour::GenFsm;
use super::fsm_ref::FsmRef;
use crate::gen_server::{Message, decode_message, server_failed};
use crate::process::ProcessTable;
use crate::registry::{ApplyError, ApplyFuture, encode_result};
use crate::wire::Encoding;

/// [`BehaviourEntry::running`](crate::gen_server::BehaviourEntry::running) for a state
/// machine `F`.
pub fn gen_fsm_running<F: GenFsm>(table: &ProcessTable, instance: &str) -> bool {
    FsmRef::<F>::whereis(table, instance).is_ok_and(|fsm| fsm.is_alive())
}

/// [`BehaviourEntry::apply`](crate::gen_server::BehaviourEntry::apply) for a state
/// machine `F`: with `want_reply`, the message is a `Call` (`sync_send_event`, waiting at
/// most `within`, what is left of the call's life); without, an `Event` (`send_event`,
/// done once queued).
pub fn gen_fsm_apply<F>(
    table: &ProcessTable,
    instance: &str,
    encoding: Encoding,
    message: Vec<u8>,
    want_reply: bool,
    within: Duration,
) -> ApplyFuture
where
    F: GenFsm,
    F::Event: Message,
    F::Call: Message,
    F::Reply: Message,
{
    let fsm = FsmRef::<F>::whereis(table, instance);
    Box::pin(async move {
        let fsm = fsm.map_err(|_| ApplyError::NoSuchInstance)?;
        if want_reply {
            let call: F::Call = decode_message(encoding, &message)?;
            let reply = fsm
                .sync_send_event_timeout(call, within)
                .await
                .map_err(server_failed)?;
            encode_result(encoding, &reply)
        } else {
            let event: F::Event = decode_message(encoding, &message)?;
            fsm.send_event(event).map_err(server_failed)?;
            Ok(Vec::new())
        }
    })
}
