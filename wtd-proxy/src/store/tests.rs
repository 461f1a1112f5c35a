//! What every store must do, one test per promise of the traits, written against the
//! traits only: `store_promises!` runs each on a store (`embedded/tests.rs`,
//! `redis/tests.rs`).

use std::time::Duration;

use wtd_wire::{self as wire, Kind, Route, TxStatus};

use super::{
    Admission, Admitted, ApplyWaiters, HopWindows, Mail, Mailboxes, NodeRecord, Observe, Presence,
    Registered, Registrations, Store,
};
use crate::Config;
use crate::error::ProxyError;

/// Where the stores of one test keep their state: opening it again is a restart.
pub(crate) trait Backing {
    /// The store it opens.
    type Store: Store;
    /// The defaults, with the folder of this test.
    fn config(&self) -> Config;
    /// A store over this backing.
    fn open(&self, config: &Config) -> impl Future<Output = Self::Store>;
}

/// One `#[tokio::test]` per promise, each on a backing `$open` makes: given the test's
/// name, `None` when the test cannot run here (it said why).
macro_rules! store_promises {
    ($open:path) => {
        store_promises!(@each $open,
            a_name_stays_with_the_first_key_that_registers_it,
            a_name_left_offline_past_the_expiry_is_free_and_one_online_is_not,
            a_counter_is_accepted_once,
            a_hop_is_admitted_once_within_its_rate_and_brings_its_node_online,
            messages_are_numbered_and_stay_until_acknowledged,
            a_goodbye_empties_the_mailbox_wakes_the_poll_and_refuses_more,
            every_directory_change_gets_a_larger_version,
            a_follower_hears_exactly_the_followed_nodes_that_changed_since_its_version,
            a_followed_node_changing_wakes_the_followers_receive_request,
            the_directory_stays_within_its_bound_and_a_node_past_it_is_listed_bare,
            a_held_poll_keeps_a_node_online_and_is_bounded,
            a_reply_is_taken_only_from_the_callee_and_only_once,
            with_approval_a_new_name_waits_and_the_decision_survives_a_restart,
        );
    };
    (@each $open:path, $($name:ident,)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                if let Some(backing) = $open(stringify!($name)) {
                    crate::store::tests::$name(&backing).await;
                }
            }
        )*
    };
}
pub(crate) use store_promises;

fn record(key: u8) -> NodeRecord {
    let key = ed25519_dalek::SigningKey::from_bytes(&[key; 32]);
    NodeRecord {
        node_key: key.verifying_key().to_bytes(),
        email: "alice@example.org".into(),
        registered_at_ms: 1,
    }
}

/// A store with a short presence timeout and room for two `/apply` waiters.
async fn store<B: Backing>(backing: &B) -> B::Store {
    let mut config = backing.config();
    config.presence_timeout = Duration::from_millis(50);
    config.max_applies = 2;
    backing.open(&config).await
}

/// Registers `name` and makes it present, as a ping would.
async fn online(store: &impl Store, name: &str) {
    store.register(name, record(1)).await.expect("registers");
    store.seen(name, Route::Ping, 1).await.expect("seen");
}

pub(crate) async fn a_name_stays_with_the_first_key_that_registers_it(backing: &impl Backing) {
    let store = store(backing).await;
    assert_eq!(
        store.register("alice", record(1)).await.ok(),
        Some(Registered::New)
    );
    assert_eq!(
        store.register("alice", record(1)).await.ok(),
        Some(Registered::Again)
    );
    assert!(matches!(
        store.register("alice", record(2)).await,
        Err(ProxyError::NameTaken(_))
    ));
    let key = store.node_key("alice").await.expect("reads");
    assert_eq!(key.map(|k| k.to_bytes()), Some(record(1).node_key));
    assert_eq!(store.node_key("bob").await.expect("reads"), None);
}

pub(crate) async fn a_name_left_offline_past_the_expiry_is_free_and_one_online_is_not(
    backing: &impl Backing,
) {
    let mut config = backing.config();
    config.presence_timeout = Duration::from_millis(50);
    config.name_expiry = Duration::from_millis(100);
    config.max_nodes = 2;
    let store = backing.open(&config).await;
    online(&store, "alice").await;
    store
        .register("squatter", record(2))
        .await
        .expect("registers");
    assert!(matches!(
        store.register("carol", record(3)).await,
        Err(ProxyError::TooMany(text)) if text.contains("next name expires in")
    ));
    assert!(matches!(
        store.register("squatter", record(3)).await,
        Err(ProxyError::NameTaken(_))
    ));
    tokio::time::sleep(Duration::from_millis(150)).await;
    store
        .seen("alice", Route::Ping, 2)
        .await
        .expect("still online");
    // The squatter's name goes to another key; at the bound, Alice's stays hers.
    assert_eq!(
        store.register("squatter", record(3)).await.ok(),
        Some(Registered::New)
    );
    let key = store.node_key("squatter").await.expect("reads");
    assert_eq!(key.map(|k| k.to_bytes()), Some(record(3).node_key));
    assert!(matches!(
        store.register("carol", record(4)).await,
        Err(ProxyError::TooMany(_))
    ));
    // The operator releases a name: it is gone, on disk too.
    assert!(store.release("squatter").await.expect("releases"));
    assert_eq!(store.node_key("squatter").await.expect("reads"), None);
    drop(store);
    let store = backing.open(&config).await;
    let names: Vec<String> = store
        .registered()
        .await
        .expect("reads")
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, ["alice"]);
}

pub(crate) async fn a_counter_is_accepted_once(backing: &impl Backing) {
    let store = store(backing).await;
    online(&store, "alice").await;
    assert!(store.accept_counter("alice", 7).await.expect("alice"));
    assert!(!store.accept_counter("alice", 7).await.expect("alice"));
    assert!(store.accept_counter("alice", 6).await.expect("alice"));
    assert!(matches!(
        store.accept_counter("bob", 1).await,
        Err(ProxyError::NotRegistered(_))
    ));
}

pub(crate) async fn a_hop_is_admitted_once_within_its_rate_and_brings_its_node_online(
    backing: &impl Backing,
) {
    let mut config = backing.config();
    // A bucket of one, refilled in a second: far longer than the steps below take.
    config.node_rate = 1;
    let store = backing.open(&config).await;
    store.register("alice", record(1)).await.expect("registers");
    assert_eq!(
        store.deliver("alice", None, Kind::Call, vec![1]).await.ok(),
        Some(TxStatus::NodeDown),
        "registered, never seen"
    );
    assert_eq!(
        store.admit("alice", Route::Ping, 10).await.ok(),
        Some(Admitted::Yes)
    );
    assert_eq!(
        store.deliver("alice", None, Kind::Call, vec![1]).await.ok(),
        Some(TxStatus::Queued),
        "an admitted ping makes its node present"
    );
    assert_eq!(
        store.admit("alice", Route::Ping, 10).await.ok(),
        Some(Admitted::Replayed)
    );
    assert_eq!(
        store.admit("alice", Route::Ping, 11).await.ok(),
        Some(Admitted::OverRate),
        "the bucket of one was spent"
    );
    // The refused counter was recorded all the same: sent again, it is a replay.
    assert_eq!(
        store.admit("alice", Route::Ping, 11).await.ok(),
        Some(Admitted::Replayed)
    );
    assert!(matches!(
        store.admit("bob", Route::Ping, 1).await,
        Err(ProxyError::NotRegistered(_))
    ));
}

pub(crate) async fn messages_are_numbered_and_stay_until_acknowledged(backing: &impl Backing) {
    let store = store(backing).await;
    assert_eq!(
        store.deliver("alice", None, Kind::Call, vec![1]).await.ok(),
        Some(TxStatus::NodeDown),
        "not registered"
    );
    online(&store, "alice").await;
    let mut arrivals = store.watch_mailbox("alice").await.expect("watch");
    arrivals.borrow_and_update();
    for byte in [1, 2] {
        let status = store.deliver("alice", Some("bob"), Kind::Call, vec![byte]);
        assert_eq!(status.await.ok(), Some(TxStatus::Queued));
    }
    assert!(arrivals.has_changed().expect("open"), "the poll is woken");
    let seqs = |mail: Mail| mail.messages.iter().map(|m| m.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(store.take("alice", None, None).await.expect("take")),
        [1, 2]
    );
    assert_eq!(
        seqs(store.take("alice", Some(1), None).await.expect("take")),
        [2]
    );
    store.clear_mailbox("alice").await.expect("clear");
    let mail = store.take("alice", None, None).await.expect("take");
    assert!(mail.messages.is_empty());
}

pub(crate) async fn a_goodbye_empties_the_mailbox_wakes_the_poll_and_refuses_more(
    backing: &impl Backing,
) {
    let store = store(backing).await;
    online(&store, "alice").await;
    let status = store.deliver("alice", None, Kind::Call, vec![1]).await;
    assert_eq!(status.ok(), Some(TxStatus::Queued));
    let mut arrivals = store.watch_mailbox("alice").await.expect("watch");
    arrivals.borrow_and_update();
    store.leave("alice").await.expect("leaves");
    assert!(arrivals.has_changed().expect("open"));
    let mail = store.take("alice", None, None).await.expect("take");
    assert!(mail.gone && mail.messages.is_empty());
    let status = store.deliver("alice", None, Kind::Call, vec![2]).await;
    assert_eq!(status.ok(), Some(TxStatus::NodeDown));
    // A ping signed before the goodbye does not bring the node back; one after does.
    store.seen("alice", Route::Bye, 5).await.expect("seen");
    store.seen("alice", Route::Ping, 4).await.expect("seen");
    assert!(store.take("alice", None, None).await.expect("take").gone);
    store.seen("alice", Route::Ping, 6).await.expect("seen");
    assert!(!store.take("alice", None, None).await.expect("take").gone);
}

/// The names listed now, from the first page.
async fn listed(store: &impl Store) -> Vec<String> {
    let page = store.directory_page(None, 100).await.expect("reads");
    page.nodes.iter().map(|n| n.name.clone()).collect()
}

pub(crate) async fn every_directory_change_gets_a_larger_version(backing: &impl Backing) {
    let store = store(backing).await;
    online(&store, "alice").await;
    let first = store.directory_page(None, 10).await.expect("reads").version;
    assert!(listed(&store).await.is_empty());

    store
        .list("alice", Vec::new(), vec![[3; 32]])
        .await
        .expect("lists");
    let after_listing = store.directory_page(None, 10).await.expect("reads").version;
    assert!(after_listing > first);
    assert_eq!(listed(&store).await, ["alice"]);

    store
        .list("alice", Vec::new(), vec![[3; 32]])
        .await
        .expect("lists");
    let again = store.directory_page(None, 10).await.expect("reads").version;
    assert_eq!(again, after_listing, "nothing changed");

    tokio::time::sleep(Duration::from_millis(60)).await;
    store.sweep().await;
    let swept = store
        .directory_since(again)
        .await
        .expect("reads")
        .expect("kept");
    assert!(swept.version > again);
    assert_eq!(swept.unlisted, ["alice"], "silent past the timeout");
    assert!(listed(&store).await.is_empty());
}

pub(crate) async fn a_follower_hears_exactly_the_followed_nodes_that_changed_since_its_version(
    backing: &impl Backing,
) {
    let store = store(backing).await;
    for name in ["alice", "bob", "carol", "dave"] {
        online(&store, name).await;
        store
            .list(name, Vec::new(), Vec::new())
            .await
            .expect("lists");
    }
    store
        .follow("dave", vec!["alice".into(), "bob".into(), "zoe".into()])
        .await
        .expect("follows");
    // Version 0: every followed node, listed or not (zoe is unknown).
    let (v1, all) = store.followed("dave", 0).await.expect("followed");
    let names: Vec<&str> = all.listed.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(all.unlisted, ["zoe"]);
    // Carol is not followed: her change is not dave's business.
    store
        .list("carol", Vec::new(), vec![[1; 32]])
        .await
        .expect("lists");
    store
        .list("bob", Vec::new(), vec![[2; 32]])
        .await
        .expect("lists");
    let (v2, changed) = store.followed("dave", v1).await.expect("followed");
    assert!(v2 > v1);
    assert_eq!(changed.listed.len(), 1);
    assert_eq!(changed.listed[0].accepts, [[2; 32]]);
    assert!(changed.unlisted.is_empty());
    // Many changes missed: still exactly the followed ones, with their state now.
    for i in 0..50u8 {
        store
            .list("carol", Vec::new(), vec![[i; 32]])
            .await
            .expect("lists");
        store
            .list("alice", Vec::new(), vec![[i; 32]])
            .await
            .expect("lists");
    }
    store.leave("alice").await.expect("leaves");
    let (_, missed) = store.followed("dave", v2).await.expect("followed");
    assert!(missed.listed.is_empty());
    assert_eq!(missed.unlisted, ["alice"]);
    // A version from another start of the proxy (ahead of this one) gets everything.
    let (_, fresh) = store.followed("dave", u64::MAX).await.expect("followed");
    assert_eq!(fresh.listed.len() + fresh.unlisted.len(), 3);
}

pub(crate) async fn a_followed_node_changing_wakes_the_followers_receive_request(
    backing: &impl Backing,
) {
    let store = store(backing).await;
    online(&store, "alice").await;
    online(&store, "bob").await;
    store
        .follow("bob", vec!["alice".into()])
        .await
        .expect("follows");
    let (known, _) = store.followed("bob", 0).await.expect("followed");
    let mut arrivals = store.watch_mailbox("bob").await.expect("watch");
    arrivals.borrow_and_update();
    let mail = store.take("bob", None, Some(known)).await.expect("take");
    assert!(mail.directory.is_none(), "nothing changed yet");
    store
        .list("alice", Vec::new(), Vec::new())
        .await
        .expect("lists");
    assert!(arrivals.has_changed().expect("open"), "bob's poll is woken");
    let mail = store.take("bob", None, Some(known)).await.expect("take");
    let (version, update) = mail.directory.expect("alice's change");
    assert!(version > known);
    assert_eq!(update.listed[0].name, "alice");
}

pub(crate) async fn the_directory_stays_within_its_bound_and_a_node_past_it_is_listed_bare(
    backing: &impl Backing,
) {
    let mut config = backing.config();
    config.directory_bytes = 4096;
    let store = backing.open(&config).await;
    let keys = |n: usize| vec![[1u8; 32]; n];
    online(&store, "alice").await;
    store
        .list("alice", Vec::new(), keys(80))
        .await
        .expect("2.6 KB fits");
    online(&store, "bob").await;
    assert!(matches!(
        store.list("bob", Vec::new(), keys(80)).await,
        Err(ProxyError::TooLarge(text)) if text.contains("the directory is full")
    ));
    let page = store.directory_page(None, 10).await.expect("reads");
    let bob = page.nodes.iter().find(|n| n.name == "bob");
    assert!(
        bob.is_some_and(|b| b.accepts.is_empty()),
        "listed by name and key"
    );
    let nodes: Vec<wtd_wire::DirectoryEntry> = page.nodes.iter().map(|n| (**n).clone()).collect();
    let bytes = wire::encode(&wtd_wire::Directory { nodes }).len();
    assert!(bytes <= 4096, "{bytes} bytes");
    // Alice changing her own line is measured without her old one.
    store
        .list("alice", Vec::new(), keys(85))
        .await
        .expect("still fits");
    store
        .list("bob", Vec::new(), keys(2))
        .await
        .expect("a small line fits");
}

pub(crate) async fn a_held_poll_keeps_a_node_online_and_is_bounded(backing: &impl Backing) {
    let store = store(backing).await;
    store.register("alice", record(1)).await.expect("registers");
    store.hold_poll("alice").await.expect("first");
    store.hold_poll("alice").await.expect("second");
    assert!(matches!(
        store.hold_poll("alice").await,
        Err(ProxyError::TooMany(_))
    ));
    tokio::time::sleep(Duration::from_millis(60)).await;
    store.sweep().await;
    assert_eq!(
        listed(&store).await,
        ["alice"],
        "online while it holds a poll"
    );
    store.release_poll("alice");
    store.release_poll("alice");
    tokio::time::sleep(Duration::from_millis(60)).await;
    store.sweep().await;
    assert!(listed(&store).await.is_empty());
}

pub(crate) async fn a_reply_is_taken_only_from_the_callee_and_only_once(backing: &impl Backing) {
    let store = store(backing).await;
    let answer = store.expect_reply([1; 16], "alice").await.expect("waits");
    assert!(matches!(
        store.expect_reply([1; 16], "alice").await,
        Err(ProxyError::Malformed(_))
    ));
    store.expect_reply([2; 16], "bob").await.expect("waits");
    assert!(matches!(
        store.expect_reply([3; 16], "bob").await,
        Err(ProxyError::TooMany(_))
    ));
    assert_eq!(
        store.answer([1; 16], "mallory", vec![9]).await,
        Some(vec![9])
    );
    assert_eq!(store.answer([1; 16], "alice", vec![7]).await, None);
    assert_eq!(answer.await.ok(), Some(vec![7]));
    assert_eq!(store.answer([1; 16], "alice", vec![8]).await, Some(vec![8]));
    store.forget_reply(&[2; 16]);
    store
        .expect_reply([3; 16], "bob")
        .await
        .expect("a slot came back");
}

pub(crate) async fn with_approval_a_new_name_waits_and_the_decision_survives_a_restart(
    backing: &impl Backing,
) {
    let mut config = backing.config();
    config.approve = true;
    {
        let store = backing.open(&config).await;
        for name in ["alice", "mallory"] {
            assert_eq!(
                store.register(name, record(1)).await.ok(),
                Some(Registered::Pending)
            );
        }
        assert_eq!(
            store.node_key("alice").await.expect("reads"),
            None,
            "a pending node's requests are not accepted"
        );
        assert!(store.decide("alice", true).await.expect("decides"));
        assert!(store.decide("mallory", false).await.expect("decides"));
        assert!(!store.decide("nobody", true).await.expect("decides"));
    }
    let store = backing.open(&config).await;
    assert_eq!(
        store.register("alice", record(1)).await.ok(),
        Some(Registered::Again)
    );
    assert!(store.node_key("alice").await.expect("reads").is_some());
    assert_eq!(
        store.register("mallory", record(1)).await.ok(),
        Some(Registered::Rejected)
    );
    let observed = store.observe().await;
    let mallory = observed
        .nodes
        .iter()
        .find(|n| n.name == "mallory")
        .expect("listed");
    assert!(mallory.rejected && !mallory.approved);
    assert_eq!(mallory.email, "alice@example.org");
}
