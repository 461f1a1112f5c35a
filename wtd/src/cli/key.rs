//! `wtd key new|add|list`: the key files this node holds for calling others, under
//! `keys/` in its home, one per node called.

use std::fmt;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde::Serialize;

use super::error::CliError;
use super::node_config::NodeConfigFile;
use super::output::Output;
use super::proxy::Proxy;
use crate::error::{Error, Result};
use crate::home;
use crate::keys::{self, KeyFile};

/// `wtd key …`.
#[derive(Subcommand, Debug)]
pub(super) enum KeyCommand {
    /// Make a key for calling NODE yourself; prints the public key to send its owner,
    /// who grants it with `wtd grant add`. No private key changes hands.
    New {
        /// The node you want to call (it must be online: its node key is read from the
        /// directory).
        node: String,
        /// The proxy [default: the one recorded by `wtd register`].
        #[arg(long)]
        proxy: Option<String>,
    },
    /// Keep a key file someone gave you, so `wtd call` can use it.
    Add {
        /// The key file.
        file: PathBuf,
    },
    /// The key files this node holds.
    List,
}

/// What `wtd key add` prints.
#[derive(Debug, Serialize)]
struct KeyKept {
    /// Where the key is kept now.
    file: PathBuf,
    /// The node it calls.
    node: String,
    #[serde(skip)]
    missions: Vec<String>,
}

impl fmt::Display for KeyKept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Kept the key for `{}` ({}): `wtd call {} MISSION/FUNCTION '[ARGS]'` uses it.",
            self.node,
            self.missions.join(", "),
            self.node
        )
    }
}

/// What `wtd key new` prints.
#[derive(Debug, Serialize)]
struct KeyMade {
    /// Where the new key file is kept.
    file: PathBuf,
    /// The node it calls.
    node: String,
    /// That node's key as the directory gave it, now pinned in the key file.
    node_key: String,
    /// The public key to send the node's owner, 64 hex digits.
    public_key: String,
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
            "Send this public key to `{node}`'s owner (it is not secret):\n  {public}"
        )?;
        writeln!(
            f,
            "They run: wtd grant add {} --public-key {public} --mission MISSION",
            self.grantee
        )?;
        write!(
            f,
            "`{node}`'s node key, as the proxy gave it, starts with {}: check it with its owner.",
            self.node_key.get(..16).unwrap_or_default()
        )
    }
}

/// One line of `wtd key list`.
#[derive(Debug, Serialize)]
struct KeyRow {
    /// The capability key's fingerprint.
    key: String,
    /// The missions the key file says it may run.
    missions: Vec<String>,
    /// The node it calls.
    node: String,
    /// The proxy it calls through.
    proxy: String,
}

impl fmt::Display for KeyRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: missions {} via {} (key {})",
            self.node,
            serde_json::to_string(&self.missions).unwrap_or_default(),
            self.proxy,
            self.key
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
        KeyCommand::Add { file } => {
            let key = KeyFile::load(file)?;
            let file = keep(home, &key)?;
            out.print(&KeyKept {
                file,
                node: key.node,
                missions: key.missions,
            });
        }
        KeyCommand::New { node, proxy } => {
            super::check_node_name(node)?;
            let proxy = Proxy::given_or_registered(home, proxy.as_deref())?;
            let entry = proxy
                .directory()?
                .nodes
                .into_iter()
                .find(|n| n.name == *node)
                .ok_or_else(|| Error::NodeDown { node: node.clone() })?;
            // Pinned in the key file, so it must be a key before it is kept.
            keys::parse_public_key("the directory's node key", &entry.node_key)?;
            let secret = keys::generate();
            let key = KeyFile {
                grantee: NodeConfigFile::read(home)
                    .map(|c| c.name)
                    .unwrap_or_else(|_| "me".into()),
                node: node.clone(),
                node_public_key: entry.node_key.clone(),
                proxy: proxy.url().to_string(),
                missions: Vec::new(),
                secret_key: keys::secret_hex(&secret),
            };
            let file = keep(home, &key)?;
            out.print(&KeyMade {
                file,
                node: key.node,
                node_key: entry.node_key,
                public_key: hex::encode(secret.verifying_key().to_bytes()),
                grantee: key.grantee,
            });
        }
        KeyCommand::List => {
            let mut rows = Vec::new();
            for (path, key) in held(home) {
                match key {
                    Ok(key) => rows.push(KeyRow {
                        key: key
                            .signing_key()
                            .map(|s| keys::fingerprint(&s.verifying_key().to_bytes()))
                            .unwrap_or_default(),
                        missions: key.missions,
                        node: key.node,
                        proxy: key.proxy,
                    }),
                    // One unreadable file must not hide the others.
                    Err(e) => eprintln!("wtd: skipping {}: {e}", path.display()),
                }
            }
            out.print(&KeyList(rows));
        }
    }
    Ok(())
}

fn keys_dir(home: &Path) -> PathBuf {
    home.join("keys")
}

/// The key files held in `home`, by file name, each loaded or with why it cannot be.
pub(super) fn held(home: &Path) -> Vec<(PathBuf, Result<KeyFile>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(keys_dir(home))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "wtdkey"));
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let key = KeyFile::load(&p);
            (p, key)
        })
        .collect()
}

/// The key held in `home` for calling `node`, if any (unreadable files are skipped).
pub(super) fn held_for(home: &Path, node: &str) -> Option<KeyFile> {
    held(home)
        .into_iter()
        .filter_map(|(_, k)| k.ok())
        .find(|k| k.node == node)
}

/// Saves `key` as `keys/NODE.wtdkey`; a key already there for that node is kept as
/// `NODE.wtdkey.bak` (a private key must never be lost by a second `key add`).
fn keep(home: &Path, key: &KeyFile) -> Result<PathBuf> {
    key.check()?;
    home::ensure_dir(&keys_dir(home))?;
    let dest = keys_dir(home).join(format!("{}.wtdkey", key.node));
    if dest.exists() {
        let backup = dest.with_extension("wtdkey.bak");
        std::fs::rename(&dest, &backup).map_err(|e| {
            Error::file(&dest, format!("cannot keep the old key as a backup ({e})"))
        })?;
        eprintln!(
            "wtd: the key you had for `{}` is kept as {}",
            key.node,
            backup.display()
        );
    }
    key.save(&dest)?;
    Ok(dest)
}
