//! [`FsmRequest`]: what a state machine's mailbox holds.

use tokio::sync::oneshot;

use super::behaviour::GenFsm;
use crate::gen_server::ReplyTo;
use crate::process::ExitReason;

/// One message to a state machine `F`: the message type of its process, so its Pid is a
/// `Pid<FsmRequest<F>>`. [`FsmRef`](super::FsmRef) builds these for you.
pub enum FsmRequest<F: GenFsm> {
    /// An event without a reply (`send_event`).
    Event(F::Event),
    /// An event with a reply (`sync_send_event`), and where its answer goes.
    Call(F::Call, ReplyTo<F::Reply>),
    /// An info message.
    Info(F::Info),
    /// Asks for the current state ([`FsmRef::state`](super::FsmRef::state)); answered by
    /// the loop, never seen by the callbacks.
    State(oneshot::Sender<F::State>),
    /// Stop with this reason ([`FsmRef::stop`](super::FsmRef::stop)).
    Stop(ExitReason),
}

impl<F: GenFsm> std::fmt::Debug for FsmRequest<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FsmRequest::Event(_) => "FsmRequest::Event",
            FsmRequest::Call(..) => "FsmRequest::Call",
            FsmRequest::Info(_) => "FsmRequest::Info",
            FsmRequest::State(_) => "FsmRequest::State",
            FsmRequest::Stop(_) => "FsmRequest::Stop",
        })
    }
}
