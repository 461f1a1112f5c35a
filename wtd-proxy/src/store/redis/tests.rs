//! The Redis store kept to every promise of the store traits (`store/tests.rs`), each
//! test on a Redis of its own; and what two stores on one Redis (two proxies) agree on.

use std::time::Duration;

use wtd_wire::{Kind, Route, TxStatus};

use super::*;
use crate::local_redis::LocalRedis;
use crate::store::tests::{Backing, store_promises};
use crate::store::{ApplyWaiters, Mailboxes, Presence};

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
