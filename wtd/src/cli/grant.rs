//! `wtd grant new|add|list|revoke`: who may run which missions on this node.
//!
//! The grants live in `grants.toml`; a running node reads the change on its next request,
//! so a revocation needs no restart.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use clap::Subcommand;
use serde::Serialize;

use super::error::CliError;
use super::output::Output;
use super::proxy::Proxy;
use crate::audit::AuditLog;
use crate::error::Result;
use crate::grants::{Grant, GrantBuilder, GrantTable, Issuer, KeyProof};
use crate::keys;
use crate::node::record::NodeRecord;

/// What a grant allows: the same for a minted key and a key the grantee made.
#[derive(clap::Args, Debug)]
pub(super) struct GrantTerms {
    /// A mission the key may run (repeat for more).
    #[arg(long = "mission", required = true)]
    missions: Vec<String>,
    /// Rate limit, e.g. 10/s, 600/min, 100/h.
    #[arg(long, default_value = "10/s")]
    rate: String,
    /// The key stops working after this long, e.g. 30d or 12h.
    #[arg(long)]
    expires: Option<humantime::Duration>,
}

/// `wtd grant …`.
#[derive(Subcommand, Debug)]
pub(super) enum GrantCommand {
    /// Mint a key for GRANTEE and write the key file to hand over (privately).
    New {
        /// Who the key is for.
        grantee: String,
        #[command(flatten)]
        terms: GrantTerms,
        /// Where to write the key file [default: GRANTEE-for-NODE.wtdkey].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Grant a public key the grantee made themselves (no private key changes hands).
    Add {
        /// Who the key is for.
        grantee: String,
        /// The grantee's public key, 64 hex digits.
        #[arg(long)]
        public_key: String,
        /// The proof that the grantee holds the key's private half, made for GRANTEE
        /// and this node: `wtd key new` prints it next to the public key.
        #[arg(long, value_name = "TOKEN")]
        proof: Option<String>,
        #[command(flatten)]
        terms: GrantTerms,
    },
    /// List grants: missions, rate, expiry, revoked, last used.
    List,
    /// Revoke every key of GRANTEE; a running node refuses it from the next request on.
    Revoke {
        /// Whose keys to revoke.
        grantee: String,
    },
}

/// What `wtd grant new` prints.
#[derive(Debug, Serialize)]
struct GrantMinted {
    /// The key file written, to hand over.
    file: PathBuf,
    /// Who it is for.
    grantee: String,
    #[serde(skip)]
    missions: Vec<String>,
    /// This node's name, as the key file names it.
    #[serde(skip)]
    node: String,
    /// What to check: a mission the node does not serve, for instance.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

impl fmt::Display for GrantMinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Wrote {}: it lets `{}` run {} on `{}`. Hand it over privately; they run `wtd key add {}`.",
            self.file.display(),
            self.grantee,
            self.missions.join(", "),
            self.node,
            self.file.display()
        )?;
        for warning in &self.warnings {
            write!(f, "\nWarning: {warning}")?;
        }
        Ok(())
    }
}

/// What `wtd grant add` prints.
#[derive(Debug, Serialize)]
struct GrantAdded {
    /// Who the key is for.
    grantee: String,
    /// The granted key's fingerprint.
    key: String,
    #[serde(skip)]
    missions: Vec<String>,
    /// What to check: a mission the node does not serve, for instance.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

impl fmt::Display for GrantAdded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Granted {} to `{}`'s key {}.",
            self.missions.join(", "),
            self.grantee,
            self.key
        )?;
        for warning in &self.warnings {
            write!(f, "\nWarning: {warning}")?;
        }
        Ok(())
    }
}

/// One line of `wtd grant list`.
#[derive(Debug, Serialize)]
struct GrantRow {
    /// When the grant stops working; `None`: never.
    expires: Option<String>,
    /// Who holds the key.
    grantee: String,
    /// The first 16 hex digits of the key: enough to tell keys apart, short enough to read.
    key: String,
    /// The time of the last call this key made that was accepted, from the audit log.
    last_used: Option<String>,
    /// The missions it may run.
    missions: Vec<String>,
    /// Its rate limit, as granted (`10/s`).
    rate: String,
    /// Whether it was revoked.
    revoked: bool,
}

impl fmt::Display for GrantRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<16} {:<17} {:<20} {:<9} {:<25} {:<8} {}",
            self.grantee,
            self.key,
            self.missions.join(","),
            self.rate,
            self.expires.as_deref().unwrap_or("-"),
            self.revoked,
            self.last_used.as_deref().unwrap_or("-")
        )
    }
}

/// What `wtd grant list` prints: a table, or a JSON array of [`GrantRow`]s.
#[derive(Debug, Serialize)]
#[serde(transparent)]
struct GrantList(Vec<GrantRow>);

impl fmt::Display for GrantList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return write!(f, "No grants yet: wtd grant new GRANTEE --mission MISSION");
        }
        // The same widths as a row's text, so the header lines up with the columns.
        write!(
            f,
            "{:<16} {:<17} {:<20} {:<9} {:<25} {:<8} last used",
            "grantee", "key", "missions", "rate", "expires", "revoked"
        )?;
        for row in &self.0 {
            write!(f, "\n{row}")?;
        }
        Ok(())
    }
}

/// What `wtd grant revoke` prints.
#[derive(Debug, Serialize)]
struct GrantsRevoked {
    /// Whose keys.
    grantee: String,
    /// How many keys were revoked.
    revoked: usize,
}

impl fmt::Display for GrantsRevoked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Revoked {} key(s) of `{}`: a running node refuses them from the next request on.",
            self.revoked, self.grantee
        )
    }
}

/// Runs one `wtd grant` command on the grants of the node in `home`.
pub(super) fn run(out: &Output, home: &Path, command: &GrantCommand) -> Result<(), CliError> {
    let table = GrantTable::open(home.join("grants.toml"));
    match command {
        GrantCommand::New {
            grantee,
            terms,
            out: file,
        } => {
            // Both names may become part of the key file's name: checked before a path
            // is built from them.
            check_name("grantee", grantee)?;
            let node = NodeRecord::read(home)?.name;
            check_name("node", &node)?;
            let builder = terms.apply(table.grant(grantee, issuer(home)?))?;
            let file = file
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("{grantee}-for-{node}.wtdkey")));
            let key = builder.mint_to(&file)?;
            out.print(&GrantMinted {
                file,
                grantee: grantee.clone(),
                missions: terms.missions.clone(),
                node: key.node,
                warnings: unserved(home, &terms.missions),
            });
        }
        GrantCommand::Add {
            grantee,
            public_key,
            proof,
            terms,
        } => {
            let public = keys::parse_public_key("--public-key", public_key)?.to_bytes();
            let Some(proof) = proof else {
                return Err(CliError::Usage(format!(
                    "`wtd grant add` needs --proof TOKEN: the proof that whoever sent you the public key holds its private key. \
                     A public key is no secret (the directory lists granted keys), so without a proof anyone could send you someone else's. \
                     Ask `{grantee}` to run `wtd key new NODE` (NODE: this node's name) and send both lines it prints: the public key and the proof"
                )));
            };
            let proof: KeyProof = proof.parse()?;
            terms
                .apply(table.grant(grantee, issuer(home)?))?
                .add_key(public, &proof)?;
            out.print(&GrantAdded {
                grantee: grantee.clone(),
                key: keys::fingerprint(&public),
                missions: terms.missions.clone(),
                warnings: unserved(home, &terms.missions),
            });
        }
        GrantCommand::List => {
            let audit = AuditLog::new(home).read();
            let rows = table
                .list()?
                .into_iter()
                .map(|grant| {
                    let last_used = audit
                        .iter()
                        .rev()
                        .find(|e| grant.public_key.starts_with(&e.key) && e.outcome == "ok")
                        .map(|e| e.time.clone());
                    GrantRow::new(grant, last_used)
                })
                .collect();
            out.print(&GrantList(rows));
        }
        GrantCommand::Revoke { grantee } => {
            let revoked = table.revoke(grantee)?;
            out.print(&GrantsRevoked {
                grantee: grantee.clone(),
                revoked,
            });
        }
    }
    Ok(())
}

impl GrantTerms {
    /// `builder` with these terms.
    fn apply<'a>(&self, builder: GrantBuilder<'a>) -> Result<GrantBuilder<'a>> {
        let mut builder = builder.rate(&self.rate)?;
        for mission in &self.missions {
            builder = builder.mission(mission);
        }
        if let Some(after) = self.expires {
            builder = builder.expires_at(SystemTime::now() + Duration::from(after));
        }
        Ok(builder)
    }
}

impl GrantRow {
    fn new(grant: Grant, last_used: Option<String>) -> GrantRow {
        GrantRow {
            key: grant
                .public_key
                .get(..16)
                .unwrap_or(&grant.public_key)
                .to_string(),
            expires: grant.expires,
            grantee: grant.grantee,
            last_used,
            missions: grant.missions,
            rate: grant.rate,
            revoked: grant.revoked,
        }
    }
}

/// A warning for each granted mission this node does not serve, as its directory entry
/// says. A grant may come before the program that serves it, so this never refuses; and
/// when the node is not online (or the proxy does not answer quickly) nothing is known.
fn unserved(home: &Path, missions: &[String]) -> Vec<String> {
    let Ok(me) = NodeRecord::read(home) else {
        return Vec::new();
    };
    let Some(directory) = Proxy::recorded(me.proxy).glance() else {
        return Vec::new();
    };
    let Some(entry) = directory.nodes.iter().find(|n| n.name == me.name) else {
        return Vec::new();
    };
    let served: Vec<&str> = entry.missions.iter().map(|m| m.mission.as_str()).collect();
    missions
        .iter()
        .filter(|m| !served.contains(&m.as_str()))
        .map(|m| {
            format!(
                "`{}` does not serve mission `{m}` right now (it serves: {}): calls to it will be refused until a program serving `{m}` runs on this node; check the spelling",
                me.name,
                if served.is_empty() { "nothing".to_string() } else { served.join(", ") }
            )
        })
        .collect()
}

/// A name checked before anything is built from it.
fn check_name(what: &str, name: &str) -> Result<(), CliError> {
    crate::wire::check_name(what, name).map_err(|e| CliError::Usage(e.to_string()))
}

/// This node, as the issuer a key file names: it must be registered.
fn issuer(home: &Path) -> Result<Issuer> {
    let config = NodeRecord::read(home)?;
    let key = keys::load_or_create_node_key(home)?;
    Ok(Issuer {
        node: config.name,
        node_key: key.verifying_key().to_bytes(),
        proxy: config.proxy,
        fallback_proxies: config.fallback_proxies,
    })
}
