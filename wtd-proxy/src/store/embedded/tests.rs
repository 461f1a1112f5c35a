//! The embedded store kept to every promise of the store traits (`store/tests.rs`).

use super::*;
use crate::store::tests::{Backing, store_promises};

/// A temporary data folder.
struct Folder(tempfile::TempDir);

impl Backing for Folder {
    type Store = EmbeddedStore;

    fn config(&self) -> Config {
        Config::new(self.0.path())
    }

    async fn open(&self, config: &Config) -> EmbeddedStore {
        EmbeddedStore::open(config).expect("opens")
    }
}

/// Every embedded test can run anywhere.
fn folder(_test: &str) -> Option<Folder> {
    Some(Folder(tempfile::tempdir().expect("tempdir")))
}

store_promises!(folder);
