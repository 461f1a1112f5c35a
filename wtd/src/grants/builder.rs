//! Minting a grant: `node.grant("bob").mission("demo").rate("5/s")?.mint()`.

use std::path::Path;
use std::time::SystemTime;

use super::{Grant, GrantTable, KeyProof, ProofFor, Rate, format_time};
use crate::error::{Error, Result};
use crate::{keys, wire};

/// The node a grant is for, as its key files name it.
#[derive(Debug, Clone)]
pub struct Issuer {
    /// The node's name.
    pub node: String,
    /// The node's public key (pinned by the grantee to check replies).
    pub node_key: [u8; 32],
    /// The proxy the node uses (its primary).
    pub proxy: String,
    /// The proxies it moves to when that one stops answering, in order.
    pub fallback_proxies: Vec<String>,
}

/// Builds a grant; see [`GrantTable::grant`] and [`Node::grant`](crate::Node::grant).
#[derive(Debug)]
pub struct GrantBuilder<'a> {
    table: &'a GrantTable,
    issuer: Issuer,
    grantee: String,
    missions: Vec<String>,
    rate: Rate,
    expires: Option<SystemTime>,
}

impl GrantTable {
    /// Starts a grant of this table for `grantee`, on behalf of `issuer`.
    pub fn grant(&self, grantee: &str, issuer: Issuer) -> GrantBuilder<'_> {
        GrantBuilder {
            table: self,
            issuer,
            grantee: grantee.to_string(),
            missions: Vec::new(),
            rate: Rate::per_second(10),
            expires: None,
        }
    }
}

impl GrantBuilder<'_> {
    /// Adds a mission the key may run.
    pub fn mission(mut self, mission: &str) -> Self {
        self.missions.push(mission.to_string());
        self
    }

    /// Sets the rate limit, e.g. `"10/s"` or `"100/h"` (default 10/s).
    pub fn rate(mut self, rate: &str) -> Result<Self> {
        self.rate = rate.parse()?;
        Ok(self)
    }

    /// The grant stops working at `when`.
    pub fn expires_at(mut self, when: SystemTime) -> Self {
        self.expires = Some(when);
        self
    }

    /// Makes a new capability key, records the grant, and returns the key file to hand
    /// to the grantee (save it with [`KeyFile::save`](crate::KeyFile::save)).
    pub fn mint(self) -> Result<crate::KeyFile> {
        let key = keys::generate();
        self.record(key.verifying_key().to_bytes())?;
        Ok(crate::KeyFile {
            grantee: self.grantee.clone(),
            node: self.issuer.node.clone(),
            node_public_key: hex::encode(self.issuer.node_key),
            proxy: self.issuer.proxy.clone(),
            fallback_proxies: self.issuer.fallback_proxies.clone(),
            missions: self.missions.clone(),
            secret_key: hex::encode(key.to_bytes()),
        })
    }

    /// Like [`GrantBuilder::mint`], but writes the key file to `path` *before* recording
    /// the grant, so a key file that cannot be written never leaves a grant behind for a
    /// key nobody holds.
    pub fn mint_to(self, path: &Path) -> Result<crate::KeyFile> {
        self.check()?;
        let key = keys::generate();
        let file = crate::KeyFile {
            grantee: self.grantee.clone(),
            node: self.issuer.node.clone(),
            node_public_key: hex::encode(self.issuer.node_key),
            proxy: self.issuer.proxy.clone(),
            fallback_proxies: self.issuer.fallback_proxies.clone(),
            missions: self.missions.clone(),
            secret_key: hex::encode(key.to_bytes()),
        };
        file.save(path)?;
        if let Err(e) = self.record(key.verifying_key().to_bytes()) {
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        Ok(file)
    }

    /// Grants a public key the grantee made themselves: no private key changes hands.
    ///
    /// `proof` must show that whoever sent the key holds its private half, for this
    /// grantee name and this node (see [`KeyProof`]): a public key alone is anyone's to
    /// copy. A key the grants file already names is refused ([`Error::KeyTaken`]).
    pub fn add_key(self, public_key: [u8; 32], proof: &KeyProof) -> Result<()> {
        self.check()?;
        let verifying = wire::verifying_key(&public_key)
            .map_err(|_| Error::Invalid("the public key is not a valid ed25519 key".into()))?;
        let target = ProofFor {
            grantee: &self.grantee,
            node: &self.issuer.node,
            node_key: &self.issuer.node_key,
        };
        proof.verify(&verifying, target, SystemTime::now())?;
        self.record(public_key)
    }

    /// Whether the grant can be made: before anything is written (the grantee's name
    /// may become part of a file's name).
    fn check(&self) -> Result<()> {
        if self.missions.is_empty() {
            return Err(Error::Invalid(
                "a grant needs at least one mission: add `.mission(\"demo\")` (or --mission demo)"
                    .into(),
            ));
        }
        wire::check_name("grantee", &self.grantee).map_err(|e| Error::Invalid(e.to_string()))?;
        Ok(())
    }

    fn record(&self, public_key: [u8; 32]) -> Result<()> {
        self.check()?;
        self.table.add(Grant {
            grantee: self.grantee.clone(),
            public_key: hex::encode(public_key),
            missions: self.missions.clone(),
            rate: self.rate.to_string(),
            expires: self.expires.map(format_time),
            revoked: false,
            created: format_time(SystemTime::now()),
        })
    }
}
