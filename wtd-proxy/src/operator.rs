//! The operator's side: list, approve, reject and remove registrations while the proxy
//! runs (the registry is one file the running proxy holds, so the commands ask it).
//!
//! The proxy serves these routes on a loopback address only, and each request must carry
//! the token the proxy wrote into its data folder (`operator.json`, readable by its owner
//! alone): whoever can read the proxy's data folder on its machine is its operator.
//! `wtd-proxy registrations …` reads that file and makes the request ([`request`]).
//!
//! * `GET /registrations`: every registration, with email, key and times (JSON).
//! * `POST /registrations/{name}/approve`, `POST /registrations/{name}/reject`,
//!   `DELETE /registrations/{name}`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path as UrlPath, Request, State as Axum};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};

use crate::error::ProxyError;
use crate::state::State;
use crate::store::Store;

/// The header carrying the operator's token.
pub const TOKEN_HEADER: &str = "wtd-operator-token";
/// The file in the data folder saying where the operator endpoint is, and its token.
pub const FILE: &str = "operator.json";

/// What `operator.json` holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct Endpoint {
    /// The loopback address of the operator's routes.
    pub address: SocketAddr,
    /// The token every request must carry.
    pub token: String,
}

/// One registration as the operator sees it (`GET /registrations`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Registration {
    /// The node's name.
    pub name: String,
    /// `approved`, `pending` or `rejected`.
    pub status: String,
    /// The owner's email.
    pub email: String,
    /// The first 16 hex digits of the node key.
    pub key: String,
    /// When it registered, ms since the Unix epoch.
    pub registered_at_ms: u64,
    /// When it was last online, ms since the Unix epoch.
    pub last_seen_ms: u64,
}

/// Writes `operator.json` (owner-only) with a new random token; returns the token.
pub fn publish(data_dir: &Path, address: SocketAddr) -> Result<String, ProxyError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ProxyError::Storage(e.to_string()))?;
    let endpoint = Endpoint {
        address,
        token: hex::encode(bytes),
    };
    let path = data_dir.join(FILE);
    let json = serde_json::to_vec_pretty(&endpoint).unwrap_or_default();
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(data_dir)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&path)?.write_all(&json)
    };
    write().map_err(|e| ProxyError::Storage(format!("cannot write {}: {e}", path.display())))?;
    Ok(endpoint.token)
}

/// The operator's routes, each checked for `token`.
pub fn router<S: Store>(state: Arc<State<S>>, token: String) -> Router {
    Router::new()
        .route("/registrations", get(list::<S>))
        .route("/registrations/{name}/approve", post(approve::<S>))
        .route("/registrations/{name}/reject", post(reject::<S>))
        .route("/registrations/{name}", delete(remove::<S>))
        .layer(middleware::from_fn_with_state(Arc::new(token), check_token))
        .with_state(state)
}

async fn check_token(Axum(token): Axum<Arc<String>>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(TOKEN_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    // Same length and every byte compared: the time taken says nothing about the token.
    let same = given.len() == token.len()
        && given
            .iter()
            .zip(token.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return (
            StatusCode::UNAUTHORIZED,
            "the operator token is missing or wrong: use `wtd-proxy registrations` with the proxy's --data folder",
        )
            .into_response();
    }
    next.run(request).await
}

async fn list<S: Store>(Axum(state): Axum<Arc<State<S>>>) -> Response {
    let mut all: Vec<Registration> = state
        .observe()
        .await
        .nodes
        .into_iter()
        .map(|n| Registration {
            status: match (n.approved, n.rejected) {
                (true, _) => "approved",
                (false, true) => "rejected",
                (false, false) => "pending",
            }
            .to_string(),
            name: n.name,
            email: n.email,
            key: hex::encode(&n.node_key[..8]),
            registered_at_ms: n.registered_at_ms,
            last_seen_ms: n.last_seen_ms,
        })
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(&all).unwrap_or_default(),
    )
        .into_response()
}

fn done(found: bool, name: &str, what: &str) -> Response {
    if found {
        (StatusCode::OK, format!("{what} `{name}`")).into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            format!(
                "`{name}` is not registered with this proxy: see `wtd-proxy registrations list`"
            ),
        )
            .into_response()
    }
}

async fn approve<S: Store>(
    Axum(state): Axum<Arc<State<S>>>,
    UrlPath(name): UrlPath<String>,
) -> Result<Response, ProxyError> {
    Ok(done(state.decide(&name, true).await?, &name, "approved"))
}

async fn reject<S: Store>(
    Axum(state): Axum<Arc<State<S>>>,
    UrlPath(name): UrlPath<String>,
) -> Result<Response, ProxyError> {
    Ok(done(state.decide(&name, false).await?, &name, "rejected"))
}

async fn remove<S: Store>(
    Axum(state): Axum<Arc<State<S>>>,
    UrlPath(name): UrlPath<String>,
) -> Result<Response, ProxyError> {
    Ok(done(
        state.release(&name).await?,
        &name,
        "removed (the name is free again)",
    ))
}

/// One request to the running proxy's operator endpoint found in `data_dir`: the status
/// and the body. A few lines of HTTP/1.1 by hand: the proxy binary has no HTTP client.
pub fn request(data_dir: &Path, method: &str, path: &str) -> Result<(u16, String), String> {
    let file = data_dir.join(FILE);
    let text = std::fs::read_to_string(&file).map_err(|e| {
        format!(
            "cannot read {}: {e}. Is a proxy running with --data {}? (the operator's commands ask the running proxy)",
            file.display(),
            data_dir.display()
        )
    })?;
    let endpoint: Endpoint = serde_json::from_str(&text)
        .map_err(|e| format!("{} is damaged: {e}; restart the proxy", file.display()))?;
    let mut stream = TcpStream::connect_timeout(&endpoint.address, Duration::from_secs(5))
        .map_err(|e| {
            format!(
                "cannot reach the proxy's operator endpoint at {}: {e}. Is the proxy using {} running?",
                endpoint.address,
                data_dir.display()
            )
        })?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\n{TOKEN_HEADER}: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        endpoint.address, endpoint.token
    );
    stream
        .write_all(head.as_bytes())
        .map_err(|e| format!("cannot send to the proxy: {e}"))?;
    let mut answer = Vec::new();
    stream
        .take(16 * 1024 * 1024)
        .read_to_end(&mut answer)
        .map_err(|e| format!("no answer from the proxy: {e}"))?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("the proxy's answer is not HTTP: {head:?}"))?;
    Ok((status, body.to_string()))
}
