//! Presence and the directory.
//!
//! The proxy knows this node is here from its held receive request (`inbox.rs`), so the
//! ping thread pings only when something it tells the proxy changed (the keys it accepts,
//! the nodes it follows), after the proxy restarted, and otherwise every
//! [`wire::PING_EVERY_MS`]. The node *follows* the nodes it calls or monitors, at most
//! [`wire::MAX_FOLLOWED`], and keeps only their directory entries: the ping answers, and
//! the receive answers (sent early when a followed node changes), bring what changed
//! since the version it has. Its memory does not grow with the size of the cluster.
//! If the proxy forgot the node (it lost its data), the node registers again.
//!
//! The proxy lets an `/apply` call through only if its key is one the callee announced,
//! so a grant must be announced at once, not at the next ping: the ping thread looks at
//! the keys the node accepts every tenth of a second (a lock and a `stat` of
//! `grants.toml`), and pings as soon as they change, by the API or by hand. A node newly
//! followed is asked about as soon, so that its entry (or that it is not listed) is
//! known within a moment.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{NodeInner, lock, pause};
use crate::transport::TransportError;
use crate::wire::{self, Directory, DirectoryEntry, DirectoryUpdate, Offer, Ping, PingReply};

/// How often the ping thread looks whether a ping is due (a grant made or revoked, a
/// node newly followed).
const GRANTS_LOOKED_AT_EVERY: Duration = Duration::from_millis(100);
/// How often a ping that failed is tried again, and how often the watchdog looks at the
/// sends and receives in flight.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// How long after registering again a node trusts that registration for every thread
/// that was told "not registered".
const REREGISTER_AGAIN_AFTER: Duration = Duration::from_secs(2);

/// How long a starting node waits for a proxy's operator to approve it.
const APPROVAL_WAIT: Duration = Duration::from_secs(24 * 60 * 60);
/// How often it asks again meanwhile.
const APPROVAL_RETRY: Duration = Duration::from_secs(2);

/// What this node tells the proxy, and what it last heard back.
pub(crate) struct Presence {
    /// The owner's contact address, sent with every registration.
    email: String,
    /// The missions this node serves, with their functions.
    pub(crate) offers: Vec<Offer>,
    /// The nodes followed, and what the node knows of them.
    followed: Mutex<Followed>,
    /// What the last ping that got through told the proxy, and when; `None` when the
    /// proxy should hear from this node at once.
    told: Mutex<Option<Told>>,
    /// When the node last registered again, and with which proxy (the number of moves to
    /// another proxy then: see [`crate::proxies`]); held while it registers, so threads
    /// take turns.
    registered_at: Mutex<Option<(Instant, u64)>>,
}

/// The nodes this node follows, and their entries as last heard.
#[derive(Default)]
struct Followed {
    /// Their names, sorted; at most [`wire::MAX_FOLLOWED`].
    names: Vec<String>,
    /// The entries of those listed now.
    entries: BTreeMap<String, DirectoryEntry>,
    /// The directory version these entries are at; 0 while the proxy has not yet answered
    /// for this set of names (so the next ping asks for all of them).
    version: u64,
    /// How many times `version` went back to 0. A ping or receive answer on its way
    /// meanwhile was about the names followed before (or the proxy before a restart): it
    /// must not set the version, or the names followed since would never be asked about.
    resets: u64,
    /// The version the last answer named, even one that could not set `version`: while
    /// `version` is 0, what a receive request names, so the proxy does not answer each one
    /// at once with what it said already (the ping that asks for everything is on its way).
    heard: u64,
    /// How many remote monitors watch a process of each node: those nodes stay followed.
    watched: HashMap<String, usize>,
}

impl Followed {
    /// Forgets the version: the next ping asks for every followed node.
    fn ask_again(&mut self) {
        self.version = 0;
        self.resets += 1;
    }

    /// The answer to a ping sent with `known_version` when `resets` was as given.
    fn answered(&mut self, resets: u64, known_version: u64, reply: PingReply) {
        if resets == self.resets {
            self.apply(reply.version, reply.update, known_version == 0);
        } else {
            self.heard = reply.version;
        }
    }

    /// The version a request should name: the one the entries are at, or, while the next
    /// ping is to ask for everything, the last one heard.
    fn known_version(&self) -> u64 {
        if self.version == 0 {
            self.heard
        } else {
            self.version
        }
    }

    /// Follows `node`. When as many are followed as may be, `make_room` stops following
    /// a node no monitor watches to make room for it. `true` if it is followed.
    fn follow(&mut self, node: &str, make_room: bool) -> bool {
        if self.names.iter().any(|n| n == node) {
            return true;
        }
        if self.names.len() >= wire::MAX_FOLLOWED {
            let unwatched = self
                .names
                .iter()
                .position(|n| !self.watched.contains_key(n));
            let Some(at) = unwatched.filter(|_| make_room) else {
                return false;
            };
            let dropped = self.names.remove(at);
            self.entries.remove(&dropped);
        }
        self.names.push(node.to_string());
        self.names.sort();
        // The version held says nothing about the new name: ask for all of them again.
        self.ask_again();
        true
    }

    /// Applies what changed up to `version`. `everything`: the update holds every followed
    /// node (it answered version 0), so entries not in it are dropped.
    fn apply(&mut self, version: u64, update: DirectoryUpdate, everything: bool) {
        self.heard = version;
        if everything {
            self.entries.clear();
        } else if self.version == 0 || version < self.version {
            // Version 0: a ping asking for everything is due, and its answer tells. Else
            // an older answer overtaken by a newer one.
            return;
        }
        for entry in update.listed {
            if self.names.contains(&entry.name) {
                self.entries.insert(entry.name.clone(), entry);
            }
        }
        for name in update.unlisted {
            self.entries.remove(&name);
        }
        self.version = version;
    }
}

/// What a ping told the proxy.
struct Told {
    /// The keys this node accepted then.
    accepts: Vec<[u8; 32]>,
    /// When.
    at: Instant,
}

impl Presence {
    pub(crate) fn new(email: String, offers: Vec<Offer>) -> Presence {
        Presence {
            email,
            offers,
            followed: Mutex::new(Followed::default()),
            told: Mutex::new(None),
            registered_at: Mutex::new(None),
        }
    }

    /// Follows `node` from the next ping on (a no-op if it is followed already, or if
    /// [`wire::MAX_FOLLOWED`] are). `true` if it is followed.
    pub(crate) fn follow(&self, node: &str) -> bool {
        lock(&self.followed).follow(node, false)
    }

    /// A remote monitor watches a process of `node`: `node` stays followed while it does,
    /// even if that means no longer following a node no monitor watches (a peer's node:
    /// calls to it do not need its entry), so that the monitor hears at once when the
    /// proxy takes `node` off the directory. `false` if every followed node is watched
    /// (the monitor then hears that its node is gone from the proxy's `NodeDown`).
    pub(crate) fn watch(&self, node: &str) -> bool {
        let mut followed = lock(&self.followed);
        *followed.watched.entry(node.to_string()).or_default() += 1;
        followed.follow(node, true)
    }

    /// A monitor of a process of `node` ended.
    fn unwatch(&self, node: &str) {
        let mut followed = lock(&self.followed);
        if let Some(count) = followed.watched.get_mut(node) {
            *count -= 1;
            if *count == 0 {
                followed.watched.remove(node);
            }
        }
    }

    /// Whether the directory lists `node`, following it from now on if it was not. A node
    /// not heard about yet counts as listed (the ping thread asks about it within a tenth
    /// of a second), so nothing that watches a node takes "not heard yet" for "gone".
    pub(crate) fn lists(&self, node: &str) -> bool {
        let heard = {
            let followed = lock(&self.followed);
            let known = followed.names.iter().any(|n| n == node) && followed.version != 0;
            known.then(|| followed.entries.contains_key(node))
        };
        match heard {
            Some(listed) => listed,
            None => {
                self.follow(node);
                true
            }
        }
    }

    /// The entries of the followed nodes listed now, sorted by name.
    pub(crate) fn directory(&self) -> Directory {
        Directory {
            nodes: lock(&self.followed).entries.values().cloned().collect(),
        }
    }

    /// The directory version a receive request should name (see [`wire::RxPoll`]).
    pub(crate) fn known_version(&self) -> u64 {
        lock(&self.followed).known_version()
    }

    /// A receive answer brought what changed for the followed nodes.
    pub(crate) fn heard(&self, version: u64, update: DirectoryUpdate) {
        lock(&self.followed).apply(version, update, false);
    }

    /// The proxy restarted (a new epoch): it may have lost what this node offers and
    /// follows, and its versions say nothing about the entries held here (a node that
    /// never came back has not changed since the restart), so the next round pings and
    /// asks for every followed node again.
    pub(crate) fn proxy_restarted(&self) {
        *lock(&self.told) = None;
        let mut followed = lock(&self.followed);
        followed.ask_again();
        // A version of the proxy before: the new one would take it for its own.
        followed.heard = 0;
    }

    /// `PUT /nodes/{name}` again, after the proxy said it does not know this node.
    ///
    /// One at a time, and once for a burst: the receive, send and ping threads can all
    /// hear "not registered" at once, and a registration that is not the first empties the
    /// node's mailbox at the proxy, which would drop replies queued in between.
    pub(crate) fn reregister(&self, node: &NodeInner) {
        let mut last = lock(&self.registered_at);
        let proxy = node.transport.proxies().moves();
        // Another thread registered a moment ago with this proxy: that answered this "not
        // registered" too.
        if last.is_some_and(|(at, with)| with == proxy && at.elapsed() < REREGISTER_AGAIN_AFTER) {
            return;
        }
        match node.transport.register(&self.email) {
            Ok(()) => {
                *last = Some((Instant::now(), proxy));
                self.proxy_restarted();
                tracing::info!(node = %node.name, proxy = %node.transport.url(), "registered again with the proxy");
            }
            Err(e) => tracing::warn!(node = %node.name, "cannot register again: {e:?}"),
        }
    }

    /// Registers for the first time (at start). A proxy that approves new nodes by hand
    /// answers `AwaitingApproval` until its operator does: the node says so once and asks
    /// again every few seconds, for up to [`APPROVAL_WAIT`].
    pub(crate) fn register(&self, node: &NodeInner) -> Result<(), TransportError> {
        let tries = APPROVAL_WAIT.as_secs() / APPROVAL_RETRY.as_secs();
        for attempt in 0..tries {
            match node.transport.register(&self.email) {
                Err(TransportError::Refused { code, message, .. })
                    if code == "AwaitingApproval" && !node.is_stopped() =>
                {
                    if attempt == 0 {
                        tracing::warn!(node = %node.name, "{message}");
                    }
                    std::thread::sleep(APPROVAL_RETRY);
                }
                other => return other,
            }
        }
        node.transport.register(&self.email)
    }

    /// One `POST /ping`.
    pub(crate) fn ping_once(&self, node: &NodeInner) -> Result<(), TransportError> {
        let (follows, known_version, resets) = {
            let followed = lock(&self.followed);
            (followed.names.clone(), followed.version, followed.resets)
        };
        let accepts = node.callee.grants.accepted_keys();
        let ping = Ping {
            offers: self.offers.clone(),
            accepts: accepts.clone(),
            known_version,
            follows: follows.clone(),
        };
        let reply = node.transport.ping(&ping)?;
        *lock(&self.told) = Some(Told {
            accepts,
            at: Instant::now(),
        });
        lock(&self.followed).answered(resets, known_version, reply);
        Ok(())
    }

    /// Whether the proxy should hear from this node now: something it was told changed,
    /// it was never told, or [`wire::PING_EVERY_MS`] passed.
    fn ping_due(&self, node: &NodeInner) -> bool {
        if lock(&self.followed).version == 0 {
            return true;
        }
        match &*lock(&self.told) {
            None => true,
            Some(told) => {
                told.at.elapsed() >= Duration::from_millis(wire::PING_EVERY_MS)
                    || told.accepts != node.callee.grants.accepted_keys()
            }
        }
    }
}

/// Keeps a node followed while a remote monitor watches one of its processes
/// ([`Presence::watch`]); the monitor's task holds it, and drops it when it ends.
pub(crate) struct Watching {
    /// The watcher's node.
    node: Arc<NodeInner>,
    /// The node watched.
    name: String,
}

impl Watching {
    /// `node` watches a process of `name`.
    pub(crate) fn new(node: Arc<NodeInner>, name: &str) -> Watching {
        if !node.presence.watch(name) {
            tracing::debug!(node = %node.name, watched = %name, "every followed node is watched already: this monitor learns that its node left from the proxy's NodeDown");
        }
        Watching {
            node,
            name: name.to_string(),
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.node.presence.unwatch(&self.name);
    }
}

/// The ping thread: a ping whenever one is due (looked at every tenth of a second), a
/// failed one tried again every second, and the watchdog's round every second.
pub(crate) fn ping_loop(node: &NodeInner) {
    // Say it once when the proxy stops answering, and once when it is back.
    let mut failing = false;
    // The last ping failed: it is tried again a second after `tried`, due or not.
    let mut retry = false;
    let mut tried = Instant::now();
    let mut watched = Instant::now();
    let mut moves = node.transport.proxies().moves();
    while !node.is_stopped() {
        if node.transport.proxies().moves() != moves {
            moves = node.transport.proxies().moves();
            moved(node);
            retry = false;
            failing = false;
        }
        if watched.elapsed() >= RETRY_EVERY {
            node.watchdog.interrupt_stuck(&node.name);
            watched = Instant::now();
        }
        let due = if retry {
            tried.elapsed() >= RETRY_EVERY
        } else {
            node.presence.ping_due(node)
        };
        if due {
            tried = Instant::now();
            retry = true;
            match node.presence.ping_once(node) {
                Ok(()) => {
                    if failing {
                        tracing::info!(node = %node.name, "the proxy answers again");
                    }
                    failing = false;
                    retry = false;
                }
                Err(TransportError::NotRegistered) => node.presence.reregister(node),
                Err(e) => {
                    if !failing && !node.is_stopped() {
                        let e = e.into_error(&node.transport.url());
                        tracing::warn!(node = %node.name, "ping failed, retrying every second: {e}");
                    }
                    failing = true;
                }
            }
        }
        pause(node, GRANTS_LOOKED_AT_EVERY);
    }
}

/// The node moved to another proxy (see [`crate::proxies`]). Requests still held by
/// the proxy it left are dropped (a proxy that went silent would hold them until the
/// watchdog's limit), and the next round pings the new one at once, asking about every
/// followed node: its directory versions are not the old one's.
///
/// Nothing else: the node does not register with the new proxy unless it says it does
/// not know the node (`NotRegistered`). Proxies sharing one store know it already, and a
/// registration that is not the first empties the node's mailbox, which would drop the
/// messages waiting for it; the receive thread polls the new proxy with its epoch and
/// acknowledgement, so those are delivered, once. An independent proxy answers
/// `NotRegistered`, and the node registers there as after a proxy restart.
fn moved(node: &NodeInner) {
    if let Some(since) = node.transport.proxies().since_moved() {
        node.watchdog.interrupt_made_before_move(since);
    }
    node.presence.proxy_restarted();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(name: &str, key: u8) -> DirectoryEntry {
        DirectoryEntry {
            name: name.into(),
            node_key: [key; 32],
            offers: Vec::new(),
            accepts: Vec::new(),
        }
    }

    #[test]
    fn a_node_keeps_the_lines_of_the_nodes_it_follows_and_no_older_news() {
        let mut followed = Followed {
            names: vec!["alice".into(), "bob".into()],
            ..Followed::default()
        };
        let everything = DirectoryUpdate {
            listed: vec![line("alice", 1), line("bob", 1), line("mallory", 1)],
            unlisted: Vec::new(),
        };
        followed.apply(10, everything, true);
        let names: Vec<&String> = followed.entries.keys().collect();
        assert_eq!(names, ["alice", "bob"], "only the followed nodes are kept");
        let bob_left = DirectoryUpdate {
            listed: vec![line("alice", 2)],
            unlisted: vec!["bob".into()],
        };
        followed.apply(12, bob_left, false);
        assert_eq!(followed.entries.len(), 1);
        assert_eq!(followed.entries["alice"].node_key, [2; 32]);
        // An answer overtaken by a newer one changes nothing.
        let stale = DirectoryUpdate {
            listed: vec![line("bob", 1)],
            unlisted: Vec::new(),
        };
        followed.apply(11, stale, false);
        assert!(!followed.entries.contains_key("bob"));
        assert_eq!(followed.version, 12);
    }

    /// Found by an e2e test: a monitor followed a node while a receive answer was on its
    /// way; the answer, about the nodes followed before, set the version, so the new node
    /// was never asked about and never showed in the directory.
    #[test]
    fn an_answer_about_the_names_followed_before_never_stands_for_a_name_followed_since() {
        let presence = Presence::new(String::new(), Vec::new());
        presence.follow("alice");
        let alice = DirectoryUpdate {
            listed: vec![line("alice", 1)],
            unlisted: Vec::new(),
        };
        let asked = lock(&presence.followed).resets;
        let answer = PingReply {
            version: 10,
            update: alice.clone(),
        };
        lock(&presence.followed).answered(asked, 0, answer);
        assert_eq!(presence.known_version(), 10);

        // Bob is followed; a receive answer and a ping answer computed for Alice alone
        // arrive before the ping that asks about Bob.
        let asked = lock(&presence.followed).resets;
        presence.follow("bob");
        presence.heard(11, alice.clone());
        let answer = PingReply {
            version: 12,
            update: alice,
        };
        lock(&presence.followed).answered(asked, 10, answer);
        assert_eq!(
            lock(&presence.followed).version,
            0,
            "the next ping asks about bob"
        );
        assert!(
            presence.lists("bob"),
            "not heard about yet: counted as listed"
        );
        // Meanwhile a receive request names the last version heard: the proxy answers
        // it when something changes after, not at once with what it said already.
        assert_eq!(presence.known_version(), 12);

        // The same after the proxy restarted.
        lock(&presence.followed).apply(13, DirectoryUpdate::default(), true);
        presence.proxy_restarted();
        assert_eq!(
            presence.known_version(),
            0,
            "nothing of the proxy before is named"
        );
        presence.heard(14, DirectoryUpdate::default());
        assert_eq!(
            lock(&presence.followed).version,
            0,
            "the new proxy is asked again"
        );
    }

    #[test]
    fn a_watched_node_is_followed_even_when_as_many_as_may_be_are() {
        let presence = Presence::new(String::new(), Vec::new());
        for i in 0..wire::MAX_FOLLOWED {
            assert!(presence.follow(&format!("peer{i:02}")));
        }
        assert!(!presence.follow("carol"), "a peer's node waits for room");
        // A monitor's node makes room: a node no monitor watches is no longer followed.
        assert!(presence.watch("alice"));
        {
            let followed = lock(&presence.followed);
            assert_eq!(followed.names.len(), wire::MAX_FOLLOWED);
            assert!(followed.names.iter().any(|n| n == "alice"));
            assert_eq!(followed.version, 0, "the next ping asks about alice");
        }
        // Watched nodes are never the ones dropped; once every followed node is watched,
        // a new watch is refused, and the ones held stay.
        for i in 0..wire::MAX_FOLLOWED {
            presence.watch(&format!("w{i:02}"));
        }
        assert!(!presence.watch("dave"));
        assert!(lock(&presence.followed).names.iter().any(|n| n == "alice"));
        // A monitor ended: its node may make room again.
        presence.unwatch("alice");
        assert!(presence.watch("erin"));
        assert!(!lock(&presence.followed).names.iter().any(|n| n == "alice"));
    }
}
