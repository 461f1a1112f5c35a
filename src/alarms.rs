//! Mission `alarms`: an alarm manager (gen_event) that other nodes notify, and the
//! handlers its node adds to it (`examples/alarms.rs`, `tests/e2e/events.rs`).
//!
//! Other nodes reach a manager of kind [`AlarmManager`] as `alarms/alarms@NAME`, and may
//! only notify it; which handlers run is the business of the node that runs it.

use serde::{Deserialize, Serialize};
use wtd::gen_event::{EventHandler, GenEvent, Next};
use wtd::prelude::*;

/// How bad an alarm is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Level {
    /// For the record.
    Info,
    /// Someone should look, today.
    Warning,
    /// Someone should look, now.
    Critical,
}

/// One alarm, as a node raises it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alarm {
    /// Who raises it (a node's name, or anything).
    pub from: String,
    /// How bad it is.
    pub level: Level,
    /// What happened.
    pub text: String,
}

impl Alarm {
    /// An alarm from `from`.
    pub fn new(from: &str, level: Level, text: &str) -> Self {
        Alarm {
            from: from.into(),
            level,
            text: text.into(),
        }
    }
}

/// The kind of event manager that takes [`Alarm`]s: its name on the wire, nothing more.
pub struct AlarmManager;

/// Exposed to holders of mission `alarms`, as `alarms/alarms@NAME`: they may `notify`
/// and `sync_notify` a manager of this kind started by name.
#[wtd_behaviour(alarms, name = "alarms")]
impl GenEvent for AlarmManager {
    type Event = Alarm;
}

/// Keeps one line per alarm.
#[derive(Debug, Default)]
pub struct AlarmLog {
    /// `[Warning] bob: disk 91% full`, oldest first.
    pub lines: Vec<String>,
}

impl EventHandler<Alarm> for AlarmLog {
    async fn handle_event(&mut self, alarm: &Alarm) -> Next {
        self.lines.push(format!(
            "[{:?}] {}: {}",
            alarm.level, alarm.from, alarm.text
        ));
        Next::Continue
    }
}

/// Counts alarms, and the critical ones apart.
#[derive(Debug, Default)]
pub struct AlarmCount {
    /// Every alarm.
    pub total: u64,
    /// The critical ones.
    pub critical: u64,
}

impl EventHandler<Alarm> for AlarmCount {
    async fn handle_event(&mut self, alarm: &Alarm) -> Next {
        self.total += 1;
        if alarm.level == Level::Critical {
            self.critical += 1;
        }
        Next::Continue
    }
}

/// How many characters the pager's display holds.
pub const PAGER_DISPLAY: usize = 20;

/// Pages someone on each critical alarm — and has a bug: an alarm text longer than its
/// display makes it panic. The manager removes it then, and the others keep going.
#[derive(Debug, Default)]
pub struct Pager {
    /// What it paged, oldest first.
    pub paged: Vec<String>,
}

impl EventHandler<Alarm> for Pager {
    async fn handle_event(&mut self, alarm: &Alarm) -> Next {
        if alarm.level == Level::Critical {
            let chars = alarm.text.chars().count();
            assert!(
                chars <= PAGER_DISPLAY,
                "the pager's display holds {PAGER_DISPLAY} characters, this alarm has {chars}"
            );
            self.paged.push(alarm.text.clone());
        }
        Next::Continue
    }
}
