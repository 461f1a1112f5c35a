//! `node.toml`: what `wtd register` remembers, so later commands need no `--proxy` and
//! know the node's own name.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::home;

/// What `wtd register` remembers in `node.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct NodeConfigFile {
    /// The node's name on its proxy.
    pub(super) name: String,
    /// The proxy it registered with, without a trailing `/`.
    pub(super) proxy: String,
    /// The contact address the proxy's operator sees.
    #[serde(default)]
    pub(super) email: String,
}

impl NodeConfigFile {
    /// Reads `node.toml` in `home`; a home never registered says how to register it.
    pub(super) fn read(home: &Path) -> Result<NodeConfigFile> {
        let path = path(home);
        let text = std::fs::read_to_string(&path).map_err(|_| {
            Error::file(
                &path,
                "this node is not registered yet: run `wtd register --proxy URL --name NAME` first",
            )
        })?;
        toml::from_str(&text).map_err(|e| Error::file(&path, format!("not a valid node.toml: {e}")))
    }

    /// Writes `node.toml` in `home`, all at once or not at all.
    pub(super) fn write(&self, home: &Path) -> Result<()> {
        let path = path(home);
        let text = toml::to_string(self).map_err(|e| Error::file(&path, e))?;
        home::write_atomic(&path, text.as_bytes(), false)
    }
}

fn path(home: &Path) -> PathBuf {
    home.join("node.toml")
}
