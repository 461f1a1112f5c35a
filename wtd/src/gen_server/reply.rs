//! [`ReplyTo`]: the handle a call is answered through, now or later (OTP's `From`).

use tokio::sync::oneshot;

/// Where the answer to one call goes. Answer with [`reply`](ReplyTo::reply), once: it
/// takes `self`, so the compiler refuses a second answer.
///
/// It is `Send`: keep it in the server's state, or give it to a task that computes the
/// answer, and reply when ready (OTP's `gen_server:reply(From, Reply)`). Dropping it
/// unanswered leaves the caller waiting until its timeout.
pub struct ReplyTo<R> {
    caller: oneshot::Sender<R>,
}

impl<R> ReplyTo<R> {
    /// A handle, and where the caller waits for the answer.
    pub(crate) fn new() -> (Self, oneshot::Receiver<R>) {
        let (caller, answer) = oneshot::channel();
        (ReplyTo { caller }, answer)
    }

    /// Sends the answer. If the caller has stopped waiting (it timed out), the answer is
    /// dropped: a late reply never reaches anyone.
    pub fn reply(self, value: R) {
        if self.caller.send(value).is_err() {
            tracing::debug!("a reply came after its caller stopped waiting; dropped");
        }
    }

    /// Whether the caller still waits (it has not timed out or gone).
    pub fn is_waiting(&self) -> bool {
        !self.caller.is_closed()
    }
}

impl<R> std::fmt::Debug for ReplyTo<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyTo")
            .field("waiting", &self.is_waiting())
            .finish()
    }
}
