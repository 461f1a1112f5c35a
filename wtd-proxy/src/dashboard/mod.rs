//! The dashboard: a page at `/` that shows the cluster live, and the JSON it reads.
//!
//! * `GET /`, `GET /assets/…`: the page, its script and its style, embedded in the binary
//!   (`wtd-proxy/assets/`), so it works with no internet. A Content-Security-Policy allows
//!   only this proxy's own script, style and connections: no inline script, no other host.
//! * `GET /api/stats`: a [`Snapshot`](crate::stats::Snapshot) with its history.
//! * `GET /api/events`: server-sent events, one `snapshot` event each second and soon after
//!   the directory changes; at most [`Config::dashboard_watchers`](crate::Config::dashboard_watchers)
//!   at once.
//!
//! Everything is read-only and carries no email: the operator's view is [`crate::operator`].

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State as Axum;
use axum::http::header;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};

use crate::error::ProxyError;
use crate::routes::admit_reader;
use crate::server::ClientAddr;
use crate::state::State;
use crate::store::Store;

type Shared<S> = Arc<State<S>>;

const INDEX: &str = include_str!("../../assets/index.html");
const SCRIPT: &str = include_str!("../../assets/dashboard.js");
const STYLE: &str = include_str!("../../assets/dashboard.css");

/// Only this proxy's own files; no inline script or style, no frames, no other host.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The dashboard's routes, to merge into the relay's router or serve alone.
pub fn routes<S: Store>() -> Router<Shared<S>> {
    Router::new()
        .route(
            "/",
            get(|| async { page("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/assets/dashboard.js",
            get(|| async { page("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/assets/dashboard.css",
            get(|| async { page("text/css; charset=utf-8", STYLE) }),
        )
        .route("/api/stats", get(stats::<S>))
        .route("/api/events", get(events::<S>))
}

/// The dashboard alone, for its own address (`--dashboard ADDRESS`), with
/// `/api/directory` too so the page's address has all the public JSON.
pub fn router<S: Store>(state: Shared<S>) -> Router {
    routes::<S>()
        .route("/api/directory", get(crate::routes::directory_json::<S>))
        .with_state(state)
}

fn page(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// How long `/api/stats` waits for a snapshot when nobody looked lately.
const STATS_WAIT: Duration = Duration::from_secs(5);

async fn stats<S: Store>(
    Axum(state): Axum<Shared<S>>,
    client: Option<Extension<ClientAddr>>,
) -> Result<Response, ProxyError> {
    let _slot = admit_reader(&state, client)?;
    // Nobody looked lately: the sampler takes a snapshot now (within a second or two
    // even at 10,000 nodes); a stale or empty one is never answered as current.
    if !state.stats.is_fresh() {
        let mut snapshots = state.stats.watch();
        state.stats.want(true);
        let _ = tokio::time::timeout(STATS_WAIT, snapshots.changed()).await;
    } else {
        state.stats.want(true);
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        state.stats.with_history(),
    )
        .into_response())
}

/// The event stream: the current snapshot at once, then every new one, until the client
/// goes or the proxy stops. A watch channel: a slow page skips to the newest snapshot,
/// nothing queues up for it.
async fn events<S: Store>(Axum(state): Axum<Shared<S>>) -> Result<Response, ProxyError> {
    let Ok(permit) = state.watchers.clone().try_acquire_owned() else {
        return Err(ProxyError::TooMany(format!(
            "{} pages are watching this proxy already: close one, or read /api/stats now and then",
            state.config.dashboard_watchers
        )));
    };
    let mut snapshots = state.stats.watch();
    if state.stats.is_fresh() {
        snapshots.mark_changed();
    } else {
        // The first snapshot comes as soon as the sampler has taken it.
        state.stats.want(false);
    }
    let closing = state.closing.subscribe();
    let stream = futures_util::stream::unfold(
        (snapshots, closing, permit),
        |(mut snapshots, mut closing, permit)| async move {
            tokio::select! {
                changed = snapshots.changed() => changed.ok()?,
                _ = closing.wait_for(|c| *c) => return None,
            }
            let json = snapshots.borrow_and_update().clone();
            let event = Event::default()
                .event("snapshot")
                .data(String::from_utf8_lossy(&json));
            Some((Ok::<_, Infallible>(event), (snapshots, closing, permit)))
        },
    );
    Ok(([(header::CACHE_CONTROL, "no-store")], Sse::new(stream)).into_response())
}
