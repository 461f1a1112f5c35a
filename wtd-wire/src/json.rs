//! The directory as JSON (`GET /api/directory`), for people, scripts and the `wtd`
//! command. One type: the proxy writes it, the command reads it.

use serde::{Deserialize, Serialize};

use crate::proxy::{Directory, DirectoryEntry};

/// `GET /api/directory`: who is online and what they offer, keys in hex; one page of
/// it, or what changed since a version (docs/PROTOCOL.md, `GET /api/directory`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonDirectory {
    /// The directory's version: it changes whenever a node joins, leaves or changes
    /// what it offers.
    pub version: u64,
    /// Online nodes, sorted by name: this page of them, or (with `since`) those that
    /// changed.
    pub nodes: Vec<JsonNode>,
    /// The name to ask for the next page after (`?after=`), while there are more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// With `?since=`: whether this is what changed since then (`true`), or, the
    /// version being too old to say, the first page of the whole directory (`false`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub changes: bool,
    /// With `?since=`: the nodes that left since then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unlisted: Vec<String>,
}

/// One online node in a [`JsonDirectory`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonNode {
    /// Its name.
    pub name: String,
    /// Its node public key, 64 hex digits.
    pub node_key: String,
    /// The missions it serves.
    pub missions: Vec<JsonMission>,
    /// The capability public keys it accepts, 64 hex digits each.
    pub accepts: Vec<String>,
}

/// One mission a [`JsonNode`] serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonMission {
    /// The mission.
    pub mission: String,
    /// Its functions, each `module/function`.
    pub functions: Vec<String>,
    /// Its behaviours, each by its wire name; called as `mission/behaviour@instance`.
    /// (Absent in the JSON of proxies before wire version 3.)
    #[serde(default)]
    pub behaviours: Vec<String>,
}

impl JsonDirectory {
    /// The JSON form of the directory at `version`.
    pub fn new(version: u64, directory: Directory) -> JsonDirectory {
        let nodes = directory.nodes.into_iter().map(JsonNode::new).collect();
        JsonDirectory {
            version,
            nodes,
            next: None,
            changes: false,
            unlisted: Vec::new(),
        }
    }
}

impl JsonNode {
    /// The JSON form of one directory entry.
    pub fn new(n: DirectoryEntry) -> JsonNode {
        JsonNode {
            name: n.name,
            node_key: hex::encode(n.node_key),
            missions: n
                .offers
                .into_iter()
                .map(|o| JsonMission {
                    mission: o.mission,
                    functions: o.functions,
                    behaviours: o.behaviours,
                })
                .collect(),
            accepts: n.accepts.iter().map(hex::encode).collect(),
        }
    }
}
