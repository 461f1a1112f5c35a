//! A gen_fsm exposed with `#[wtd_behaviour]`: it compiles, registers under its mission,
//! and stays a plain local state machine too. Its `Info` and `Timeout` stay local, so
//! they need no serde.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use wtd::gen_fsm::{self, FsmEvent, FsmProcess, GenFsm, Transition};
use wtd::prelude::*;
use wtd::process::ExitReason;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Light {
    Off,
    On,
}

#[derive(Serialize, Deserialize)]
pub enum Press {
    Toggle,
}

/// Not serde: never leaves the node.
pub struct Dim;

pub struct Switch;

#[wtd_behaviour(lights, name = "switch")]
impl GenFsm for Switch {
    type State = Light;
    type Event = Press;
    type Call = ();
    type Reply = Light;
    type Info = Dim;
    type Timeout = Dim;

    async fn init(&mut self, _: &FsmProcess<Self>) -> Result<Light, ExitReason> {
        Ok(Light::Off)
    }

    async fn handle_event(
        &mut self,
        light: &Light,
        event: FsmEvent<Self>,
        _: &FsmProcess<Self>,
    ) -> Transition<Self> {
        match (light, event) {
            (Light::Off, FsmEvent::Event(Press::Toggle)) => {
                Transition::next(Light::On).state_timeout(Duration::from_secs(60), Dim)
            }
            (_, FsmEvent::Event(Press::Toggle) | FsmEvent::StateTimeout(Dim)) => {
                Transition::next(Light::Off)
            }
            (light, FsmEvent::Call((), from)) => Transition::keep().reply(from, light.clone()),
            _ => Transition::keep(),
        }
    }
}

/// Typed remote use, checked by rustc (not run: no proxy here).
#[allow(dead_code)]
async fn remote(peer: &Peer) -> Result<Light, Error> {
    Switch::remote(peer, "hall").send_event(Press::Toggle).await?;
    Switch::remote(peer, "hall").sync_send_event(()).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let offers = wtd::registry::offers();
    let lights = offers.iter().find(|o| o.mission == "lights").expect("registered");
    assert_eq!(lights.behaviours, vec!["switch".to_string()]);
    let table = wtd::process::ProcessTable::new("alice");
    let switch = gen_fsm::start_named(&table, "hall", Switch).await.expect("starts");
    switch.send_event(Press::Toggle).expect("sent");
    assert_eq!(switch.sync_send_event(()).await.expect("local call"), Light::On);
    switch.stop().await.expect("stopped");
}
