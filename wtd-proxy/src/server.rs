//! The accept loop: HTTP/1.1 over TCP, with the bounds a server open to strangers needs.
//!
//! A relay on the internet meets clients that open connections and never finish a request
//! (slowloris), or hold thousands of them idle. Two bounds keep that from hurting anyone
//! else:
//!
//! * at most [`Config::max_connections`] connections are served at once; past that, new
//!   ones wait in the kernel's accept queue instead of using up file descriptors;
//! * a connection must deliver a request's headers within [`Config::read_timeout`], both
//!   when it opens and while it waits idle between requests, or it is closed. Nodes close
//!   their idle connections sooner than that (ureq drops them after 15 s), so they never
//!   race the proxy's close.
//!
//! The body has the same time again, and a size bound: see `read_body` in [`crate::routes`].
//!
//! [`Config::max_connections`]: crate::Config::max_connections
//! [`Config::read_timeout`]: crate::Config::read_timeout

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_service::Service;

/// The address a request came from, as a request extension. The proxy itself is meant to
/// face the internet directly; behind a reverse proxy every client shares its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::IpAddr);

/// The bounds of [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Longest wait for a request's headers, idle time included.
    pub read_timeout: Duration,
    /// How long a stop waits for requests in progress.
    pub drain: Duration,
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then lets the
/// requests in progress finish (at most `limits.drain`).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.read_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let mut warned_full: Option<tokio::time::Instant> = None;
    tokio::pin!(shutdown);

    loop {
        // Take a slot before accepting: at the bound, new clients wait in the backlog.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors or memory: wait instead of spinning. A client
                // that hung up before we took it needs no pause.
                if !is_per_connection(&e) {
                    tracing::warn!("cannot accept a connection: {e}; retrying in 100 ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                continue;
            }
        };
        if slots.available_permits() == 0 {
            let now = tokio::time::Instant::now();
            if warned_full.is_none_or(|t| now.duration_since(t) > Duration::from_secs(60)) {
                tracing::warn!(
                    "serving {} connections, the most allowed; new ones wait",
                    limits.max_connections
                );
                warned_full = Some(now);
            }
        }
        // Answers are small and latency is what matters: send them without Nagle's delay.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
        // Every request learns the address it came from (see [`ClientAddr`]).
        let app = app.clone();
        let service = service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ClientAddr(peer.ip()));
            // A Router is always ready, so it may be called without `poll_ready`.
            app.clone().call(request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(tcp), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection ended: {e}");
            }
            drop(slot);
        });
    }

    if tokio::time::timeout(limits.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "some requests were still running after {} s; stopping anyway",
            limits.drain.as_secs()
        );
    }
}

/// Accept errors that concern one connection only, which the next accept does not share.
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    )
}

/// `wanted`, lowered to leave room under the process's open-file limit (Linux reads it
/// from `/proc/self/limits`; elsewhere `wanted` is kept). Each connection is one file;
/// the database, the listener and logs need a few more.
pub fn fit_to_open_files(wanted: usize) -> usize {
    const RESERVED: usize = 64;
    let Some(limit) = open_file_limit() else {
        return wanted;
    };
    let fitted = wanted.min(limit.saturating_sub(RESERVED).max(16));
    if fitted < wanted {
        tracing::warn!(
            "serving at most {fitted} connections, not {wanted}: the open-file limit is \
             {limit} (raise it with `ulimit -n` or LimitNOFILE= in a systemd unit)"
        );
    }
    fitted
}

fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    // "Max open files            1024                 1048576              files"
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_bound_fits_under_the_open_file_limit() {
        let Some(limit) = open_file_limit() else {
            return; // Not Linux: nothing to read, nothing lowered.
        };
        assert!(limit > 0);
        assert_eq!(fit_to_open_files(1), 1);
        assert!(fit_to_open_files(usize::MAX) <= limit);
    }
}
