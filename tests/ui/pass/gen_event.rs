//! An event manager kind exposed with `#[wtd_behaviour]`: it compiles, registers, and
//! its managers stay plain local managers too.

use serde::{Deserialize, Serialize};
use wtd::gen_event::{self, EventHandler, GenEvent, Next};
use wtd::prelude::*;

#[derive(Serialize, Deserialize)]
pub struct Alarm {
    pub text: String,
}

pub struct AlarmManager;

#[wtd_behaviour(alarms, name = "alarms")]
impl GenEvent for AlarmManager {
    type Event = Alarm;
}

#[derive(Default)]
pub struct Count(u64);

impl EventHandler<Alarm> for Count {
    async fn handle_event(&mut self, _: &Alarm) -> Next {
        self.0 += 1;
        Next::Continue
    }
}

/// Typed remote use, checked by rustc (not run: no proxy here).
#[allow(dead_code)]
async fn remote(peer: &Peer) -> Result<(), Error> {
    let alarms = AlarmManager::remote(peer, "main");
    alarms.notify(Alarm { text: "disk".into() }).await?;
    alarms.sync_notify(Alarm { text: "fan".into() }).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let offers = wtd::registry::offers();
    let alarms = offers.iter().find(|o| o.mission == "alarms").expect("registered");
    assert_eq!(alarms.behaviours, ["alarms"]);
    let table = wtd::process::ProcessTable::new("alice");
    let manager = gen_event::start_named::<AlarmManager>(&table, "main")
        .await
        .expect("starts");
    let count = manager.add_handler(Count::default()).await.expect("added");
    manager
        .sync_notify(Alarm { text: "disk".into() })
        .await
        .expect("handled");
    assert_eq!(manager.call(&count, |c| c.0).await.expect("local call"), 1);
}
