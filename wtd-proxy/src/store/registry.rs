//! The registry of nodes on disk: name → node public key and contact, in redb (an
//! embedded, crash-safe database in one file), so registrations survive a restart.
//!
//! Only [`EmbeddedStore`](super::EmbeddedStore) uses it; the rest of the proxy sees
//! registrations through [`Registrations`](super::Registrations).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::error::ProxyError;

const NODES: TableDefinition<&str, &[u8]> = TableDefinition::new("nodes");
/// When each node was last online, ms since the Unix epoch, saved now and then (see
/// [`Registry::save_seen`]). A table of its own: the records in `nodes` stay as they were
/// written, and a node missing here was last seen when it registered.
const LAST_SEEN: TableDefinition<&str, u64> = TableDefinition::new("last_seen");

/// Registrations the operator has not approved (`1`) or has rejected (`2`), when the
/// proxy approves by hand. A table of its own, like `last_seen`: a name missing here is
/// approved, so the records in `nodes` keep their layout and a proxy that stops approving
/// by hand simply ignores it.
const DECISIONS: TableDefinition<&str, u8> = TableDefinition::new("decisions");

/// [`DECISIONS`]: not approved yet.
pub const PENDING: u8 = 1;
/// [`DECISIONS`]: rejected by the operator.
pub const REJECTED: u8 = 2;

/// One registered node, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The node's public key.
    pub node_key: [u8; 32],
    /// The owner's contact address.
    pub email: String,
    /// When it registered, ms since the Unix epoch.
    pub registered_at_ms: u64,
}

/// The proxy's database of registrations.
pub struct Registry {
    /// The open redb file, `proxy.redb` in the data folder.
    db: Database,
}

impl Registry {
    /// Opens (or creates) `dir/proxy.redb`. A database still held by a proxy that is
    /// shutting down in this process is waited for, up to five seconds.
    pub fn open(dir: &Path) -> Result<Registry, ProxyError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            ProxyError::Storage(format!(
                "cannot create the data folder {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join("proxy.redb");
        let mut tries = 0;
        let db = loop {
            match Database::create(&path) {
                Ok(db) => break db,
                Err(redb::DatabaseError::DatabaseAlreadyOpen) if tries < 50 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => {
                    return Err(ProxyError::Storage(format!(
                        "cannot open {}: {e} (is another proxy using this data folder?)",
                        path.display()
                    )));
                }
            }
        };
        let registry = Registry { db };
        // Create the tables, so that reading an empty database works.
        registry.write(|_, _, _| Ok(()))?;
        Ok(registry)
    }

    /// Records the operator's decision on `name` (`None`: approved, the name leaves the
    /// table), durably; `false` if `name` is not registered.
    pub fn decide(&self, name: &str, decision: Option<u8>) -> Result<bool, ProxyError> {
        let mut found = false;
        self.write(|nodes, _, decisions| {
            found = nodes.get(name)?.is_some();
            if found {
                match decision {
                    Some(d) => decisions.insert(name, d).map(|_| ())?,
                    None => decisions.remove(name).map(|_| ())?,
                }
            }
            Ok(())
        })?;
        Ok(found)
    }

    /// The decisions recorded: names not approved yet, or rejected.
    pub fn decisions(&self) -> Result<HashMap<String, u8>, ProxyError> {
        let read = || -> Result<HashMap<String, u8>, redb::Error> {
            let txn = self.db.begin_read()?;
            let table = txn.open_table(DECISIONS)?;
            let mut all = HashMap::new();
            for entry in table.iter()? {
                let (name, d) = entry?;
                all.insert(name.value().to_string(), d.value());
            }
            Ok(all)
        };
        read().map_err(|e| ProxyError::Storage(format!("cannot read the node registry: {e}")))
    }

    fn write(
        &self,
        change: impl FnOnce(
            &mut redb::Table<&str, &[u8]>,
            &mut redb::Table<&str, u64>,
            &mut redb::Table<&str, u8>,
        ) -> Result<(), redb::Error>,
    ) -> Result<(), ProxyError> {
        let result = (|| -> Result<(), redb::Error> {
            let txn = self.db.begin_write()?;
            {
                let mut nodes = txn.open_table(NODES)?;
                let mut seen = txn.open_table(LAST_SEEN)?;
                let mut decisions = txn.open_table(DECISIONS)?;
                change(&mut nodes, &mut seen, &mut decisions)?;
            }
            txn.commit()?;
            Ok(())
        })();
        result.map_err(|e| ProxyError::Storage(format!("cannot write the node registry: {e}")))
    }

    /// Records a node (durably: the transaction is committed before this returns), in
    /// the same step removing `instead` (an expired registration it replaces), if any,
    /// and recording it as pending the operator's approval if `pending`.
    pub fn put(
        &self,
        name: &str,
        record: &NodeRecord,
        instead: Option<&str>,
        pending: bool,
    ) -> Result<(), ProxyError> {
        let bytes = wtd_wire::encode(record);
        self.write(|nodes, seen, decisions| {
            if let Some(old) = instead {
                nodes.remove(old)?;
                seen.remove(old)?;
                decisions.remove(old)?;
            }
            nodes.insert(name, bytes.as_slice())?;
            seen.remove(name)?;
            decisions.remove(name)?;
            if pending {
                decisions.insert(name, PENDING)?;
            }
            Ok(())
        })
    }

    /// Removes a registration; `true` if there was one.
    pub fn remove(&self, name: &str) -> Result<bool, ProxyError> {
        let mut removed = false;
        self.write(|nodes, seen, decisions| {
            removed = nodes.remove(name)?.is_some();
            seen.remove(name)?;
            decisions.remove(name)?;
            Ok(())
        })?;
        Ok(removed)
    }

    /// Saves when these nodes were last online (ms since the Unix epoch), in one
    /// transaction. Names no longer registered are skipped.
    pub fn save_seen(&self, times: &[(String, u64)]) -> Result<(), ProxyError> {
        self.write(|nodes, seen, _| {
            for (name, ms) in times {
                if nodes.get(name.as_str())?.is_some() {
                    seen.insert(name.as_str(), ms)?;
                }
            }
            Ok(())
        })
    }

    /// When each node was last online, as last saved; a node missing was not seen since
    /// it registered.
    pub fn last_seen(&self) -> Result<HashMap<String, u64>, ProxyError> {
        let read = || -> Result<HashMap<String, u64>, redb::Error> {
            let txn = self.db.begin_read()?;
            let table = txn.open_table(LAST_SEEN)?;
            let mut times = HashMap::new();
            for entry in table.iter()? {
                let (name, ms) = entry?;
                times.insert(name.value().to_string(), ms.value());
            }
            Ok(times)
        };
        read().map_err(|e| ProxyError::Storage(format!("cannot read the node registry: {e}")))
    }

    /// Every registered node.
    pub fn all(&self) -> Result<Vec<(String, NodeRecord)>, ProxyError> {
        let read = || -> Result<Vec<(String, NodeRecord)>, redb::Error> {
            let txn = self.db.begin_read()?;
            let table = txn.open_table(NODES)?;
            let mut nodes = Vec::new();
            for entry in table.iter()? {
                let (name, bytes) = entry?;
                match wtd_wire::decode_exact::<NodeRecord>(bytes.value()) {
                    Ok(record) => nodes.push((name.value().to_string(), record)),
                    Err(e) => {
                        tracing::error!(name = name.value(), "skipping a damaged registration: {e}")
                    }
                }
            }
            Ok(nodes)
        };
        read().map_err(|e| ProxyError::Storage(format!("cannot read the node registry: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let record = NodeRecord {
            node_key: [9; 32],
            email: "alice@example.org".into(),
            registered_at_ms: 1,
        };
        {
            let registry = Registry::open(dir.path()).expect("opens");
            registry.put("alice", &record, None, false).expect("put");
        }
        let registry = Registry::open(dir.path()).expect("reopens");
        assert_eq!(
            registry.all().expect("reads"),
            vec![("alice".to_string(), record.clone())]
        );
    }

    #[test]
    fn last_seen_times_and_removals_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let record = NodeRecord {
            node_key: [9; 32],
            email: String::new(),
            registered_at_ms: 1,
        };
        {
            let registry = Registry::open(dir.path()).expect("opens");
            registry.put("alice", &record, None, false).expect("put");
            registry.put("bob", &record, None, false).expect("put");
            let times = [("alice".to_string(), 7), ("gone".to_string(), 8)];
            registry.save_seen(&times).expect("saves");
            assert!(registry.remove("bob").expect("removes"));
            assert!(!registry.remove("bob").expect("nothing to remove"));
            registry
                .put("carol", &record, Some("alice"), false)
                .expect("replaces");
        }
        let registry = Registry::open(dir.path()).expect("reopens");
        let names: Vec<String> = registry
            .all()
            .expect("reads")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["carol"]);
        assert!(
            registry.last_seen().expect("reads").is_empty(),
            "alice's time went with her"
        );
    }
}
