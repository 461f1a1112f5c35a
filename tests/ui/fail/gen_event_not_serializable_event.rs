use wtd::gen_event::GenEvent;
use wtd::prelude::*;

/// Forgot `#[derive(Serialize, Deserialize)]`.
pub struct Alarm {
    pub text: String,
}

pub struct AlarmManager;

#[wtd_behaviour(alarms)]
impl GenEvent for AlarmManager {
    type Event = Alarm;
}

fn main() {}
