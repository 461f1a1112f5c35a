//! Every way the proxy refuses a request, each with its HTTP status and a sentence that
//! says what happened and what to do. No refusal is a bare 500.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A refused request.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The body is not what the route expects.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The body is larger than allowed.
    #[error("request too large: {0}")]
    TooLarge(String),
    /// The body did not arrive in time.
    #[error("the request body did not arrive within {0} s: send it in one go")]
    SlowBody(u64),
    /// The hop signature does not verify, is replayed, or is out of the clock window.
    #[error("not authenticated: {0}")]
    Unauthenticated(String),
    /// The hop was signed before this proxy started, in its first 30 s (it could be a
    /// replay: the replay window is in memory). Its [`wtd_wire::ERROR_HEADER`] code,
    /// [`wtd_wire::SIGNED_BEFORE_START`], tells a node to sign the request again and retry.
    #[error(
        "not authenticated: this request was signed {0} ms before the proxy started, so it could be a \
         replay; send a new one (if it keeps happening, this node's clock is behind: enable NTP)"
    )]
    SignedBeforeStart(u64),
    /// The request was signed for another node or route.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// An `/apply` call the callee could not accept: its capability key is not among the
    /// keys the callee announced, or its signature does not verify. Refused before it
    /// costs the callee anything (see `state/gate.rs`).
    #[error("not accepted: {0}")]
    NotAccepted(String),
    /// The node is not registered. Its [`wtd_wire::ERROR_HEADER`] code,
    /// [`wtd_wire::NOT_REGISTERED`], tells a node to register again.
    #[error(
        "not registered: node `{0}` is not registered with this proxy; register it first (PUT /nodes/{0})"
    )]
    NotRegistered(String),
    /// The proxy approves registrations by hand, and the operator has not approved this
    /// one yet. A node retries by itself.
    #[error(
        "waiting for the operator of this proxy to approve `{0}`: the node retries by itself; ask the operator to run `wtd-proxy registrations approve {0}`"
    )]
    AwaitingApproval(String),
    /// The operator rejected this registration.
    #[error("the operator of this proxy rejected `{0}`: ask them why, or use another proxy")]
    Rejected(String),
    /// Another key holds this node name.
    #[error("the name `{0}` is taken by another node key: pick another name")]
    NameTaken(String),
    /// The callee is not connected.
    #[error("node `{0}` is not connected to this proxy")]
    NodeDown(String),
    /// A bound was reached: too many requests, polls, waiters or nodes.
    #[error("too many requests: {0}")]
    TooMany(String),
    /// No reply within the call's lifetime.
    #[error("no reply from `{0}` in time: the outcome is unknown")]
    Timeout(String),
    /// The database failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// The store the proxies share (Redis) cannot be reached right now. The request may
    /// be sent again (every request a node sends is safe to repeat: hops are signed with
    /// a new counter, messages are numbered), and succeeds once the store is back.
    #[error(
        "the proxy's store is unavailable: {0}; try again in a moment (if it lasts, the \
         proxy's operator should check its Redis)"
    )]
    StoreUnavailable(String),
    /// The proxy is shutting down.
    #[error("the proxy is shutting down: try again in a moment")]
    ShuttingDown,
}

impl ProxyError {
    /// The HTTP status of this refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::Malformed(_) => StatusCode::BAD_REQUEST,
            ProxyError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::SlowBody(_) => StatusCode::REQUEST_TIMEOUT,
            ProxyError::Unauthenticated(_) | ProxyError::SignedBeforeStart(_) => {
                StatusCode::UNAUTHORIZED
            }
            ProxyError::Forbidden(_) | ProxyError::NotAccepted(_) => StatusCode::FORBIDDEN,
            ProxyError::NotRegistered(_) => StatusCode::NOT_FOUND,
            ProxyError::NameTaken(_) => StatusCode::CONFLICT,
            ProxyError::AwaitingApproval(_) => StatusCode::FORBIDDEN,
            ProxyError::Rejected(_) => StatusCode::FORBIDDEN,
            ProxyError::NodeDown(_) => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            ProxyError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::Storage(_) => StatusCode::INSUFFICIENT_STORAGE,
            ProxyError::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl ProxyError {
    /// The machine-readable name of this refusal, sent in the [`wtd_wire::ERROR_HEADER`]
    /// header: clients act on it, never on the wording of the body.
    pub fn code(&self) -> &'static str {
        match self {
            ProxyError::Malformed(_) => "Malformed",
            ProxyError::TooLarge(_) => "TooLarge",
            ProxyError::SlowBody(_) => "SlowBody",
            ProxyError::Unauthenticated(_) => "Unauthenticated",
            ProxyError::SignedBeforeStart(_) => wtd_wire::SIGNED_BEFORE_START,
            ProxyError::Forbidden(_) => "Forbidden",
            ProxyError::NotAccepted(_) => wtd_wire::NOT_ACCEPTED,
            ProxyError::NotRegistered(_) => wtd_wire::NOT_REGISTERED,
            ProxyError::NameTaken(_) => "NameTaken",
            ProxyError::AwaitingApproval(_) => "AwaitingApproval",
            ProxyError::Rejected(_) => "Rejected",
            ProxyError::NodeDown(_) => "NodeDown",
            ProxyError::TooMany(_) => "TooMany",
            ProxyError::Timeout(_) => "Timeout",
            ProxyError::Storage(_) => "Storage",
            ProxyError::StoreUnavailable(_) => "StoreUnavailable",
            ProxyError::ShuttingDown => "ShuttingDown",
        }
    }
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = self.to_string();
        if status.is_server_error() {
            tracing::warn!(%status, "{body}");
        } else {
            tracing::debug!(%status, "{body}");
        }
        (
            status,
            [
                ("content-type", "text/plain; charset=utf-8"),
                (wtd_wire::ERROR_HEADER, self.code()),
            ],
            body,
        )
            .into_response()
    }
}
