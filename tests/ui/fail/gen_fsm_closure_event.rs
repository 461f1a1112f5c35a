use wtd::gen_fsm::{FsmEvent, FsmProcess, GenFsm, Transition};
use wtd::prelude::*;
use wtd::process::ExitReason;

#[derive(Clone, Debug, PartialEq)]
pub enum Light {
    Off,
    On,
}

pub struct Switch;

#[wtd_behaviour(lights)]
impl GenFsm for Switch {
    type State = Light;
    type Event = fn(Light) -> Light;
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
        match event {
            FsmEvent::Event(flip) => Transition::next(flip(light.clone())),
            _ => Transition::keep(),
        }
    }
}

fn main() {}
