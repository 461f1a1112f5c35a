//! `node.toml`: the node's name and proxy, recorded in its home so that the `wtd` command
//! knows which node a home belongs to.
//!
//! Two things write it, the same way: `wtd register`, and [`Node::start`](crate::Node::start)
//! once the proxy has accepted the node. So a home a program started is a home `wtd` can
//! work on (`wtd grant new bob --home DIR` needs the node's name and proxy to mint a key
//! file), and a home `wtd register` made is the one the program then serves from.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::home;

/// What `node.toml` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The node's name on its proxy.
    pub name: String,
    /// The proxy it registered with, without a trailing `/`.
    pub proxy: String,
    /// The contact address the proxy's operator sees.
    #[serde(default)]
    pub email: String,
}

/// What [`NodeRecord::record_start`] did with `node.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The file already said this: left as it was.
    Unchanged,
    /// Written: the home had none, or it named this node with another proxy or address.
    Written,
    /// Left as it was because it names another node (the one given): the `wtd` command
    /// on this home acts as that node.
    NamesAnother(String),
}

impl NodeRecord {
    /// Reads `node.toml` in `home`; a home never registered says how to register it.
    pub fn read(home: &Path) -> Result<NodeRecord> {
        let path = path(home);
        let text = std::fs::read_to_string(&path).map_err(|_| {
            Error::file(
                &path,
                "this node is not registered yet: run `wtd register --proxy URL --name NAME` first \
                 (or start its program once on this home: a running node records its name here)",
            )
        })?;
        toml::from_str(&text).map_err(|e| Error::file(&path, format!("not a valid node.toml: {e}")))
    }

    /// Writes `node.toml` in `home`, all at once or not at all.
    pub fn write(&self, home: &Path) -> Result<()> {
        let path = path(home);
        let text = toml::to_string(self).map_err(|e| Error::file(&path, e))?;
        home::write_atomic(&path, text.as_bytes(), false)
    }

    /// Records a node the proxy has just accepted, as `wtd register` would: its name, its
    /// proxy, and its address (an empty one keeps the address already recorded).
    ///
    /// A `node.toml` naming another node is never overwritten: two names on one home is
    /// a mistake the owner must settle, and the answer says so.
    pub fn record_start(&self, home: &Path) -> Result<Recorded> {
        let old = NodeRecord::read(home).ok();
        let mut new = self.clone();
        if let Some(old) = &old {
            if old.name != self.name {
                return Ok(Recorded::NamesAnother(old.name.clone()));
            }
            if new.email.is_empty() {
                new.email = old.email.clone();
            }
            if *old == new {
                return Ok(Recorded::Unchanged);
            }
        }
        new.write(home)?;
        Ok(Recorded::Written)
    }
}

fn path(home: &Path) -> PathBuf {
    home.join("node.toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, proxy: &str, email: &str) -> NodeRecord {
        NodeRecord {
            name: name.into(),
            proxy: proxy.into(),
            email: email.into(),
        }
    }

    #[test]
    fn a_start_records_a_new_home_and_keeps_the_address_of_a_registered_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let started = record("alice", "http://127.0.0.1:1", "");
        assert_eq!(
            started.record_start(dir.path()).expect("written"),
            Recorded::Written
        );
        assert_eq!(NodeRecord::read(dir.path()).expect("read"), started);

        record("alice", "http://127.0.0.1:1", "a@example.org")
            .write(dir.path())
            .expect("registered");
        assert_eq!(
            started.record_start(dir.path()).expect("kept"),
            Recorded::Unchanged
        );
        let moved = record("alice", "http://127.0.0.1:2", "");
        assert_eq!(
            moved.record_start(dir.path()).expect("written"),
            Recorded::Written
        );
        assert_eq!(
            NodeRecord::read(dir.path()).expect("read"),
            record("alice", "http://127.0.0.1:2", "a@example.org")
        );
    }

    #[test]
    fn a_start_never_overwrites_a_home_that_names_another_node() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bob = record("bob", "http://127.0.0.1:1", "");
        bob.write(dir.path()).expect("registered");
        let alice = record("alice", "http://127.0.0.1:1", "");
        assert_eq!(
            alice.record_start(dir.path()).expect("answered"),
            Recorded::NamesAnother("bob".into())
        );
        assert_eq!(NodeRecord::read(dir.path()).expect("read"), bob);
    }
}
