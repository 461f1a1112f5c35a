//! A supervisor exposed with `#[wtd_behaviour]`: it compiles, registers, and stays a
//! plain local supervisor too.

use wtd::prelude::*;
use wtd::process::Process;
use wtd::supervisor::{self, ChildError, ChildSpec, Starter, Supervisor, SupervisorSpec};

pub struct App;

#[wtd_behaviour(ops, name = "app")]
impl Supervisor for App {
    fn init(&mut self) -> SupervisorSpec {
        SupervisorSpec::one_for_one().child(ChildSpec::worker("idle", |start: Starter| async move {
            Ok(start.spawn(|mut me: Process<()>| async move {
                let _ = me.receive().await;
            }))
        }))
    }
}

/// Typed remote use, checked by rustc (not run: no proxy here).
#[allow(dead_code)]
async fn remote(peer: &Peer) -> Result<Result<(), ChildError>, Error> {
    let app = App::remote(peer, "app");
    let _children: Vec<supervisor::ChildInfo> = app.which_children().await?;
    let _counts: supervisor::ChildCounts = app.count_children().await?;
    app.terminate_child("idle").await?.ok();
    app.restart_child("idle").await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let offers = wtd::registry::offers();
    let ops = offers.iter().find(|o| o.mission == "ops").expect("registered");
    assert_eq!(ops.behaviours, ["app"]);
    let table = wtd::process::ProcessTable::new("alice");
    let app = supervisor::start_named(&table, "app", App).await.expect("starts");
    assert_eq!(app.count_children().await.expect("asked").active, 1);
    app.stop().await.expect("stops");
}
