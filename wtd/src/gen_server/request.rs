//! [`Request`]: what a gen_server's mailbox holds.

use super::behaviour::GenServer;
use super::reply::ReplyTo;
use crate::process::ExitReason;

/// One message to a gen_server `S`: the message type of its process, so its Pid is a
/// `Pid<Request<S>>`. [`ServerRef`](super::ServerRef) builds these for you; you meet the
/// type only when you look a server's Pid up yourself.
pub enum Request<S: GenServer> {
    /// A call, and where its answer goes.
    Call(S::Call, ReplyTo<S::Reply>),
    /// A cast.
    Cast(S::Cast),
    /// An info message.
    Info(S::Info),
    /// Stop with this reason ([`ServerRef::stop`](super::ServerRef::stop)).
    Stop(ExitReason),
}

impl<S: GenServer> std::fmt::Debug for Request<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Request::Call(..) => "Request::Call",
            Request::Cast(_) => "Request::Cast",
            Request::Info(_) => "Request::Info",
            Request::Stop(_) => "Request::Stop",
        })
    }
}
