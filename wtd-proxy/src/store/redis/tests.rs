//! The Redis store kept to every promise of the store traits (`store/tests.rs`), each
//! test on a Redis of its own; and what two stores on one Redis (two proxies) agree on.

use std::time::Duration;

use wtd_wire::{Kind, Route, TxStatus};

use super::*;
use crate::local_redis::LocalRedis;
use crate::store::tests::{Backing, store_promises};
use crate::store::{
    ApplyWaiters, Mailboxes, NodeRecord, Observe, Presence, Registered, Registrations,
};

/// Long enough for anything that must happen (a pub/sub message, a reconnection) never
/// to be mistaken for something that does not: the tests wait for events, bounded.
const PATIENCE: Duration = Duration::from_secs(10);

/// A Redis of the test's own, in a temporary folder (dropped last: it holds the files).
struct OwnRedis {
    redis: LocalRedis,
    dir: tempfile::TempDir,
}

impl Backing for OwnRedis {
    type Store = RedisStore;

    fn config(&self) -> Config {
        let mut config = Config::new(self.dir.path());
        config.store = Some(self.redis.url());
        config
    }

    async fn open(&self, config: &Config) -> RedisStore {
        connect(&self.redis.url(), config).await.expect("connects")
    }
}

/// A Redis for `test`, or `None` (said loudly) where redis-server is missing.
fn own_redis(test: &str) -> Option<OwnRedis> {
    let dir = tempfile::tempdir().expect("tempdir");
    let redis = LocalRedis::for_test(test, dir.path())?;
    Some(OwnRedis { redis, dir })
}

store_promises!(own_redis);

fn record(key: u8) -> NodeRecord {
    let key = ed25519_dalek::SigningKey::from_bytes(&[key; 32]);
    NodeRecord {
        node_key: key.verifying_key().to_bytes(),
        email: String::new(),
        registered_at_ms: 1,
    }
}

/// Two stores on one Redis, as two proxies would have.
async fn two(backing: &OwnRedis) -> (RedisStore, RedisStore) {
    let config = backing.config();
    (backing.open(&config).await, backing.open(&config).await)
}

/// Registers `name` through `store` and makes it present, as a ping would.
async fn online(store: &RedisStore, name: &str) {
    store.register(name, record(1)).await.expect("registers");
    store.seen(name, Route::Ping, 1).await.expect("seen");
}

#[tokio::test]
async fn two_stores_share_the_epoch_and_a_counter_accepted_by_one_is_refused_by_the_other() {
    let Some(backing) = own_redis("two_stores_share_the_epoch_and_a_counter") else {
        return;
    };
    let (a, b) = two(&backing).await;
    assert_eq!(
        a.epoch(),
        b.epoch(),
        "one epoch for all proxies on one Redis"
    );
    assert!(a.registered().await.expect("none yet").is_empty());
    assert!(a.observe().await.nodes.is_empty());
    online(&a, "alice").await;
    assert_eq!(a.observe().await.nodes.len(), 1);
    assert!(
        a.accept_counter("alice", 1_700_000_000_000_000)
            .await
            .expect("a")
    );
    assert!(
        !b.accept_counter("alice", 1_700_000_000_000_000)
            .await
            .expect("b"),
        "a hop replayed through another proxy"
    );
    assert!(
        b.accept_counter("alice", 1_700_000_000_000_001)
            .await
            .expect("b")
    );
    assert!(
        !a.accept_counter("alice", 1_700_000_000_000_001)
            .await
            .expect("a")
    );
    // A proxy restarting keeps the epoch: the sequence numbers did not restart.
    let epoch = a.epoch();
    drop(a);
    let again = backing.open(&backing.config()).await;
    assert_eq!(again.epoch(), epoch);
}

#[tokio::test]
async fn a_nodes_rate_limit_holds_over_two_stores() {
    let Some(backing) = own_redis("a_nodes_rate_limit_holds_over_two_stores") else {
        return;
    };
    let mut config = backing.config();
    config.node_rate = 2;
    let (a, b) = (backing.open(&config).await, backing.open(&config).await);
    online(&a, "alice").await;
    let started = std::time::Instant::now();
    let mut spent = 0;
    for i in 0..12 {
        let store = if i % 2 == 0 { &a } else { &b };
        spent += u64::from(store.spend_request("alice").await.expect("spends"));
    }
    // One bucket of 2, refilled at 2 a second: two buckets (one per proxy) would let
    // twice as many through.
    let refilled = (started.elapsed().as_secs_f64() * 2.0).ceil() as u64;
    assert!(spent >= 2, "the burst is spent");
    assert!(
        spent <= 2 + refilled,
        "{spent} requests in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_message_queued_through_one_store_is_taken_and_acknowledged_through_the_other() {
    let Some(backing) = own_redis("a_message_queued_through_one_store_is_taken") else {
        return;
    };
    let (a, b) = two(&backing).await;
    online(&a, "bob").await;
    let mut arrivals = b.watch_mailbox("bob").await.expect("watch");
    arrivals.borrow_and_update();
    let status = a.deliver("bob", Some("alice"), Kind::Call, vec![7]).await;
    assert_eq!(status.ok(), Some(TxStatus::Queued));
    let woken = tokio::time::timeout(PATIENCE, arrivals.changed()).await;
    assert!(
        matches!(woken, Ok(Ok(()))),
        "b's held poll is woken over pub/sub"
    );
    let mail = b.take("bob", None, None).await.expect("take");
    assert_eq!(mail.messages.len(), 1);
    assert_eq!(mail.messages[0].from.as_deref(), Some("alice"));
    assert_eq!(mail.messages[0].bytes, [7]);
    let seq = mail.messages[0].seq;
    // Still queued until acknowledged, whichever proxy the node asks.
    assert_eq!(
        a.take("bob", None, None)
            .await
            .expect("take")
            .messages
            .len(),
        1
    );
    assert!(
        b.take("bob", Some(seq), None)
            .await
            .expect("ack")
            .messages
            .is_empty()
    );
    assert!(
        a.take("bob", None, None)
            .await
            .expect("take")
            .messages
            .is_empty()
    );
}

#[tokio::test]
async fn an_apply_reply_answered_through_the_other_store_reaches_the_waiter() {
    let Some(backing) = own_redis("an_apply_reply_answered_through_the_other_store") else {
        return;
    };
    let (a, b) = two(&backing).await;
    let answer = a.expect_reply([5; 16], "alice").await.expect("waits");
    assert!(
        matches!(
            b.expect_reply([5; 16], "alice").await,
            Err(ProxyError::Malformed(_))
        ),
        "one waiter per ack over all proxies"
    );
    assert_eq!(b.answer([5; 16], "mallory", vec![1]).await, Some(vec![1]));
    assert_eq!(b.answer([5; 16], "alice", vec![2]).await, None, "taken");
    let reply = tokio::time::timeout(PATIENCE, answer).await;
    assert_eq!(reply.ok().and_then(Result::ok), Some(vec![2]));
    assert_eq!(
        b.answer([5; 16], "alice", vec![3]).await,
        Some(vec![3]),
        "once"
    );
}

#[tokio::test]
async fn of_two_keys_racing_for_a_name_on_two_stores_one_wins() {
    let Some(backing) = own_redis("of_two_keys_racing_for_a_name_on_two_stores") else {
        return;
    };
    let (a, b) = two(&backing).await;
    for i in 0..20 {
        let name = format!("node{i}");
        let (first, second) =
            tokio::join!(a.register(&name, record(1)), b.register(&name, record(2)));
        let new = [&first, &second]
            .iter()
            .filter(|r| matches!(r, Ok(Registered::New)))
            .count();
        let taken = [&first, &second]
            .iter()
            .filter(|r| matches!(r, Err(ProxyError::NameTaken(_))))
            .count();
        assert_eq!((new, taken), (1, 1), "{name}: {first:?} and {second:?}");
        let winner = if first.is_ok() { record(1) } else { record(2) };
        let key = b
            .node_key(&name)
            .await
            .expect("reads")
            .map(|k| k.to_bytes());
        assert_eq!(key, Some(winner.node_key));
    }
}

#[tokio::test]
async fn with_redis_killed_requests_fail_with_503_and_service_resumes_when_it_is_back() {
    let Some(mut backing) = own_redis("with_redis_killed_requests_fail_with_503") else {
        return;
    };
    let (a, b) = two(&backing).await;
    online(&a, "bob").await;
    backing.redis.kill();
    let refused = a.node_key("bob").await;
    assert!(
        matches!(&refused, Err(e) if e.status() == axum::http::StatusCode::SERVICE_UNAVAILABLE),
        "{refused:?}"
    );
    let refused = b.deliver("bob", None, Kind::Call, vec![1]).await;
    assert!(
        matches!(refused, Err(ProxyError::StoreUnavailable(_))),
        "{refused:?}"
    );
    // Down longer than the connection manager's retries last: it tries again on the
    // next request, however long Redis was away.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(a.node_key("bob").await.is_err());
    backing.redis.restart().expect("redis starts again");
    // Back without restarting either store; the registration survived (append-only file).
    let mut key = None;
    for _ in 0..100 {
        if let Ok(found) = a.node_key("bob").await {
            key = found;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(key.map(|k| k.to_bytes()), Some(record(1).node_key));
    // Pub/sub is back too: a delivery through one store wakes the other's poll.
    a.seen("bob", Route::Ping, 2).await.expect("seen");
    // B's connection comes back by itself (it pings Redis while idle).
    let mut watching = None;
    for _ in 0..100 {
        if let Ok(watch) = b.watch_mailbox("bob").await {
            watching = Some(watch);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut arrivals = watching.expect("b reaches Redis again");
    let mut woken = false;
    for _ in 0..100 {
        arrivals.borrow_and_update();
        let status = a.deliver("bob", None, Kind::Call, vec![2]).await;
        assert_eq!(status.ok(), Some(TxStatus::Queued));
        if tokio::time::timeout(Duration::from_millis(100), arrivals.changed())
            .await
            .is_ok()
        {
            woken = true;
            break;
        }
    }
    assert!(woken, "b hears a's deliveries again");
    // The first wake may have been the one every poll gets when pub/sub is back; this
    // one can only come over pub/sub.
    arrivals.borrow_and_update();
    let status = a.deliver("bob", None, Kind::Call, vec![3]).await;
    assert_eq!(status.ok(), Some(TxStatus::Queued));
    let woken = tokio::time::timeout(PATIENCE, arrivals.changed()).await;
    assert!(matches!(woken, Ok(Ok(()))));
}

#[tokio::test]
async fn polls_are_counted_over_two_stores_and_a_crashed_ones_run_out() {
    let Some(backing) = own_redis("polls_are_counted_over_two_stores") else {
        return;
    };
    let mut config = backing.config();
    config.presence_timeout = Duration::from_millis(50);
    let (a, b) = (backing.open(&config).await, backing.open(&config).await);
    a.register("alice", record(1)).await.expect("registers");
    a.hold_poll("alice").await.expect("a's poll");
    b.hold_poll("alice").await.expect("b's poll");
    assert!(
        matches!(a.hold_poll("alice").await, Err(ProxyError::TooMany(_))),
        "polls_per_node (2) over both proxies"
    );
    b.release_poll("alice");
    // A crashes: nothing releases its poll, and nothing extends it any more (it kept
    // Alice online, as `a_held_poll_keeps_a_node_online_and_is_bounded` shows).
    drop(a);
    let mut offline = false;
    for _ in 0..100 {
        b.sweep().await;
        if b.directory_page(None, 10)
            .await
            .expect("reads")
            .nodes
            .is_empty()
        {
            offline = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(offline, "the crashed proxy's poll ran out");
}

#[tokio::test]
async fn a_held_poll_ends_with_503_when_redis_goes_and_polls_again_when_it_is_back() {
    use crate::state::mailboxes::long_poll;
    let Some(mut backing) = own_redis("a_held_poll_ends_with_503_when_redis_goes") else {
        return;
    };
    let (a, b) = two(&backing).await;
    online(&a, "bob").await;
    let (_closing, closing) = tokio::sync::watch::channel(false);
    let wait = tokio::time::Instant::now() + Duration::from_secs(60);
    let held = tokio::spawn({
        let closing = closing.clone();
        async move {
            let mail = long_poll(&b, "bob", None, 0, wait, closing).await;
            (b, mail)
        }
    });
    // Let the poll start waiting; if it has not yet, its first look fails instead.
    tokio::time::sleep(Duration::from_millis(200)).await;
    backing.redis.kill();
    let ended = tokio::time::timeout(PATIENCE, held).await;
    let (b, mail) = ended.expect("woken when pub/sub is lost").expect("joined");
    assert!(
        matches!(mail, Err(ProxyError::StoreUnavailable(_))),
        "{mail:?}"
    );
    backing.redis.restart().expect("redis starts again");
    // The node polls again (through b) once Redis is back, and gets what a queues.
    let mut queued = false;
    for counter in 2..102 {
        // Bob is online again (as his next request would make him) whatever the pause.
        if a.seen("bob", Route::Ping, counter).await.is_ok()
            && a.deliver("bob", None, Kind::Call, vec![9]).await.ok() == Some(TxStatus::Queued)
        {
            queued = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(queued, "a queues again");
    let mut got = None;
    for _ in 0..100 {
        let wait = tokio::time::Instant::now() + Duration::from_secs(1);
        if let Ok(mail) = long_poll(&b, "bob", None, 0, wait, closing.clone()).await {
            got = Some(mail);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mail = got.expect("b answers polls again");
    assert_eq!(mail.messages.last().map(|m| m.bytes.clone()), Some(vec![9]));
}
