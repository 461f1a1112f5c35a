//! Catching a panic at the edge of a process, so that it ends that process only.
//!
//! A panic unwinds the stack of whatever polled the future that panicked. Tokio would
//! catch it at the task's edge too, but then the process could not turn it into an exit
//! reason that its links and monitors hear about. So the process's future is polled inside
//! [`std::panic::catch_unwind`]: the panic stops there, and its message becomes
//! [`ExitReason::Panic`](super::ExitReason::Panic).
//!
//! This needs unwinding: a program built with `panic = "abort"` dies on any panic, as
//! every Rust program does. WTD's profiles keep unwinding on.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A future that finishes with `Err(message)` instead of unwinding when the future
/// inside panics. It must not be polled again after that (nobody does: it is finished).
pub(crate) struct CatchPanic<F> {
    inner: Pin<Box<F>>,
}

impl<F: Future> CatchPanic<F> {
    pub(crate) fn new(inner: F) -> Self {
        CatchPanic {
            inner: Box::pin(inner),
        }
    }
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // `AssertUnwindSafe`: after a panic the inner future is never polled again, only
        // dropped, so no one sees the state it was left in.
        match catch_unwind(AssertUnwindSafe(|| self.inner.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}

/// The message a panic was given (`panic!("…")` gives a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_string()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic without a message".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_its_message() {
        let answer = 42;
        let caught = CatchPanic::new(async move { assert!(answer < 0, "boom {answer}") }).await;
        assert_eq!(caught, Err("boom 42".to_string()));
        assert_eq!(CatchPanic::new(async { 7 }).await, Ok(7));
    }
}
