//! The HTTP routes. Each handler is a thin layer: read the body, let [`State`] decide,
//! turn the answer into bytes. docs/PROTOCOL.md documents every route.
//!
//! Handlers are generic over the [`Store`] behind the state; see [`crate::store`] for why.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State as Axum};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Router};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;
use wtd_wire::{self as wire, JsonDirectory, JsonNode, Route, RxBatch, Signed, TxBatch, TxReply};

use crate::clients::Turned;
use crate::error::ProxyError;
use crate::server::ClientAddr;
use crate::state::State;
use crate::store::Store;

type Shared<S> = Arc<State<S>>;

/// Every route of the proxy.
pub fn router<S: Store>(state: Shared<S>) -> Router {
    let app = if state.config.dashboard {
        crate::dashboard::routes::<S>()
    } else {
        Router::new()
    };
    app.route("/api/directory", get(directory_json::<S>))
        .route("/nodes/{name}", put(register::<S>))
        .route("/ping", post(ping::<S>))
        .route("/bye", post(bye::<S>))
        .route("/tx/{node}", post(tx::<S>))
        .route("/rx/{node}", post(rx::<S>))
        .route(
            "/apply/{node}/{mission}/{module}/{function}",
            put(apply_function::<S>),
        )
        .route(
            "/apply/{node}/{mission}/{instance}",
            put(apply_behaviour::<S>),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            read_body::<S>,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_refusals::<S>,
        ))
        // `read_body` bounds every body; axum's own default limit would be a second one.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// Reads every request's body before its handler runs: refused at once if it announces
/// more than [`wire::MAX_BODY_BYTES`], as soon as it sends more, and if it does not arrive
/// within the read timeout (a client trickling a body would otherwise hold a task and a
/// connection for as long as it likes).
///
/// Memory: the first [`FREE_BODY_BYTES`] of a body need nothing (every message a node
/// sends in normal work is smaller); the bytes past them are taken from a budget shared by
/// all requests ([`crate::Config::large_bodies`]), held until the answer is sent. Clients
/// sending large bodies and stalling can only hold up other large bodies, never memory
/// past the budget.
async fn read_body<S: Store>(
    Axum(state): Axum<Shared<S>>,
    request: Request,
    next: Next,
) -> Response {
    let too_large = || {
        ProxyError::TooLarge(format!(
            "the body is larger than {} bytes",
            wire::MAX_BODY_BYTES
        ))
        .into_response()
    };
    let (parts, mut body) = request.into_parts();
    let announced = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > wire::MAX_BODY_BYTES as u64) {
        return too_large();
    }
    let limit = state.config.read_timeout;
    let deadline = tokio::time::Instant::now() + limit;
    let slow = || ProxyError::SlowBody(limit.as_secs()).into_response();
    let mut bytes = Vec::new();
    let mut budget: Option<OwnedSemaphorePermit> = None;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return slow(),
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return ProxyError::Malformed(format!("the body could not be read: {e}"))
                    .into_response();
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue; // Trailers: nothing to keep.
        };
        let total = bytes.len() + data.len();
        if total > wire::MAX_BODY_BYTES {
            return too_large();
        }
        // KiB of budget this body needs now, past its free part, and what it holds.
        let needed = total.saturating_sub(FREE_BODY_BYTES).div_ceil(1024) as u32;
        let held = budget.as_ref().map_or(0, |p| p.num_permits() as u32);
        if needed > held {
            let more = state.large_bodies.clone().acquire_many_owned(needed - held);
            match tokio::time::timeout_at(deadline, more).await {
                Ok(Ok(permit)) => match budget.as_mut() {
                    Some(budget) => budget.merge(permit),
                    None => budget = Some(permit),
                },
                Ok(Err(_)) => return ProxyError::ShuttingDown.into_response(),
                Err(_) => return slow(),
            }
        }
        bytes.extend_from_slice(&data);
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    drop(budget);
    response
}

/// Counts every refused request by its code, for the dashboard.
async fn count_refusals<S: Store>(
    Axum(state): Axum<Shared<S>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    if let Some(code) = response
        .headers()
        .get(wire::ERROR_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        state.stats.refused(code);
    }
    response
}

/// The part of each body that is read without taking from the shared budget.
pub const FREE_BODY_BYTES: usize = 64 * 1024;

fn postcard<T: Serialize>(value: &T) -> Response {
    (
        [(header::CONTENT_TYPE, "application/octet-stream")],
        wire::encode(value),
    )
        .into_response()
}

fn decode<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<T, ProxyError> {
    wire::decode_exact(bytes).map_err(|e| ProxyError::Malformed(e.to_string()))
}

async fn register<S: Store>(
    Axum(state): Axum<Shared<S>>,
    client: Option<Extension<ClientAddr>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ProxyError> {
    // Without an address (a router driven in-process), all such callers share one.
    let ip = client.map_or(IpAddr::from([0, 0, 0, 0]), |Extension(ClientAddr(ip))| ip);
    state.register(&name, &body, ip).await?;
    Ok(postcard(&()))
}

async fn ping<S: Store>(Axum(state): Axum<Shared<S>>, body: Bytes) -> Result<Response, ProxyError> {
    let (node, body) = state.authenticate(Route::Ping, None, &body).await?;
    let ping: wire::Ping = decode(&body)?;
    Ok(postcard(&state.ping(&node, ping).await?))
}

async fn bye<S: Store>(Axum(state): Axum<Shared<S>>, body: Bytes) -> Result<Response, ProxyError> {
    let (node, _) = state.authenticate(Route::Bye, None, &body).await?;
    state.bye(&node).await?;
    Ok(postcard(&()))
}

async fn tx<S: Store>(
    Axum(state): Axum<Shared<S>>,
    Path(node): Path<String>,
    body: Bytes,
) -> Result<Response, ProxyError> {
    let (from, body) = state.authenticate(Route::Tx, Some(&node), &body).await?;
    let batch: TxBatch = decode(&body)?;
    if batch.envelopes.len() > wire::MAX_BATCH_LEN {
        return Err(ProxyError::TooLarge(format!(
            "at most {} envelopes per batch",
            wire::MAX_BATCH_LEN
        )));
    }
    let mut statuses = Vec::with_capacity(batch.envelopes.len());
    for e in batch.envelopes {
        // With the ack, one call can be followed from caller to proxy to callee
        // (`RUST_LOG=wtd=debug,wtd_proxy=debug`).
        let span = tracing::debug_span!("relay", %from, to = %e.to, kind = ?e.kind, ack = %hex::encode(e.ack));
        let status = state
            .deliver(Some(&from), &e.to, e.kind, e.ack, e.bytes)
            .instrument(span.clone())
            .await?;
        span.in_scope(|| tracing::debug!(?status, "relayed"));
        statuses.push(status);
    }
    Ok(postcard(&TxReply { statuses }))
}

async fn rx<S: Store>(
    Axum(state): Axum<Shared<S>>,
    Path(node): Path<String>,
    body: Bytes,
) -> Result<Response, ProxyError> {
    let (node, body) = state.authenticate(Route::Rx, Some(&node), &body).await?;
    let poll: wire::RxPoll = decode(&body)?;
    let mail = state.receive(&node, poll).await?;
    Ok(postcard(&RxBatch {
        epoch: state.epoch,
        messages: mail.messages,
        directory: mail.directory,
    }))
}

/// `PUT /apply/{node}/{mission}/{module}/{function}`: a call to an exported function.
async fn apply_function<S: Store>(
    state: Axum<Shared<S>>,
    client: Option<Extension<ClientAddr>>,
    Path((node, mission, module, function)): Path<(String, String, String, String)>,
    body: Bytes,
) -> Result<Response, ProxyError> {
    apply(
        state,
        client,
        node,
        format!("{mission}/{module}/{function}"),
        body,
    )
    .await
}

/// `PUT /apply/{node}/{mission}/{behaviour}@{instance}`: a call to a named instance of a
/// behaviour (wire version 3).
async fn apply_behaviour<S: Store>(
    state: Axum<Shared<S>>,
    client: Option<Extension<ClientAddr>>,
    Path((node, mission, instance)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, ProxyError> {
    apply(state, client, node, format!("{mission}/{instance}"), body).await
}

/// One call, answered in the response. `path` is the call's path as the URL spells it:
/// a routing hint that must match the signed call's own.
async fn apply<S: Store>(
    Axum(state): Axum<Shared<S>>,
    client: Option<Extension<ClientAddr>>,
    node: String,
    path: String,
    body: Bytes,
) -> Result<Response, ProxyError> {
    // Without an address (a router driven in-process), all such callers share one.
    let ip = client.map_or(IpAddr::from([0, 0, 0, 0]), |Extension(ClientAddr(ip))| ip);
    let _slot = state
        .clients
        .admit(ip)
        .map_err(|turned| ProxyError::TooMany(turned.to_string()))?;
    let signed = Signed::from_bytes(&body).map_err(|e| ProxyError::Malformed(e.to_string()))?;
    let call: wire::Call = signed
        .peek()
        .map_err(|e| ProxyError::Malformed(e.to_string()))?;
    call.check_bounds()
        .map_err(|e| ProxyError::Malformed(e.to_string()))?;
    if node != call.callee || path != call.path() {
        return Err(ProxyError::Malformed(format!(
            "the URL names {node}/{path} but the signed call is for {}/{}",
            call.callee,
            call.path()
        )));
    }
    if !call.want_reply {
        return Err(ProxyError::Malformed(
            "/apply waits for a reply: sign the call with want_reply = true".into(),
        ));
    }
    if call.ack == [0; 16] {
        // The all-zero ack is what a version refusal carries (it cannot know the ack of a
        // call it cannot read): a waiter on it could be handed someone else's refusal.
        return Err(ProxyError::Malformed(
            "the ack must be random: the all-zero ack is reserved".into(),
        ));
    }
    let span = tracing::debug_span!("apply", callee = %call.callee, ack = %hex::encode(call.ack), path = %call.path());
    let reply = state
        .apply(&call, &signed, body.to_vec())
        .instrument(span)
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], reply).into_response())
}

/// Nodes in one page of `GET /api/directory` unless `limit` says fewer; at most
/// [`MAX_PAGE`].
pub const DEFAULT_PAGE: usize = 500;
/// Most nodes in one page: with lines of at most 16 KiB, a page stays within 8 MiB of
/// JSON even at worst (a node offering a few missions takes about 300 bytes).
pub const MAX_PAGE: usize = 1000;

/// The query of `GET /api/directory`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    /// The page of nodes whose names sort after this one.
    after: Option<String>,
    /// Nodes per page.
    limit: Option<usize>,
    /// What changed since this version, instead of a page.
    since: Option<u64>,
}

pub(crate) async fn directory_json<S: Store>(
    Axum(state): Axum<Shared<S>>,
    client: Option<Extension<ClientAddr>>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, ProxyError> {
    let _slot = admit_reader(&state, client)?;
    let Query(query) = query.map_err(|_| {
        ProxyError::Malformed(
            "the query must be `?after=NAME&limit=N` or `?since=VERSION`, N and VERSION \
             whole numbers"
                .into(),
        )
    })?;
    let json = json_directory(&state, &query).await?;
    // Plain strings, numbers and lists: serializing them cannot fail.
    let body = serde_json::to_vec(&json).unwrap_or_default();
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Each directory or stats read needs no key: so one address may make a few a second
/// ([`crate::Config::directory_reads_per_client`]).
pub(crate) fn admit_reader<S: Store>(
    state: &State<S>,
    client: Option<Extension<ClientAddr>>,
) -> Result<crate::clients::Slot, ProxyError> {
    let ip = client.map_or(IpAddr::from([0, 0, 0, 0]), |Extension(ClientAddr(ip))| ip);
    state.directory_readers.admit(ip).map_err(|turned| {
        ProxyError::TooMany(match turned {
            Turned::Rate(n) => format!(
                "this address reads the directory more than {n} times a second: read it less often"
            ),
            Turned::Slots(n) => format!("this address is already reading the directory {n} times"),
            Turned::Crowded => turned.to_string(),
        })
    })
}

/// One page of the directory as JSON, or what changed since `query.since` (the first page
/// instead, when that is no longer known).
async fn json_directory<S: Store>(
    state: &State<S>,
    query: &PageQuery,
) -> Result<JsonDirectory, ProxyError> {
    let json = |entry: &Arc<wire::DirectoryEntry>| JsonNode::new((**entry).clone());
    if let Some(since) = query.since
        && let Some(changes) = state.directory_since(since).await?
    {
        return Ok(JsonDirectory {
            version: changes.version,
            nodes: changes.listed.iter().map(json).collect(),
            next: None,
            changes: true,
            unlisted: changes.unlisted,
        });
    }
    let limit = query.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let after = query.after.as_deref().filter(|_| query.since.is_none());
    let page = state.directory_page(after, limit).await?;
    Ok(JsonDirectory {
        version: page.version,
        nodes: page.nodes.iter().map(json).collect(),
        next: page.next,
        changes: false,
        unlisted: Vec::new(),
    })
}
