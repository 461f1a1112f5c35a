//! The registry of nodes on disk: name → node public key and contact, in redb (an
//! embedded, crash-safe database in one file), so registrations survive a restart.
//!
//! Only [`EmbeddedStore`](super::EmbeddedStore) uses it; the rest of the proxy sees
//! registrations through [`Registrations`](super::Registrations).

use std::path::Path;
use std::time::Duration;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::error::ProxyError;

const NODES: TableDefinition<&str, &[u8]> = TableDefinition::new("nodes");

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
        // Create the table, so that reading an empty database works.
        registry.write(|_| Ok(()))?;
        Ok(registry)
    }

    fn write(
        &self,
        change: impl FnOnce(&mut redb::Table<&str, &[u8]>) -> Result<(), redb::Error>,
    ) -> Result<(), ProxyError> {
        let result = (|| -> Result<(), redb::Error> {
            let txn = self.db.begin_write()?;
            {
                let mut table = txn.open_table(NODES)?;
                change(&mut table)?;
            }
            txn.commit()?;
            Ok(())
        })();
        result.map_err(|e| ProxyError::Storage(format!("cannot write the node registry: {e}")))
    }

    /// Records a node (durably: the transaction is committed before this returns).
    pub fn put(&self, name: &str, record: &NodeRecord) -> Result<(), ProxyError> {
        let bytes = wtd_wire::encode(record);
        self.write(|table| {
            table.insert(name, bytes.as_slice())?;
            Ok(())
        })
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
            registry.put("alice", &record).expect("put");
        }
        let registry = Registry::open(dir.path()).expect("reopens");
        assert_eq!(
            registry.all().expect("reads"),
            vec![("alice".to_string(), record)]
        );
    }
}
