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
    /// The proxy it registered with (its primary), without a trailing `/`.
    pub proxy: String,
    /// The proxies to move to, in order, when the one in use stops answering. Absent
    /// from the files of nodes with one proxy (and from every file written before
    /// failover existed), which read as an empty list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback_proxies: Vec<String>,
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
            fallback_proxies: Vec::new(),
            email: email.into(),
        }
    }

    #[test]
    fn a_file_written_before_failover_still_loads_and_fallbacks_are_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("node.toml"),
            "name = \"alice\"\nproxy = \"http://127.0.0.1:1\"\nemail = \"a@example.org\"\n",
        )
        .expect("written");
        assert_eq!(
            NodeRecord::read(dir.path()).expect("an old file loads"),
            record("alice", "http://127.0.0.1:1", "a@example.org")
        );

        let two = NodeRecord {
            fallback_proxies: vec!["http://127.0.0.1:2".into()],
            ..record("alice", "http://127.0.0.1:1", "")
        };
        two.write(dir.path()).expect("written");
        let text = std::fs::read_to_string(dir.path().join("node.toml")).expect("read");
        assert!(
            text.contains("fallback_proxies = [\"http://127.0.0.1:2\"]"),
            "{text}"
        );
        assert_eq!(NodeRecord::read(dir.path()).expect("loads"), two);
        let config = crate::NodeConfig::registered(dir.path()).expect("a config");
        assert_eq!(
            config.proxies(),
            ["http://127.0.0.1:1", "http://127.0.0.1:2"],
            "the primary first"
        );

        // One proxy: the file says nothing of fallbacks, as before.
        record("alice", "http://127.0.0.1:1", "")
            .write(dir.path())
            .expect("written");
        let text = std::fs::read_to_string(dir.path().join("node.toml")).expect("read");
        assert!(!text.contains("fallback"), "{text}");
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
