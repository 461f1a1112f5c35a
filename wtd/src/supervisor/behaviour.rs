//! The [`Supervisor`] trait, and the [`SupervisorSpec`] its `init` returns: how to
//! restart ([`Strategy`]), how often before giving up ([`Intensity`]), and which children.

use std::time::Duration;

use super::child_spec::ChildSpec;

/// A supervisor: a process that starts children, watches them, and restarts them when
/// they end, as OTP's `supervisor`.
///
/// You write one callback, [`init`](Self::init), which says what to supervise and how;
/// [`start`](super::start) runs the rest. The supervisor's process traps exits, so a
/// crashing child never takes it down: it gets the news and applies its [`Strategy`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), wtd::process::ProcessError> {
/// use wtd::process::ProcessTable;
/// use wtd::supervisor::{self, ChildSpec, Starter, Supervisor, SupervisorSpec};
///
/// struct App;
///
/// impl Supervisor for App {
///     fn init(&mut self) -> SupervisorSpec {
///         SupervisorSpec::one_for_one().child(ChildSpec::worker("ticker", |start: Starter| async move {
///             // A plain process, linked to the supervisor from its first instant.
///             Ok(start.spawn(|mut me: wtd::process::Process<()>| async move {
///                 let _ = me.receive().await;
///             }))
///         }))
///     }
/// }
///
/// let table = ProcessTable::new("alice");
/// let app = supervisor::start(&table, App).await?;
/// assert_eq!(app.count_children().await?.active, 1);
/// app.stop().await?;
/// # Ok(()) }
/// ```
pub trait Supervisor: Sized + Send + 'static {
    /// Runs first, in the supervisor's process: the strategy, the restart intensity and
    /// the children, started in this order before [`start`](super::start) returns.
    fn init(&mut self) -> SupervisorSpec;
}

/// Which children restart when one ends and must be restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Strategy {
    /// Only the child that ended: children that do not depend on each other.
    OneForOne,
    /// Every child: stop the others (in reverse start order), then start all again, in
    /// order. For children that cannot work without each other.
    OneForAll,
    /// The child that ended and every child started after it: for a chain where later
    /// children depend on earlier ones.
    RestForOne,
}

/// How many restarts a supervisor allows in a period before it gives up: it then stops
/// all its children and exits itself, so that its own supervisor (if any) can try a
/// bigger restart. Without this, a child that crashes at once would be restarted forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Intensity {
    /// At most this many restarts...
    pub max_restarts: u32,
    /// ...within any window this long.
    pub period: Duration,
}

impl Default for Intensity {
    /// OTP's default: 1 restart in 5 seconds.
    fn default() -> Self {
        Intensity {
            max_restarts: 1,
            period: Duration::from_secs(5),
        }
    }
}

/// What [`Supervisor::init`] returns: the strategy, the intensity and the children.
#[derive(Debug)]
pub struct SupervisorSpec {
    /// Which children restart together.
    pub strategy: Strategy,
    /// How many restarts before giving up.
    pub intensity: Intensity,
    /// The children, in start order (they stop in the reverse order).
    pub children: Vec<ChildSpec>,
}

impl SupervisorSpec {
    /// A spec with `strategy`, the default [`Intensity`] and no children yet.
    pub fn new(strategy: Strategy) -> Self {
        SupervisorSpec {
            strategy,
            intensity: Intensity::default(),
            children: Vec::new(),
        }
    }

    /// [`Strategy::OneForOne`].
    pub fn one_for_one() -> Self {
        SupervisorSpec::new(Strategy::OneForOne)
    }

    /// [`Strategy::OneForAll`].
    pub fn one_for_all() -> Self {
        SupervisorSpec::new(Strategy::OneForAll)
    }

    /// [`Strategy::RestForOne`].
    pub fn rest_for_one() -> Self {
        SupervisorSpec::new(Strategy::RestForOne)
    }

    /// Allows at most `max_restarts` restarts within `period` (OTP's `intensity` and
    /// `period`).
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.intensity = Intensity {
            max_restarts,
            period,
        };
        self
    }

    /// Adds a child, started after those added before it.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }
}
