use serde::{Deserialize, Serialize};
use wtd::gen_fsm::{FsmEvent, FsmProcess, GenFsm, Transition};
use wtd::prelude::*;
use wtd::process::ExitReason;

/// Forgot `#[derive(Serialize, Deserialize)]`: the state is the reply of a sync event.
#[derive(Clone, Debug, PartialEq)]
pub enum Light {
    Off,
    On,
}

#[derive(Serialize, Deserialize)]
pub enum Press {
    Toggle,
}

pub struct Switch;

#[wtd_behaviour(lights)]
impl GenFsm for Switch {
    type State = Light;
    type Event = Press;
    type Call = ();
    type Reply = Light;
    type Info = ();
    type Timeout = ();

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
            (Light::Off, FsmEvent::Event(Press::Toggle)) => Transition::next(Light::On),
            (Light::On, FsmEvent::Event(Press::Toggle)) => Transition::next(Light::Off),
            (light, FsmEvent::Call((), from)) => Transition::keep().reply(from, light.clone()),
            _ => Transition::keep(),
        }
    }
}

fn main() {}
