//! Exposing a supervisor to other nodes: the operations a holder of the mission's key
//! may ask ([`SupervisorRequest`]), their answers ([`SupervisorReply`]), and the shims
//! `#[wtd_behaviour(mission)]` registers for an `impl Supervisor`.
//!
//! The messages are the library's, the same for every supervisor, so the attribute has
//! no message types to check. The instance is found *typed*, as a gen_server's is: a
//! supervisor registered under that name but of another type (one without the attribute,
//! say) is not an instance of this behaviour and can never be reached.
//!
//! Remote holders may only look (`which_children`, `count_children`) and stop or start
//! again a child the supervisor already has (`terminate_child`, `restart_child`): they
//! cannot add a child (that would be running code of their choosing), delete one, or
//! stop the supervisor.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::behaviour::Supervisor;
use super::info::{ChildCounts, ChildError, ChildInfo};
use super::supervisor_ref::{Op, SupervisorMessage, SupervisorRef};
use crate::process::{ProcessError, ProcessTable};
use crate::registry::{ApplyError, ApplyFuture, encode_result};
use crate::wire::Encoding;

/// What another node may ask a supervisor. In JSON: `"WhichChildren"`,
/// `"CountChildren"`, `{"RestartChild": "worker"}`, `{"TerminateChild": "worker"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SupervisorRequest {
    /// Every child: [`SupervisorReply::Children`].
    WhichChildren,
    /// How many: [`SupervisorReply::Counts`].
    CountChildren,
    /// Start again the child with this id, which is not running.
    RestartChild(String),
    /// Stop the child with this id.
    TerminateChild(String),
}

/// The answer to a [`SupervisorRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SupervisorReply {
    /// The children, in start order.
    Children(Vec<ChildInfo>),
    /// The counts.
    Counts(ChildCounts),
    /// The restart or terminate was done.
    Done,
    /// The supervisor refused, and why.
    Refused(ChildError),
}

/// [`BehaviourEntry::running`](crate::gen_server::BehaviourEntry::running) for a
/// supervisor `S`.
pub fn supervisor_running<S: Supervisor>(table: &ProcessTable, instance: &str) -> bool {
    SupervisorRef::<S>::whereis(table, instance).is_ok_and(|supervisor| supervisor.is_alive())
}

/// [`BehaviourEntry::apply`](crate::gen_server::BehaviourEntry::apply) for a supervisor
/// `S`: decodes a [`SupervisorRequest`], has the named instance do it (waiting at most
/// `within` when a reply is wanted), encodes the [`SupervisorReply`].
pub fn supervisor_apply<S: Supervisor>(
    table: &ProcessTable,
    instance: &str,
    encoding: Encoding,
    message: Vec<u8>,
    want_reply: bool,
    within: Duration,
) -> ApplyFuture {
    let supervisor = SupervisorRef::<S>::whereis(table, instance);
    Box::pin(async move {
        let supervisor = supervisor.map_err(|_| ApplyError::NoSuchInstance)?;
        let request: SupervisorRequest = decode_request(encoding, &message)?;
        if !want_reply {
            queue(&supervisor, request).map_err(supervisor_failed)?;
            return Ok(Vec::new());
        }
        let reply = tokio::time::timeout(within, ask(&supervisor, request))
            .await
            .map_err(|_| supervisor_failed(ProcessError::Timeout { after: within }))?
            .map_err(supervisor_failed)?;
        encode_result(encoding, &reply)
    })
}

/// Has the supervisor do `request` and waits for its answer.
async fn ask<S: Supervisor>(
    supervisor: &SupervisorRef<S>,
    request: SupervisorRequest,
) -> Result<SupervisorReply, ProcessError> {
    let done = |answer: Result<(), ChildError>| match answer {
        Ok(()) => SupervisorReply::Done,
        Err(refused) => SupervisorReply::Refused(refused),
    };
    Ok(match request {
        SupervisorRequest::WhichChildren => {
            SupervisorReply::Children(supervisor.ask(Op::WhichChildren).await?)
        }
        SupervisorRequest::CountChildren => {
            SupervisorReply::Counts(supervisor.ask(Op::CountChildren).await?)
        }
        SupervisorRequest::RestartChild(id) => done(
            supervisor
                .ask(|answer| Op::RestartChild(id, answer))
                .await?,
        ),
        SupervisorRequest::TerminateChild(id) => done(
            supervisor
                .ask(|answer| Op::TerminateChild(id, answer))
                .await?,
        ),
    })
}

/// Queues `request` without waiting for the answer (a cast).
fn queue<S: Supervisor>(
    supervisor: &SupervisorRef<S>,
    request: SupervisorRequest,
) -> Result<(), ProcessError> {
    let op = match request {
        SupervisorRequest::WhichChildren => Op::WhichChildren(oneshot::channel().0),
        SupervisorRequest::CountChildren => Op::CountChildren(oneshot::channel().0),
        SupervisorRequest::RestartChild(id) => Op::RestartChild(id, oneshot::channel().0),
        SupervisorRequest::TerminateChild(id) => Op::TerminateChild(id, oneshot::channel().0),
    };
    supervisor.pid().send(SupervisorMessage::new(op))
}

fn supervisor_failed(e: ProcessError) -> ApplyError {
    match e {
        ProcessError::NotAlive { .. } => ApplyError::NoSuchInstance,
        e => ApplyError::ServerFailed(e.to_string()),
    }
}

/// Decodes one request: postcard (bounded nesting, no trailing bytes) or JSON.
fn decode_request(encoding: Encoding, bytes: &[u8]) -> Result<SupervisorRequest, ApplyError> {
    match encoding {
        Encoding::Postcard => {
            crate::nesting::from_postcard::<SupervisorRequest>(bytes).map_err(|e| match e {
                crate::nesting::NestingError::Trailing(_) => ApplyError::BadArguments(
                    "more message bytes than a supervisor request takes".into(),
                ),
                e => ApplyError::BadArguments(e.to_string()),
            })
        }
        Encoding::Json => serde_json::from_slice(bytes).map_err(|e| {
            ApplyError::BadArguments(format!(
                "{e} (a supervisor takes \"WhichChildren\", \"CountChildren\", {{\"RestartChild\": \"ID\"}} or {{\"TerminateChild\": \"ID\"}})"
            ))
        }),
    }
}
