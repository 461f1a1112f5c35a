//! The HTTP client a node uses to talk to the proxy.
//!
//! ureq is blocking, so this runs only on the node's own threads (never on a tokio
//! worker). One `Agent` is shared so connections are kept alive and reused. Every request
//! but registration is wrapped in a [`Hop`] signed by the node key, so the proxy knows
//! which node is talking.
//!
//! Sends and receives (`/tx`, `/rx`) carry no socket timeout. Measured on this project's
//! 2-core test machine, read timeouts made a call's p50 900 µs instead of 620 µs: the
//! kernel arms and cancels a timer around every blocking read. Instead each send and
//! receive thread has an `Agent` of its own, and the node interrupts one whose request
//! takes far too long with `Agent::shutdown` (see `node/watchdog.rs`); a caller never waits past
//! its own call timeout either way. Pings, registration and goodbyes, which are rare, use
//! the shared agent and timeouts.
//!
//! A node may have several proxies ([`ProxyList`]): every request goes to the one in use
//! now, and its outcome (an answer, or none) is reported to the list, which moves the
//! node to the next proxy when the one in use stops answering.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::proxies::ProxyList;
use crate::wire::{
    self, Hop, Ping, PingReply, Register, Route, RxBatch, RxPoll, Signed, TxBatch, TxReply, domain,
};

/// What a request to the proxy can end with, short of success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// No answer, and the request never left this machine: the connection could not be
    /// made (refused, no route, name not found, a TLS handshake that failed). Nothing of
    /// it reached the proxy.
    NotSent(String),
    /// No answer after the request may have gone out: the connection was reset or closed,
    /// or timed out. The proxy may have acted on it (queued a call, say).
    Unreachable(String),
    /// The proxy does not know this node (it lost its data, or never had it).
    NotRegistered,
    /// Any other refusal: the HTTP status, the proxy's machine-readable name for it (its
    /// `wtd-error` header; empty if it sent none) and its explanation.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The refusal's code (`TooMany`, `NodeDown`, `ShuttingDown`, …).
        code: String,
        /// The proxy's explanation, for people.
        message: String,
    },
    /// An answer that is not what the protocol says the proxy sends.
    BadAnswer(String),
}

impl TransportError {
    /// As the error a program sees.
    pub fn into_error(self, url: &str) -> Error {
        match self {
            TransportError::NotSent(detail) | TransportError::Unreachable(detail) => {
                Error::ProxyUnreachable {
                    url: url.to_string(),
                    detail,
                }
            }
            TransportError::NotRegistered => Error::Proxy {
                status: 404,
                message: "this node is not registered with the proxy".into(),
            },
            TransportError::Refused {
                status, message, ..
            } => Error::Proxy { status, message },
            TransportError::BadAnswer(detail) => Error::BadProxyAnswer {
                url: url.to_string(),
                detail,
            },
        }
    }
}

/// A node's connection to its proxy.
pub struct Transport {
    agent: ureq::Agent,
    /// The node's proxies, and the one in use.
    proxies: ProxyList,
    node: String,
    key: SigningKey,
    counter: AtomicU64,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("proxy", &self.proxies.current())
            .field("node", &self.node)
            .finish()
    }
}

/// Longest time the proxy may hold a receive request.
pub const RX_WAIT: Duration = Duration::from_secs(20);

/// A new HTTP agent (its own connection pool) set up for talking to a proxy.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(5)))
        .max_idle_connections_per_host(16)
        // Well before the proxy closes an idle connection (20 s), so a request never
        // goes out on a connection the proxy is closing.
        .max_idle_age(Duration::from_secs(10))
        .build()
        .into()
}

impl Transport {
    /// A transport for node `node` signing with `key`, to the proxy at `base`.
    pub fn new(base: &str, node: &str, key: SigningKey) -> Transport {
        Transport::with_proxies(&[base.to_string()], node, key)
    }

    /// A transport for node `node` signing with `key`, to the first of `proxies` (not
    /// empty), moving to the next when the one in use stops answering.
    pub fn with_proxies(proxies: &[String], node: &str, key: SigningKey) -> Transport {
        // Counters start at the current time in microseconds, so they keep growing across
        // restarts of the node and the proxy's replay window never sees an old one again.
        let start = wire::now_ms().saturating_mul(1000);
        Transport {
            agent: agent(),
            proxies: ProxyList::new(node, proxies),
            node: node.to_string(),
            key,
            counter: AtomicU64::new(start),
        }
    }

    /// The base URL of the proxy in use now.
    pub fn url(&self) -> String {
        self.proxies.current()
    }

    /// The node's proxies, and the one in use.
    pub fn proxies(&self) -> &ProxyList {
        &self.proxies
    }

    /// `PUT /nodes/{name}`.
    pub fn register(&self, email: &str) -> Result<(), TransportError> {
        let message = Register {
            name: self.node.clone(),
            email: email.to_string(),
            node_key: self.key.verifying_key().to_bytes(),
            issued_at_ms: wire::now_ms(),
        };
        let body = Signed::sign(domain::REGISTER, &message, &self.key).to_bytes();
        let ticket = self.proxies.ticket();
        let url = format!("{}/nodes/{}", ticket.url, self.node);
        let result = send(
            &self.agent,
            "PUT",
            &url,
            body,
            Some(Duration::from_secs(10)),
        );
        self.proxies.outcome(&ticket, &result);
        result.map(|_| ())
    }

    /// `POST /ping`.
    pub fn ping(&self, ping: &Ping) -> Result<PingReply, TransportError> {
        self.hop(
            &self.agent,
            Route::Ping,
            "/ping".into(),
            ping,
            Some(Duration::from_secs(10)),
        )
    }

    /// `POST /tx/{node}` on `agent`, with no timeout: the caller watches for a hang.
    pub fn tx(&self, agent: &ureq::Agent, batch: &TxBatch) -> Result<TxReply, TransportError> {
        let path = format!("/tx/{}", self.node);
        self.hop(agent, Route::Tx, path, batch, None)
    }

    /// `POST /rx/{node}` on `agent`: held by the proxy until messages arrive or
    /// `poll.wait_ms` passes. No timeout: the caller watches for a hang.
    pub fn rx(&self, agent: &ureq::Agent, poll: &RxPoll) -> Result<RxBatch, TransportError> {
        let path = format!("/rx/{}", self.node);
        self.hop(agent, Route::Rx, path, poll, None)
    }

    /// `POST /bye`: tell the proxy this node is leaving.
    pub fn bye(&self) -> Result<(), TransportError> {
        let timeout = Some(Duration::from_secs(2));
        let _: () = self.hop(&self.agent, Route::Bye, "/bye".into(), &(), timeout)?;
        Ok(())
    }

    fn hop<B: Serialize, R: Serialize + DeserializeOwned>(
        &self,
        agent: &ureq::Agent,
        route: Route,
        path: String,
        body: &B,
        timeout: Option<Duration>,
    ) -> Result<R, TransportError> {
        let hop = Hop {
            node: self.node.clone(),
            route,
            counter: self.counter.fetch_add(1, Ordering::Relaxed),
            issued_at_ms: wire::now_ms(),
            body: wire::encode(body),
        };
        let signed = Signed::sign(domain::HOP, &hop, &self.key).to_bytes();
        let ticket = self.proxies.ticket();
        let url = format!("{}{path}", ticket.url);
        let answer = send(agent, "POST", &url, signed, timeout);
        self.proxies.outcome(&ticket, &answer);
        wire::decode_exact(&answer?).map_err(|e| TransportError::BadAnswer(e.to_string()))
    }
}

/// Sends one request; returns the body of a 2xx answer.
pub(crate) fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Vec<u8>,
    timeout: Option<Duration>,
) -> Result<Vec<u8>, TransportError> {
    let request = match method {
        "PUT" => agent.put(url),
        _ => agent.post(url),
    };
    let response = request
        .config()
        .timeout_global(timeout)
        .build()
        .header("content-type", "application/octet-stream")
        .send(&body[..]);
    let mut response = response.map_err(no_answer)?;
    let status = response.status().as_u16();
    let code = error_code(response.headers());
    let bytes = response
        .body_mut()
        .with_config()
        .limit(wire::MAX_BODY_BYTES as u64)
        .read_to_vec()
        .map_err(|e| TransportError::Unreachable(e.to_string()))?;
    match status {
        200..=299 => Ok(bytes),
        _ if code == wire::NOT_REGISTERED => Err(TransportError::NotRegistered),
        _ => Err(TransportError::Refused {
            status,
            code,
            message: String::from_utf8_lossy(&bytes).chars().take(500).collect(),
        }),
    }
}

/// A request that got no answer: [`TransportError::NotSent`] if it never left this
/// machine, else [`TransportError::Unreachable`].
fn no_answer(e: ureq::Error) -> TransportError {
    use std::io::ErrorKind;
    use ureq::Timeout;
    let never_sent = match &e {
        ureq::Error::Io(io) => matches!(
            io.kind(),
            ErrorKind::ConnectionRefused
                | ErrorKind::AddrNotAvailable
                | ErrorKind::NetworkUnreachable
                | ErrorKind::HostUnreachable
        ),
        ureq::Error::Timeout(timeout) => matches!(timeout, Timeout::Resolve | Timeout::Connect),
        ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::BadUri(_)
        | ureq::Error::Tls(_) => true,
        _ => false,
    };
    if never_sent {
        TransportError::NotSent(e.to_string())
    } else {
        TransportError::Unreachable(e.to_string())
    }
}

/// The proxy's machine-readable name for a refusal (its `wtd-error` header), or "".
pub(crate) fn error_code(headers: &ureq::http::HeaderMap) -> String {
    headers
        .get(wire::ERROR_HEADER)
        .and_then(|code| code.to_str().ok())
        .filter(|code| code.len() <= 32 && code.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_default()
        .to_string()
}

/// `PUT /apply/{node}/{mission}/{module}/{function}`: sends one signed call through the
/// proxy and returns the signed reply. For scripts, tests and clients that are not nodes;
/// nodes batch their calls through `/tx` and `/rx` instead.
pub fn apply(proxy: &str, call: &Signed, timeout: Duration) -> Result<Signed, Error> {
    let peeked: wire::Call = call.peek()?;
    let url = format!(
        "{}/apply/{}/{}",
        proxy.trim_end_matches('/'),
        peeked.callee,
        peeked.path()
    );
    let answer = send(&agent(), "PUT", &url, call.to_bytes(), Some(timeout))
        .map_err(|e| e.into_error(proxy))?;
    Signed::from_bytes(&answer).map_err(|e| Error::BadProxyAnswer {
        url: proxy.to_string(),
        detail: format!("not a signed reply: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call is failed at once only when its request surely never left: see
    /// `node/outbox.rs`.
    #[test]
    fn a_refused_connection_is_not_sent_and_a_broken_one_may_have_been() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/tx/alice", closed.local_addr().expect("addr"));
        drop(closed);
        let refused = send(
            &agent(),
            "POST",
            &url,
            vec![1],
            Some(Duration::from_secs(5)),
        );
        assert!(
            matches!(refused, Err(TransportError::NotSent(_))),
            "{refused:?}"
        );

        // A "proxy" that reads the request, then hangs up without answering.
        let rude = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/tx/alice", rude.local_addr().expect("addr"));
        let server = std::thread::spawn(move || {
            use std::io::Read;
            let (mut conn, _) = rude.accept().expect("the client connects");
            let mut request = [0u8; 1024];
            let _ = conn.read(&mut request);
        });
        let broken = send(
            &agent(),
            "POST",
            &url,
            vec![1],
            Some(Duration::from_secs(5)),
        );
        server.join().expect("joined");
        assert!(
            matches!(broken, Err(TransportError::Unreachable(_))),
            "{broken:?}"
        );
    }
}
