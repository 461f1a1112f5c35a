//! The watchdog: sends and receives have no socket timeout (it costs latency, see
//! `transport.rs`), so the ping thread watches them instead. A request stuck far longer
//! than the proxy ever takes (a connection that died silently, say after a Wi-Fi drop) is
//! interrupted, and its thread reconnects.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::lock;
use crate::transport::RX_WAIT;

/// A send taking this long means the proxy stopped answering.
const SEND_STUCK: Duration = Duration::from_secs(15);
/// The proxy answers a receive within `RX_WAIT`; this much longer means it stopped.
const RECEIVE_STUCK: Duration = Duration::from_secs(RX_WAIT.as_secs() + 15);

/// The watches of the receive thread and of each send thread.
pub(crate) struct Watchdog {
    /// The receive thread's long-poll.
    pub(crate) rx: Watch,
    /// One per send thread.
    pub(crate) tx: [Watch; super::SENDERS],
}

impl Watchdog {
    pub(crate) fn new() -> Watchdog {
        Watchdog {
            rx: Watch::default(),
            tx: Default::default(),
        }
    }

    /// Interrupts a send or receive stuck in one request for far too long: the thread
    /// gets an error at once and opens a new connection.
    pub(crate) fn interrupt_stuck(&self, node: &str) {
        if self.rx.stuck_for().is_some_and(|d| d > RECEIVE_STUCK) {
            tracing::warn!(%node, "the proxy has not answered a receive request in {RECEIVE_STUCK:?}; reconnecting");
            self.rx.interrupt();
        }
        for watch in &self.tx {
            if watch.stuck_for().is_some_and(|d| d > SEND_STUCK) {
                tracing::warn!(%node, "the proxy has not answered a send in {SEND_STUCK:?}; reconnecting");
                watch.interrupt();
            }
        }
    }

    /// Interrupts the requests in flight for longer than `since_moved`: made before the
    /// node moved to another proxy, they went to the proxy it left, which may hold them
    /// until [`RECEIVE_STUCK`]. The calls of a send so interrupted may or may not have
    /// reached that proxy: they wait for their reply until their timeout, and are never
    /// sent again (see `outbox.rs` and `docs/PROTOCOL.md`, "Failover").
    pub(crate) fn interrupt_made_before_move(&self, since_moved: Duration) {
        for watch in std::iter::once(&self.rx).chain(&self.tx) {
            if watch.stuck_for().is_some_and(|d| d > since_moved) {
                watch.interrupt();
            }
        }
    }

    /// Interrupts every request in flight (the node is stopping).
    pub(crate) fn interrupt_all(&self) {
        self.rx.interrupt();
        for watch in &self.tx {
            watch.interrupt();
        }
    }
}

/// Watches one send or receive thread: when its current request started, and the HTTP
/// agent it uses, so that a request stuck far too long can be interrupted.
#[derive(Default)]
pub(crate) struct Watch {
    /// Milliseconds on the node's monotonic clock when the request started, plus one
    /// (0: no request in flight).
    started: AtomicU64,
    /// The thread's own HTTP agent; taken (and shut down) to interrupt it.
    agent: Mutex<Option<ureq::Agent>>,
}

/// Milliseconds since the process first asked: a monotonic clock (wall-clock steps, as
/// when a Pi without a battery clock gets NTP time at boot, must not look like a hang).
fn monotonic_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
}

impl Watch {
    /// The thread's agent (a new one after an interruption), and marks a request started.
    pub(crate) fn begin(&self) -> ureq::Agent {
        let agent = lock(&self.agent)
            .get_or_insert_with(crate::transport::agent)
            .clone();
        self.started.store(monotonic_ms() + 1, Ordering::SeqCst);
        agent
    }

    /// Marks the request finished.
    pub(crate) fn end(&self) {
        self.started.store(0, Ordering::SeqCst);
    }

    fn stuck_for(&self) -> Option<Duration> {
        let started = self.started.load(Ordering::SeqCst);
        (started != 0).then(|| Duration::from_millis((monotonic_ms() + 1).saturating_sub(started)))
    }

    /// Interrupts the request in flight: it fails at once, and the thread's next request
    /// uses a new agent (a new connection).
    fn interrupt(&self) {
        if let Some(agent) = lock(&self.agent).take() {
            agent.shutdown();
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::TransportError;
    use std::sync::Arc;

    #[test]
    fn a_request_to_a_silent_server_is_interrupted() {
        // A "proxy" that accepts connections and never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/rx/alice", silent.local_addr().expect("addr"));
        let watch = Arc::new(Watch::default());
        let (done, finished) = std::sync::mpsc::channel();
        let thread = {
            let watch = watch.clone();
            std::thread::spawn(move || {
                let agent = watch.begin();
                let result = crate::transport::send(&agent, "POST", &url, vec![1], None);
                watch.end();
                let _ = done.send(result);
            })
        };
        let _conn = silent.accept().expect("the client connects");
        std::thread::sleep(Duration::from_millis(100));
        assert!(watch.stuck_for().is_some(), "the request is in flight");
        assert!(finished.try_recv().is_err(), "nothing answers, so it waits");

        watch.interrupt();
        let result = finished
            .recv_timeout(Duration::from_secs(10))
            .expect("the interrupted request returns");
        assert!(
            matches!(result, Err(TransportError::Unreachable(_))),
            "{result:?}"
        );
        thread.join().expect("joined");
        assert_eq!(watch.stuck_for(), None);
    }
}
