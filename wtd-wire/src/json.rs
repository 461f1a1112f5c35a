//! The directory as JSON (`GET /api/directory`), for people, scripts and the `wtd`
//! command. One type: the proxy writes it, the command reads it.

use serde::{Deserialize, Serialize};

use crate::proxy::Directory;

/// `GET /api/directory`: who is online and what they offer, keys in hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonDirectory {
    /// The directory's version: it changes whenever a node joins, leaves or changes
    /// what it offers.
    pub version: u64,
    /// Online nodes, sorted by name.
    pub nodes: Vec<JsonNode>,
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
        let nodes = directory
            .nodes
            .into_iter()
            .map(|n| JsonNode {
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
            })
            .collect();
        JsonDirectory { version, nodes }
    }
}
