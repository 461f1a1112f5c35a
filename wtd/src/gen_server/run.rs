//! The loop a gen_server's process runs: receive one message, call the callback for it,
//! do what the callback says next; and at the end, `terminate`.

use std::future::Future;

use super::behaviour::{GenServer, Next, ServerProcess};
use super::request::Request;
use crate::process::Started;
use crate::process::{CatchPanic, ExitReason, ProcessError, ProcessId, Received};

/// The whole life of a gen_server process; returns its exit reason.
pub(crate) async fn serve<S: GenServer>(
    mut server: S,
    mut process: ServerProcess<S>,
    name: Option<String>,
    parent: Option<ProcessId>,
    started: Started,
) -> ExitReason {
    if let Some(name) = name
        && let Err(refused) = process.table().register(&name, process.pid())
    {
        // Someone else has the name: this server was never started, which is not a
        // crash. Unlink first so the starter is not told twice.
        unlink_parent(&process, parent);
        let _ = started.send(Err(refused));
        return ExitReason::Normal;
    }
    let init = match guarded(server.init(&process)).await {
        Ok(init) => init,
        Err(panicked) => Err(panicked),
    };
    if let Err(reason) = init {
        unlink_parent(&process, parent);
        let _ = started.send(Err(ProcessError::InitFailed {
            reason: reason.clone(),
        }));
        return reason;
    }
    let _ = started.send(Ok(()));

    loop {
        let handled = match process.receive().await {
            Received::Message(Request::Call(call, from)) => {
                guarded(server.handle_call(call, from, &process)).await
            }
            Received::Message(Request::Cast(cast)) => {
                guarded(server.handle_cast(cast, &process)).await
            }
            Received::Message(Request::Info(info)) => {
                guarded(server.handle_info(Received::Message(info), &process)).await
            }
            Received::Message(Request::Stop(reason)) => Ok(Next::Stop(reason)),
            // The starter ended while we trap exits: as an OTP gen_server whose parent
            // (its supervisor) ends, stop with the same reason.
            Received::Exit(exit) if exit.from.is_some() && exit.from == parent => {
                Ok(Next::Stop(exit.reason))
            }
            Received::Exit(exit) => {
                guarded(server.handle_info(Received::Exit(exit), &process)).await
            }
            Received::Down(down) => {
                guarded(server.handle_info(Received::Down(down), &process)).await
            }
        };
        let reason = match handled {
            Ok(Next::Continue) => continue,
            Ok(Next::Stop(reason)) => reason,
            Err(panicked) => panicked,
        };
        return match guarded(server.terminate(&reason, &process)).await {
            Ok(()) => reason,
            Err(panicked) => panicked,
        };
    }
}

/// Runs one callback; a panic in it becomes `Err(ExitReason::Panic)`, so the loop can
/// still run `terminate` before the process ends.
async fn guarded<T>(callback: impl Future<Output = T>) -> Result<T, ExitReason> {
    CatchPanic::new(callback).await.map_err(ExitReason::Panic)
}

fn unlink_parent<S: GenServer>(process: &ServerProcess<S>, parent: Option<ProcessId>) {
    if let Some(parent) = parent {
        process.table().unlink(process.pid().id(), parent);
    }
}
