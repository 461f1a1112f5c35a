//! `wtd key new|add|list`: the key files this node holds for calling others, several per
//! node (`key_store` keeps them, `key_choice` picks one per call).

use std::fmt;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use clap::Subcommand;
use serde::Serialize;

use super::error::CliError;
use super::key_store::{self, HeldKey};
use super::output::{Output, inert_lines};
use super::proxy::Proxy;
use super::suggest;
use crate::grants::{KeyProof, ProofFor};
use crate::keys::{self, KeyFile};
use crate::node::record::NodeRecord;
use crate::wire::{JsonDirectory, JsonNode};

/// `wtd key …`.
#[derive(Subcommand, Debug)]
pub(super) enum KeyCommand {
    /// Make a key for calling NODE yourself; prints the public key and a proof that you
    /// hold it, to send its owner, who grants it with `wtd grant add`. No private key changes hands. Keys you already
    /// hold are kept: each grant can have its own key.
    New {
        /// The node you want to call.
        node: String,
        /// NODE's node key as its owner reads it to you from `wtd init` (all 64 hex
        /// digits, or at least the first 16). Without it, the key the proxy's directory
        /// gives is pinned: on a terminal you are asked to confirm it; otherwise the
        /// output carries a warning to check it.
        #[arg(long, value_name = "HEX")]
        node_key: Option<String>,
        /// The proxy [default: the one recorded by `wtd register`].
        #[arg(long)]
        proxy: Option<String>,
        /// Pin a node key or proxy other than the keys you hold for NODE pin, moving
        /// those keys aside (as numbered backups). Only when NODE's owner says it changed.
        #[arg(long)]
        replace: bool,
    },
    /// Keep a key file someone gave you, so `wtd call` can use it. Keys you already hold
    /// for the same node are kept too.
    Add {
        /// The key file.
        file: PathBuf,
        /// Accept a key file that pins another node key or proxy than the keys you hold
        /// for its node, moving those aside (as numbered backups). Only when the node's
        /// owner says it changed.
        #[arg(long)]
        replace: bool,
    },
    /// The key files this node holds: for each, its node, missions, and whether that node
    /// accepts it now.
    List,
}

/// What `wtd key add` prints.
#[derive(Debug, Serialize)]
struct KeyKept {
    /// Where the key is kept now.
    file: PathBuf,
    /// Keys moved aside by `--replace`, or an older copy of this key, as backups.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    moved_aside: Vec<PathBuf>,
    /// The node it calls.
    node: String,
    /// What to check: a key file made for someone else, for instance.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    #[serde(skip)]
    missions: Vec<String>,
    #[serde(skip)]
    held_for_node: usize,
    #[serde(skip)]
    already_held: bool,
}

impl fmt::Display for KeyKept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let node = &self.node;
        let missions = if self.missions.is_empty() {
            "missions not known yet".to_string()
        } else {
            self.missions.join(", ")
        };
        write!(
            f,
            "Kept the key for `{node}` ({missions}) in {}: `wtd call {node} MISSION/FUNCTION '[ARGS]'` uses it.",
            self.file.display()
        )?;
        if self.already_held {
            write!(f, "\nYou already held this very key; nothing changed.")?;
        }
        if self.held_for_node > 1 {
            write!(
                f,
                "\nYou hold {} keys for `{node}`: each call uses one whose missions cover it (`wtd key list` shows them).",
                self.held_for_node
            )?;
        }
        for backup in &self.moved_aside {
            write!(f, "\nMoved aside, no longer used: {}", backup.display())?;
        }
        for warning in &self.warnings {
            write!(f, "\nWarning: {warning}")?;
        }
        Ok(())
    }
}

/// What `wtd key new` prints.
#[derive(Debug, Serialize)]
struct KeyMade {
    /// Where the new key file is kept.
    file: PathBuf,
    /// The node it calls.
    node: String,
    /// That node's key, now pinned in the key file: replies must be signed by it.
    node_key: String,
    /// The proof that this home holds the key, for this grantee name at that node: sent
    /// with the public key, `wtd grant add --proof` checks it.
    proof: String,
    /// The public key to send the node's owner, 64 hex digits.
    public_key: String,
    /// Set when the node key was pinned unchecked, as the proxy gave it: what to check.
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
    /// This node's name, which the owner grants the key to.
    #[serde(skip)]
    grantee: String,
}

impl fmt::Display for KeyMade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (node, public) = (&self.node, &self.public_key);
        writeln!(
            f,
            "Made a key for calling `{node}`, kept in {}.",
            self.file.display()
        )?;
        writeln!(
            f,
            "Send this public key and the proof that you hold it to `{node}`'s owner (neither is secret):\n  public key: {public}\n  proof: {}",
            self.proof
        )?;
        write!(
            f,
            "They run: wtd grant add {} --public-key {public} --proof {} --mission MISSION",
            self.grantee, self.proof
        )?;
        if let Some(warning) = &self.warning {
            write!(f, "\nWarning: {warning}")?;
        }
        Ok(())
    }
}

/// One line of `wtd key list`.
#[derive(Debug, Serialize)]
struct KeyRow {
    /// Whether the node's directory entry lists this key now; `None`: the node is not
    /// online, or the proxy could not be asked.
    accepted: Option<bool>,
    /// Where the key is kept.
    file: PathBuf,
    /// The capability key's fingerprint.
    key: String,
    /// The missions the key may run, as its file says (a key made with `wtd key new`
    /// learns them from the node's answers to calls); empty: not known yet.
    missions: Vec<String>,
    /// The node it calls.
    node: String,
    /// The proxy it calls through.
    proxy: String,
}

impl fmt::Display for KeyRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let missions = if self.missions.is_empty() {
            "not known yet (a first call fills them in)".to_string()
        } else {
            serde_json::to_string(&self.missions).unwrap_or_default()
        };
        let accepted = match self.accepted {
            Some(true) => format!("{} accepts it", self.node),
            Some(false) => format!(
                "{} does not accept it: not granted yet, or revoked",
                self.node
            ),
            None => format!("{} is not online", self.node),
        };
        write!(
            f,
            "{}: missions {missions} via {} (key {}; {accepted})",
            self.node, self.proxy, self.key
        )
    }
}

/// What `wtd key list` prints: one line per key, or a JSON array of [`KeyRow`]s.
#[derive(Debug, Serialize)]
#[serde(transparent)]
struct KeyList(Vec<KeyRow>);

impl fmt::Display for KeyList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return write!(
                f,
                "No keys yet: when a friend gives you a key file, run `wtd key add FILE`."
            );
        }
        let lines: Vec<String> = self.0.iter().map(KeyRow::to_string).collect();
        write!(f, "{}", lines.join("\n"))
    }
}

/// Runs one `wtd key` command on the keys held in `home`.
pub(super) fn run(out: &Output, home: &Path, command: &KeyCommand) -> Result<(), CliError> {
    match command {
        KeyCommand::Add { file, replace } => add(out, home, file, *replace),
        KeyCommand::New {
            node,
            node_key,
            proxy,
            replace,
        } => new(
            out,
            home,
            node,
            node_key.as_deref(),
            proxy.as_deref(),
            *replace,
        ),
        KeyCommand::List => {
            list(out, home);
            Ok(())
        }
    }
}

fn add(out: &Output, home: &Path, file: &Path, replace: bool) -> Result<(), CliError> {
    let key = KeyFile::load(file)?;
    let kept = key_store::keep(home, &key, replace)?;
    let mut warnings = Vec::new();
    if let Ok(me) = NodeRecord::read(home)
        && me.name != key.grantee
    {
        warnings.push(format!(
            "this key file was made for `{}`, and this home is `{}`'s: `{}` will see your calls as `{}`'s. If it was meant for you, ask for one in your name",
            key.grantee, me.name, key.node, key.grantee
        ));
    }
    out.print(&KeyKept {
        file: kept.file,
        moved_aside: kept.moved_aside,
        node: key.node,
        warnings,
        missions: key.missions,
        held_for_node: kept.held_for_node,
        already_held: kept.already_held,
    });
    Ok(())
}

fn new(
    out: &Output,
    home: &Path,
    node: &str,
    typed: Option<&str>,
    proxy: Option<&str>,
    replace: bool,
) -> Result<(), CliError> {
    super::check_node_name(node)?;
    let proxy = Proxy::given_or_registered(home, proxy)?;
    // Without `--node-key` the directory is where the node key comes from: it must answer.
    let directory = match (typed, proxy.directory()) {
        (None, Err(e)) => return Err(e.into()),
        (_, directory) => directory.ok(),
    };
    let entry = directory
        .as_ref()
        .and_then(|d| d.nodes.iter().find(|n| n.name == node));
    let held = key_store::held_for(home, node);
    let (node_key, warning) = match (typed, entry) {
        (Some(typed), entry) => (typed_node_key(node, typed, entry)?, None),
        (None, Some(entry)) => {
            keys::parse_public_key("the directory's node key", &entry.node_key)?;
            (entry.node_key.clone(), unchecked(out, node, entry, &held)?)
        }
        (None, None) => {
            let empty = JsonDirectory::default();
            return Err(not_online(
                node,
                &proxy,
                directory.as_ref().unwrap_or(&empty),
            ));
        }
    };
    let secret = keys::generate();
    let key = KeyFile {
        grantee: NodeRecord::read(home)
            .map(|c| c.name)
            .unwrap_or_else(|_| "me".into()),
        node: node.to_string(),
        node_public_key: node_key.clone(),
        proxy: proxy.url().to_string(),
        fallback_proxies: Vec::new(),
        missions: Vec::new(),
        secret_key: keys::secret_hex(&secret),
    };
    let proof = KeyProof::sign(
        &secret,
        ProofFor {
            grantee: &key.grantee,
            node,
            node_key: &keys::parse_hex32("the node key", &node_key)?,
        },
        SystemTime::now(),
    );
    let kept = key_store::keep(home, &key, replace)?;
    out.print(&KeyMade {
        file: kept.file,
        node: key.node,
        node_key,
        proof: proof.to_string(),
        public_key: hex::encode(secret.verifying_key().to_bytes()),
        warning,
        grantee: key.grantee,
    });
    Ok(())
}

/// The node key typed with `--node-key`: all 64 digits, pinned as typed (the directory
/// must agree if it lists the node), or a prefix of at least 16, completed from the
/// directory only if it matches.
fn typed_node_key(node: &str, typed: &str, entry: Option<&JsonNode>) -> Result<String, CliError> {
    let typed = typed.trim().to_lowercase();
    if typed.len() == 64 {
        keys::parse_public_key("--node-key", &typed)?;
        if let Some(entry) = entry
            && entry.node_key != typed
        {
            return Err(disagrees(node, &typed, &entry.node_key));
        }
        return Ok(typed);
    }
    if typed.len() < 16 || typed.len() > 64 || !typed.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(CliError::Usage(format!(
            "--node-key must be `{node}`'s node key in hex: all 64 digits, or at least the first 16 (its owner reads it from `wtd init`)"
        )));
    }
    let Some(entry) = entry else {
        return Err(CliError::Usage(format!(
            "`{node}` is not online, so the first {} digits cannot be completed: give all 64 digits of its node key",
            typed.len()
        )));
    };
    if !entry.node_key.starts_with(&typed) {
        return Err(disagrees(node, &typed, &entry.node_key));
    }
    keys::parse_public_key("the directory's node key", &entry.node_key)?;
    Ok(entry.node_key.clone())
}

fn disagrees(node: &str, typed: &str, listed: &str) -> CliError {
    CliError::Declined(format!(
        "the proxy lists `{node}` with node key {}…, not the {}… you typed: nothing was made. Check the digits with `{node}`'s owner; if they are right, this proxy is not giving you `{node}`'s real key: do not use it",
        listed.get(..16).unwrap_or(listed),
        typed.get(..16).unwrap_or(typed)
    ))
}

/// The directory's node key, about to be pinned without `--node-key`: fine if a key held
/// already pins it; confirmed by the user on a terminal; else pinned with a warning.
fn unchecked(
    out: &Output,
    node: &str,
    entry: &JsonNode,
    held: &[HeldKey],
) -> Result<Option<String>, CliError> {
    if held.iter().any(|h| h.key.node_public_key == entry.node_key) {
        return Ok(None);
    }
    let fingerprint = entry.node_key.get(..16).unwrap_or(&entry.node_key);
    if !out.is_json() && std::io::stdin().is_terminal() {
        eprint!(
            "The proxy says `{node}`'s node key is\n  {}\nCheck it with `{node}`'s owner (`wtd init` prints it). Is it right? [y/N] ",
            entry.node_key
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        return if matches!(answer.trim(), "y" | "Y" | "yes") {
            Ok(None)
        } else {
            Err(CliError::Declined(format!(
                "nothing was made: once `{node}`'s owner reads you their node key, run `wtd key new {node} --node-key HEX`"
            )))
        };
    }
    Ok(Some(format!(
        "`{node}`'s node key {fingerprint}… was taken from the proxy unchecked: check it with `{node}`'s owner (`wtd init` prints it), or make the key with --node-key HEX"
    )))
}

/// A node not in the directory: the close names online, if any.
fn not_online(node: &str, proxy: &Proxy, directory: &JsonDirectory) -> CliError {
    CliError::NoSuchNode {
        node: node.to_string(),
        proxy: proxy.url().to_string(),
        close: suggest::close_names(node, directory.nodes.iter().map(|n| n.name.as_str())),
    }
}

/// Every key held, with whether its node accepts it now (one look at each proxy's
/// directory, if it answers quickly).
fn list(out: &Output, home: &Path) {
    let mut rows = Vec::new();
    let mut directories: Vec<(String, Option<JsonDirectory>)> = Vec::new();
    for (path, key) in key_store::held(home) {
        let key = match key {
            Ok(key) => key,
            // One unreadable file must not hide the others.
            Err(e) => {
                let skipped = format!("wtd: skipping {}: {e}", path.display());
                eprintln!("{}", inert_lines(&skipped));
                continue;
            }
        };
        let public = key.signing_key().map(|s| s.verifying_key().to_bytes()).ok();
        let at = match directories.iter().position(|(p, _)| *p == key.proxy) {
            Some(at) => at,
            None => {
                let directory = Proxy::recorded(key.proxy.clone()).glance();
                directories.push((key.proxy.clone(), directory));
                directories.len() - 1
            }
        };
        let accepted = directories[at]
            .1
            .as_ref()
            .and_then(|d| d.nodes.iter().find(|n| n.name == key.node))
            .and_then(|n| public.map(|p| n.accepts.contains(&hex::encode(p))));
        rows.push(KeyRow {
            accepted,
            file: path,
            key: public.map(|p| keys::fingerprint(&p)).unwrap_or_default(),
            missions: key.missions,
            node: key.node,
            proxy: key.proxy,
        });
    }
    out.print(&KeyList(rows));
}
