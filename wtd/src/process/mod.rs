//! Processes, the way Erlang has them: small, isolated, talking only by messages, and
//! told when the others die.
//!
//! A process is a tokio task with a typed, bounded mailbox. You [`spawn`](ProcessTable::spawn)
//! it in a [`ProcessTable`], get back its [`Pid<M>`], and [`send`](Pid::send) it messages
//! of type `M`; inside, the process [`receive`](Process::receive)s them, with a timeout if
//! it likes, or selectively.
//!
//! What makes this more than a channel is what happens when a process ends:
//!
//! * it ends with an [`ExitReason`]: normal, or abnormal (a panic, an error, a kill);
//! * a panic ends only the process that panicked: it is caught at the process's edge
//!   and becomes [`ExitReason::Panic`]; the program and every other process go on;
//! * processes [linked](Process::link) to it end too if the exit was abnormal, unless
//!   they [trap exits](Process::trap_exit) and get an [`Exit`] message instead;
//! * processes [monitoring](Process::monitor) it get one [`Down`] message with the
//!   reason;
//! * its registered name, if it had one ([`ProcessTable::register`]), is freed.
//!
//! That is what lets OTP-style programs "let it crash": a [supervisor](crate::supervisor)
//! links to its workers, traps exits, and restarts the ones that die.
//!
//! # Where this departs from Erlang
//!
//! * Mailboxes are bounded ([`DEFAULT_MAILBOX_CAPACITY`]): a send to a full mailbox fails
//!   with [`ProcessError::MailboxFull`] instead of growing memory without limit. See
//!   the `mailbox` module.
//! * A send to a process that has ended fails with [`ProcessError::NotAlive`] instead of
//!   vanishing silently.
//! * Messages are typed: a `Pid<M>` only accepts `M`. Exits and downs arrive as
//!   [`Received::Exit`] and [`Received::Down`] beside [`Received::Message`].
//! * A killed process stops at its next `.await`, not between any two instructions.
//!
//! # Built on tokio, not an actor crate
//!
//! docs/ARCHITECTURE.md ("Processes") says why: a few hundred lines on tokio give us
//! links, monitors, trapped exits and a `Pid` whose wire form (a billet-doux) we decide;
//! the actor crates we weighed each shape one of those differently.

mod behaviour_start;
mod error;
mod exit;
mod mailbox;
mod names;
mod panic;
mod pid;
mod running;
mod signals;
mod spawn;
mod table;

pub use error::ProcessError;
pub use exit::{Down, Exit, ExitReason, MonitorRef};
pub use mailbox::Received;
pub use pid::{Pid, ProcessId};
pub use running::Process;
pub use spawn::{DEFAULT_MAILBOX_CAPACITY, SpawnOptions};
pub use table::ProcessTable;

pub(crate) use behaviour_start::{Started, start_behaviour};
pub(crate) use panic::{CatchPanic, panic_message};
