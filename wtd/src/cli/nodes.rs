//! `wtd nodes`: the proxy's directory as this node sees it: who is online, what they
//! offer, and whether they accept a key held here.
//!
//! Everything in the directory was written by strangers (any node can register any
//! mission name), so the text goes through [`inert`].

use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::error::CliError;
use super::key_store;
use super::output::{Output, inert};
use super::proxy::Proxy;
use crate::path;
use crate::wire::JsonMission;

/// `wtd nodes [--proxy URL]`.
#[derive(clap::Args, Debug)]
pub(super) struct NodesArgs {
    /// The proxy [default: the one recorded by `wtd register`].
    #[arg(long)]
    proxy: Option<String>,
}

/// One node in `wtd nodes`.
#[derive(Debug, Serialize)]
struct NodeRow {
    /// Whether the node accepts the key held here for calling it (on its last ping).
    accepts_my_key: bool,
    /// The missions it serves, each with its `module/function`s.
    missions: Vec<JsonMission>,
    /// Its name.
    name: String,
}

impl fmt::Display for NodeRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key_note = if self.accepts_my_key {
            "accepts your key"
        } else {
            "no key of yours"
        };
        write!(f, "{} ({key_note})", inert(&self.name))?;
        // Functions in their shortest form (see `crate::path`): `add` in mission `demo`
        // is typed `demo/add`. Behaviours as `counter@…`: typed with an instance's name,
        // `counting/counter@main`.
        for m in &self.missions {
            let functions: Vec<String> = m
                .functions
                .iter()
                .map(|f| inert(&path::shown_in(&m.mission, f)))
                .chain(m.behaviours.iter().map(|b| format!("{}@…", inert(b))))
                .collect();
            write!(f, "\n  {}: {}", inert(&m.mission), functions.join(", "))?;
        }
        Ok(())
    }
}

/// What `wtd nodes` prints: the nodes, or a JSON array of [`NodeRow`]s.
#[derive(Debug, Serialize)]
#[serde(transparent)]
struct NodeList {
    rows: Vec<NodeRow>,
    /// Named when no node is online, so an empty list does not look like a wrong proxy.
    #[serde(skip)]
    proxy: String,
}

impl fmt::Display for NodeList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rows.is_empty() {
            return write!(f, "No node is online at {}.", self.proxy);
        }
        let lines: Vec<String> = self.rows.iter().map(NodeRow::to_string).collect();
        write!(f, "{}", lines.join("\n"))
    }
}

/// Prints the directory of the proxy given, or of the one recorded in `home`.
pub(super) fn run(out: &Output, home: &Path, args: &NodesArgs) -> Result<(), CliError> {
    let proxy = Proxy::given_or_registered(home, args.proxy.as_deref())?;
    let directory = proxy.directory()?;
    // The public half of each key held, by the node it calls.
    let mine: Vec<(String, String)> = key_store::held(home)
        .into_iter()
        .filter_map(|(_, k)| k.ok())
        .filter_map(|k| {
            let public = hex::encode(k.signing_key().ok()?.verifying_key().to_bytes());
            Some((k.node, public))
        })
        .collect();
    let rows = directory
        .nodes
        .into_iter()
        .map(|n| NodeRow {
            accepts_my_key: mine
                .iter()
                .any(|(node, key)| *node == n.name && n.accepts.contains(key)),
            missions: n.missions,
            name: n.name,
        })
        .collect();
    out.print(&NodeList {
        rows,
        proxy: proxy.url().to_string(),
    });
    Ok(())
}
