//! Traffic counters for the dashboard and `GET /api/stats`: calls and replies
//! relayed, their bytes, refusals by reason, per node and in total, with a short history
//! and the recent "who called whom" links.
//!
//! Counting is a few additions under one short lock per relayed message. Once a second,
//! and when the directory's version changes, the sampler ([`Stats::sample`]) turns the
//! counters, the directory (read in pages, as any reader does) and what the store reports
//! (who is registered, mailbox depths, `/apply` waiters) into one JSON [`Snapshot`],
//! published on a watch channel: the event stream sends it to every page, and each
//! snapshot is encoded once however many pages watch.
//!
//! Only while someone looks: a page holds the event stream, or `/api/stats` was read in
//! the last [`WATCHED_FOR`]. Otherwise the sampler keeps the totals' history and nothing
//! else: at 10,000 nodes, a per-node snapshot every second cost the proxy about 85 MiB
//! and 3 % of a core with nobody watching (docs/PERFORMANCE.md). The first look starts a
//! snapshot at once ([`Stats::want`]).
//!
//! Memory is bounded: counters exist only for registered names (others are dropped at
//! the next sample), reasons are the proxy's own error codes, links and history are
//! capped ([`MAX_LINKS`], [`HISTORY_SECONDS`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;
use wtd_wire::{self as wire, Kind, TxStatus};

use crate::routes::MAX_PAGE;
use crate::state::State;
use crate::store::{Observed, Store};

/// Seconds of totals kept for the chart: five minutes.
pub const HISTORY_SECONDS: usize = 300;
/// Distinct caller → callee pairs remembered for the picture.
pub const MAX_LINKS: usize = 1024;
/// A link is drawn while its last call is this recent.
const LINK_MS: u64 = 10_000;
/// Distinct refusal reasons counted (they are the proxy's own codes: a dozen).
const MAX_REASONS: usize = 32;

/// What was relayed and refused, for one node or for all.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Counters {
    /// Calls relayed, casts included: the proxy does not open a signed call to see
    /// whether it wants a reply (`calls - replies` is about the casts).
    pub calls: u64,
    /// Replies relayed.
    pub replies: u64,
    /// Bytes of every message relayed.
    pub bytes: u64,
    /// Refusals, by reason (`NodeDown`, `MailboxFull`, `Unauthenticated`, …).
    pub refused: BTreeMap<String, u64>,
}

impl Counters {
    fn refuse(&mut self, reason: &str) {
        if let Some(n) = self.refused.get_mut(reason) {
            *n += 1;
        } else if self.refused.len() < MAX_REASONS {
            self.refused.insert(reason.to_string(), 1);
        }
    }

    fn refusals(&self) -> u64 {
        self.refused.values().sum()
    }
}

/// One second of traffic, all nodes together.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Second {
    /// When the second ended, ms since the Unix epoch.
    pub at_ms: u64,
    /// Calls relayed in it.
    pub calls: u64,
    /// Replies relayed in it.
    pub replies: u64,
    /// Bytes relayed in it.
    pub bytes: u64,
    /// Requests and messages refused in it.
    pub refused: u64,
    /// Messages waiting in mailboxes at its end.
    pub mailbox_messages: usize,
    /// Calls waiting on `/apply` at its end.
    pub apply_waiters: usize,
}

/// One registered node, as the page and `/api/stats` show it. Never its email: the
/// public page is public.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStats {
    /// Its name.
    pub name: String,
    /// The first 16 hex digits of its node key.
    pub key: String,
    /// Whether it is online now.
    pub online: bool,
    /// Since when it is online (or offline), ms since the Unix epoch, as far as this
    /// proxy has watched (at most since it started).
    pub since_ms: u64,
    /// When it was last heard from, ms since the Unix epoch.
    pub last_seen_ms: u64,
    /// The missions it offers (while online), with functions and behaviours.
    pub missions: Vec<wire::JsonMission>,
    /// Fingerprints (first 16 hex digits) of the capability keys it accepts.
    pub accepts: Vec<String>,
    /// Its traffic since the proxy started: what it sent, and what it refused to send.
    pub sent: Counters,
    /// What it received.
    pub received: Counters,
    /// Calls it sent in the last second.
    pub calls_per_s: u64,
    /// Messages waiting in its mailbox.
    pub mailbox_messages: usize,
    /// Calls waiting on `/apply` for it.
    pub apply_waiters: usize,
}

/// Calls from one node to another in the last seconds: a line in the picture.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    /// The caller (`apply` for calls made over `/apply`).
    pub from: String,
    /// The callee.
    pub to: String,
    /// Calls from `from` to `to` relayed in the last seconds' window.
    pub messages: u64,
    /// When the last one was relayed, ms since the Unix epoch.
    pub last_ms: u64,
}

/// What `GET /api/stats` answers and the event stream sends.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// When it was taken, ms since the Unix epoch.
    pub at_ms: u64,
    /// Whether this proxy approves registrations by hand (`--approve`).
    pub approve: bool,
    /// All nodes together, since the proxy started.
    pub total: Counters,
    /// The last second of totals, with mailbox depth and `/apply` waiters.
    pub last: Second,
    /// Registered nodes (approved ones), sorted by name.
    pub nodes: Vec<NodeStats>,
    /// Recent calls between nodes.
    pub links: Vec<Link>,
    /// Per second, oldest first, up to [`HISTORY_SECONDS`]; only in `GET /api/stats`
    /// (the stream sends `last` each second, and the page keeps its own history).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<Second>>,
}

#[derive(Debug, Default)]
struct Counted {
    total: Counters,
    nodes: HashMap<String, (Counters, Counters)>,
    links: HashMap<(String, String), (u64, u64)>,
    /// Totals at the last sample, to take differences from.
    at_last_sample: Counters,
    /// Each node's calls sent at the last sample.
    node_calls_at_last_sample: HashMap<String, u64>,
    history: VecDeque<Second>,
    /// Whether each node was online at the last sample, and since when.
    since: HashMap<String, (bool, u64)>,
}

/// The proxy's traffic counters and their published snapshots.
#[derive(Debug)]
pub struct Stats {
    counted: Mutex<Counted>,
    approve: bool,
    /// The newest snapshot, JSON-encoded once (without history).
    feed: watch::Sender<Bytes>,
    /// Whether `feed` holds a snapshot of the last sample (not the empty `{}` it holds
    /// while nobody looks).
    fresh: AtomicBool,
    /// When `/api/stats` was last read, ms since the Unix epoch.
    last_read_ms: AtomicU64,
    /// Wakes the sampler for a snapshot now: someone started looking.
    wanted: tokio::sync::Notify,
}

/// `/api/stats` keeps full snapshots coming for this long after it was read.
pub const WATCHED_FOR: Duration = Duration::from_secs(10);

/// The snapshot published while nobody looks.
const EMPTY: &[u8] = b"{}";

fn lock(m: &Mutex<Counted>) -> std::sync::MutexGuard<'_, Counted> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Stats {
    /// Empty counters.
    pub fn new(approve: bool) -> Stats {
        Stats {
            counted: Mutex::default(),
            approve,
            feed: watch::Sender::new(Bytes::from_static(EMPTY)),
            fresh: AtomicBool::new(false),
            last_read_ms: AtomicU64::new(0),
            wanted: tokio::sync::Notify::new(),
        }
    }

    /// Whether anyone looks: a page holds the event stream, or `/api/stats` was read
    /// within [`WATCHED_FOR`].
    pub fn watched(&self) -> bool {
        let read = self.last_read_ms.load(Ordering::Relaxed);
        self.feed.receiver_count() > 0
            || wire::now_ms().saturating_sub(read) < WATCHED_FOR.as_millis() as u64
    }

    /// Someone starts looking: `/api/stats` is read (`reading`), or a page opens the event
    /// stream. Unless the snapshot is current, the sampler takes one now.
    pub fn want(&self, reading: bool) {
        if reading {
            self.last_read_ms.store(wire::now_ms(), Ordering::Relaxed);
        }
        if !self.is_fresh() {
            self.wanted.notify_one();
        }
    }

    /// Whether the published snapshot is a current one (not the empty one).
    pub fn is_fresh(&self) -> bool {
        self.fresh.load(Ordering::Relaxed)
    }

    /// Ends a second of history from the counters and `observed`, without a snapshot:
    /// what the sampler does while nobody looks. Drops the last snapshot, whose nodes
    /// would go stale.
    pub fn tick_unwatched(&self, observed: &Observed) {
        let mut c = lock(&self.counted);
        let c = &mut *c;
        retain_registered(c, observed, wire::now_ms());
        let second = next_second(c, observed, wire::now_ms());
        c.at_last_sample = c.total.clone();
        if c.history.len() >= HISTORY_SECONDS {
            c.history.pop_front();
        }
        c.history.push_back(second);
        if self.fresh.swap(false, Ordering::Relaxed) {
            self.feed.send_replace(Bytes::from_static(EMPTY));
        }
    }

    /// Counts one message `from` a node (`None`: an `/apply` call) to `to`, and what
    /// became of it. Messages to names that are not registered are counted in the total
    /// only.
    pub fn relayed(
        &self,
        from: Option<&str>,
        to: &str,
        kind: Kind,
        bytes: usize,
        status: TxStatus,
    ) {
        let mut c = lock(&self.counted);
        let c = &mut *c;
        let reason = match status {
            TxStatus::Queued => None,
            TxStatus::NodeDown => Some("NodeDown"),
            TxStatus::MailboxFull => Some("MailboxFull"),
            TxStatus::Refused => Some("Refused"),
        };
        let count = |counters: &mut Counters| match reason {
            Some(reason) => counters.refuse(reason),
            None => {
                match kind {
                    Kind::Call => counters.calls += 1,
                    Kind::Reply => counters.replies += 1,
                }
                counters.bytes += bytes as u64;
            }
        };
        count(&mut c.total);
        if let Some(from) = from {
            count(&mut c.nodes.entry(from.to_string()).or_default().0);
        }
        if reason.is_none() {
            count(&mut c.nodes.entry(to.to_string()).or_default().1);
            if kind != Kind::Reply {
                let link = (from.unwrap_or("apply").to_string(), to.to_string());
                let full = c.links.len() >= MAX_LINKS;
                match c.links.get_mut(&link) {
                    Some((n, last)) => {
                        *n += 1;
                        *last = wire::now_ms();
                    }
                    None if !full => {
                        c.links.insert(link, (1, wire::now_ms()));
                    }
                    None => {}
                }
            }
        }
    }

    /// Counts a request the proxy refused, by its error code.
    pub fn refused(&self, reason: &str) {
        lock(&self.counted).total.refuse(reason);
    }

    /// Takes a snapshot from the counters, the directory's `listed` nodes and what the
    /// store reports, and publishes it. Called once a second (`tick`: a second of history
    /// ends), and when the directory changes (`tick` false: only who is online and what
    /// they offer).
    pub fn sample(&self, listed: &[Arc<wire::DirectoryEntry>], observed: Observed, tick: bool) {
        let now = wire::now_ms();
        let mut c = lock(&self.counted);
        let c = &mut *c;
        let listed: HashMap<&str, &wire::DirectoryEntry> =
            listed.iter().map(|n| (n.name.as_str(), &**n)).collect();
        retain_registered(c, &observed, now);
        let mut nodes = Vec::with_capacity(observed.nodes.len());
        for n in observed.nodes.iter().filter(|n| n.approved) {
            let entry = listed.get(n.name.as_str());
            let online = entry.is_some();
            let since = match c.since.get(&n.name) {
                Some(&(was, since)) if was == online => since,
                _ => now,
            };
            c.since.insert(n.name.clone(), (online, since));
            let (sent, received) = c.nodes.get(&n.name).cloned().unwrap_or_default();
            let before = if tick {
                c.node_calls_at_last_sample
                    .insert(n.name.clone(), sent.calls)
                    .unwrap_or(0)
            } else {
                c.node_calls_at_last_sample
                    .get(&n.name)
                    .copied()
                    .unwrap_or(sent.calls)
            };
            nodes.push(NodeStats {
                name: n.name.clone(),
                key: hex::encode(&n.node_key[..8]),
                online,
                since_ms: since,
                last_seen_ms: n.last_seen_ms,
                missions: entry.map_or_else(Vec::new, |e| missions(e)),
                accepts: entry.map_or_else(Vec::new, |e| {
                    e.accepts.iter().map(|k| hex::encode(&k[..8])).collect()
                }),
                calls_per_s: sent.calls.saturating_sub(before),
                sent,
                received,
                mailbox_messages: n.mailbox_messages,
                apply_waiters: n.apply_waiters,
            });
        }
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let last = match c.history.back() {
            Some(last) if !tick => *last,
            _ => next_second(c, &observed, now),
        };
        if tick {
            c.at_last_sample = c.total.clone();
            if c.history.len() >= HISTORY_SECONDS {
                c.history.pop_front();
            }
            c.history.push_back(last);
        }
        let mut links: Vec<Link> = c
            .links
            .iter()
            .map(|((from, to), &(messages, last_ms))| Link {
                from: from.clone(),
                to: to.clone(),
                messages,
                last_ms,
            })
            .collect();
        links.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
        let snapshot = Snapshot {
            at_ms: now,
            approve: self.approve,
            total: c.total.clone(),
            last,
            nodes,
            links,
            history: None,
        };
        // Plain strings, numbers and maps: serializing them cannot fail.
        let json = serde_json::to_vec(&snapshot).unwrap_or_default();
        self.fresh.store(true, Ordering::Relaxed);
        self.feed.send_replace(Bytes::from(json));
    }

    /// The newest snapshot with its history, for `GET /api/stats`.
    pub fn with_history(&self) -> Bytes {
        let latest = self.feed.borrow().clone();
        let history: Vec<Second> = lock(&self.counted).history.iter().copied().collect();
        let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&latest) else {
            return latest;
        };
        if let Some(map) = value.as_object_mut() {
            map.insert(
                "history".into(),
                serde_json::to_value(history).unwrap_or_default(),
            );
        }
        Bytes::from(serde_json::to_vec(&value).unwrap_or_default())
    }

    /// The snapshots as they are published.
    pub fn watch(&self) -> watch::Receiver<Bytes> {
        self.feed.subscribe()
    }
}

/// Drops the counters of names no longer registered (bounded by the registrations) and
/// links older than [`LINK_MS`].
fn retain_registered(c: &mut Counted, observed: &Observed, now: u64) {
    let registered: std::collections::HashSet<&str> =
        observed.nodes.iter().map(|n| n.name.as_str()).collect();
    c.nodes.retain(|name, _| registered.contains(name.as_str()));
    c.since.retain(|name, _| registered.contains(name.as_str()));
    c.node_calls_at_last_sample
        .retain(|name, _| registered.contains(name.as_str()));
    c.links
        .retain(|_, (_, last)| now.saturating_sub(*last) < LINK_MS);
}

/// The second of history ending now: the counters since the last one, and the mailboxes
/// and `/apply` waiters `observed` now.
fn next_second(c: &Counted, observed: &Observed, now: u64) -> Second {
    Second {
        at_ms: now,
        calls: c.total.calls - c.at_last_sample.calls,
        replies: c.total.replies - c.at_last_sample.replies,
        bytes: c.total.bytes - c.at_last_sample.bytes,
        refused: c.total.refusals() - c.at_last_sample.refusals(),
        mailbox_messages: observed.nodes.iter().map(|n| n.mailbox_messages).sum(),
        apply_waiters: observed.nodes.iter().map(|n| n.apply_waiters).sum(),
    }
}

/// A change of the directory is shown within this time, not at once: a snapshot reads
/// every registration and every listed node, and in a large cluster with nodes coming and
/// going, changes come many times a second. Those that come meanwhile are shown together.
const CHANGES_SHOWN_EVERY: Duration = Duration::from_millis(250);

/// While nobody looks, the registrations are read this often for the totals' history.
const UNWATCHED_OBSERVE_EVERY: Duration = Duration::from_secs(10);

/// Samples once a second and when the directory changes, until the proxy closes; while
/// nobody looks, only the totals' history, once a second (its registration totals read
/// every [`UNWATCHED_OBSERVE_EVERY`]).
pub(crate) async fn sampler<S: Store>(state: Arc<State<S>>) {
    let mut directory = state.watch_directory();
    let mut closing = state.closing.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = Instant::now();
    let mut unwatched: Option<(Instant, Observed)> = None;
    loop {
        let ticked = tokio::select! {
            _ = tick.tick() => true,
            changed = directory.changed() => {
                if changed.is_err() {
                    return;
                }
                false
            }
            // Someone started looking: a snapshot now, not at the next tick.
            _ = state.stats.wanted.notified() => false,
            _ = closing.wait_for(|c| *c) => return,
        };
        let watched = state.stats.watched();
        if !watched {
            if ticked {
                // The totals of registrations, presence and mailboxes, read again every
                // UNWATCHED_OBSERVE_EVERY: on a shared store a read of every registration
                // is two commands a node, by every proxy, and nobody looks meanwhile.
                // Traffic is counted here as it passes, so its seconds stay exact.
                let stale = unwatched
                    .as_ref()
                    .is_none_or(|(at, _): &(Instant, Observed)| {
                        at.elapsed() >= UNWATCHED_OBSERVE_EVERY
                    });
                if stale {
                    unwatched = Some((Instant::now(), state.observe().await));
                }
                if let Some((_, observed)) = &unwatched {
                    state.stats.tick_unwatched(observed);
                }
            }
            continue;
        }
        unwatched = None;
        if !ticked && state.stats.is_fresh() {
            tokio::select! {
                _ = tokio::time::sleep_until(last + CHANGES_SHOWN_EVERY) => {}
                _ = closing.wait_for(|c| *c) => return,
            }
            // This snapshot shows the changes made while it waited.
            directory.borrow_and_update();
        }
        last = Instant::now();
        let observed = state.observe().await;
        let listed = whole_directory(&state).await;
        state.stats.sample(&listed, observed, ticked);
    }
}

/// Every listed node, read page after page: the store holds no lock across pages, so
/// nodes' requests are not held up while the dashboard reads. Bounded by the registered
/// nodes ([`crate::Config::max_nodes`]); each page starts after the last name read, so
/// the reading always ends. What could be read, if the store fails meanwhile (it is
/// away: the page shows the nodes read, and is sampled again within a second).
async fn whole_directory<S: Store>(state: &State<S>) -> Vec<Arc<wire::DirectoryEntry>> {
    let mut listed = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut page = match state.directory_page(after.as_deref(), MAX_PAGE).await {
            Ok(page) => page,
            Err(e) => {
                tracing::debug!("cannot read the directory for the dashboard: {e}");
                return listed;
            }
        };
        listed.append(&mut page.nodes);
        match page.next {
            Some(next) => after = Some(next),
            None => return listed,
        }
    }
}

fn missions(entry: &wire::DirectoryEntry) -> Vec<wire::JsonMission> {
    wire::JsonNode::new(entry.clone()).missions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ObservedNode;

    fn observed(names: &[&str]) -> Observed {
        Observed {
            nodes: names
                .iter()
                .map(|n| ObservedNode {
                    name: n.to_string(),
                    email: format!("{n}@example.org"),
                    node_key: [1; 32],
                    registered_at_ms: 1,
                    last_seen_ms: 2,
                    approved: true,
                    rejected: false,
                    mailbox_messages: 3,
                    apply_waiters: 1,
                })
                .collect(),
        }
    }

    #[test]
    fn counts_per_node_and_in_total_and_draws_links() {
        let stats = Stats::new(false);
        stats.relayed(Some("alice"), "bob", Kind::Call, 10, TxStatus::Queued);
        stats.relayed(Some("bob"), "alice", Kind::Reply, 5, TxStatus::Queued);
        stats.relayed(Some("alice"), "carol", Kind::Call, 7, TxStatus::NodeDown);
        stats.refused("Unauthenticated");
        stats.sample(&[], observed(&["alice", "bob"]), true);
        let snapshot: serde_json::Value =
            serde_json::from_slice(&stats.with_history()).expect("json");
        assert_eq!(snapshot["total"]["calls"], 1);
        assert_eq!(snapshot["total"]["replies"], 1);
        assert_eq!(snapshot["total"]["bytes"], 15);
        assert_eq!(snapshot["total"]["refused"]["NodeDown"], 1);
        assert_eq!(snapshot["total"]["refused"]["Unauthenticated"], 1);
        assert_eq!(snapshot["nodes"][0]["name"], "alice");
        assert_eq!(snapshot["nodes"][0]["sent"]["calls"], 1);
        assert_eq!(snapshot["nodes"][0]["calls_per_s"], 1);
        assert_eq!(snapshot["nodes"][1]["received"]["calls"], 1);
        assert_eq!(snapshot["links"][0]["from"], "alice");
        assert_eq!(snapshot["links"][0]["to"], "bob");
        assert_eq!(snapshot["last"]["mailbox_messages"], 6);
        assert_eq!(snapshot["history"].as_array().map(Vec::len), Some(1));
        assert!(
            !String::from_utf8_lossy(&stats.with_history()).contains("example.org"),
            "the public snapshot never carries an email"
        );
    }

    #[test]
    fn a_listed_node_is_online_with_its_missions_and_key_fingerprints() {
        let stats = Stats::new(false);
        let alice = Arc::new(wire::DirectoryEntry {
            name: "alice".into(),
            node_key: [1; 32],
            offers: vec![wire::Offer {
                mission: "demo".into(),
                functions: vec!["demo/add".into()],
                behaviours: Vec::new(),
            }],
            accepts: vec![[0xab; 32]],
        });
        stats.sample(&[alice], observed(&["alice", "bob"]), false);
        let snapshot: serde_json::Value =
            serde_json::from_slice(&stats.with_history()).expect("json");
        assert_eq!(snapshot["nodes"][0]["online"], true);
        assert_eq!(snapshot["nodes"][0]["missions"][0]["mission"], "demo");
        assert_eq!(snapshot["nodes"][0]["accepts"][0], "abababababababab");
        assert_eq!(snapshot["nodes"][1]["online"], false, "bob is not listed");
    }

    #[test]
    fn history_and_counters_stay_bounded() {
        let stats = Stats::new(false);
        for i in 0..(HISTORY_SECONDS + 10) {
            stats.relayed(Some(&format!("n{i}")), "x", Kind::Call, 1, TxStatus::Queued);
            stats.sample(&[], observed(&["n0"]), true);
        }
        let c = lock(&stats.counted);
        assert_eq!(c.history.len(), HISTORY_SECONDS);
        assert!(
            c.nodes.len() <= 2,
            "only the registered name and the last sender stay"
        );
    }

    /// Nobody looks: a second of history is still kept from the counters, and the last
    /// snapshot is dropped (it would go stale); a look makes the proxy watched again.
    #[test]
    fn unwatched_seconds_keep_the_history_and_drop_the_snapshot() {
        let stats = Stats::new(false);
        assert!(!stats.watched(), "nobody has looked yet");
        stats.relayed(Some("n0"), "n1", Kind::Call, 10, TxStatus::Queued);
        stats.sample(&[], observed(&["n0", "n1"]), true);
        assert!(stats.is_fresh());
        stats.relayed(Some("n0"), "n1", Kind::Call, 10, TxStatus::Queued);
        stats.relayed(Some("n0"), "n1", Kind::Call, 10, TxStatus::Queued);
        stats.tick_unwatched(&observed(&["n0", "n1"]));
        assert!(!stats.is_fresh());
        assert_eq!(&stats.watch().borrow()[..], EMPTY);
        {
            let c = lock(&stats.counted);
            assert_eq!(c.history.len(), 2);
            let second = c.history.back().expect("a second");
            assert_eq!((second.calls, second.mailbox_messages), (2, 6));
        }
        stats.want(true);
        assert!(stats.watched(), "/api/stats was just read");
        let page = Stats::new(false);
        let _stream = page.watch();
        assert!(page.watched(), "a page holds the event stream");
    }
}
