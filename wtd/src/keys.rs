//! Keys: the node key every node has, and key files that carry a capability.
//!
//! * The **node key** identifies a node to the proxy and signs its replies. It is made on
//!   first start and kept in `node.key` in the node's home folder.
//! * A **capability key** is minted by the callee (Alice) for one grantee (Bob). Its
//!   private half travels to Bob in a **key file**, together with what Bob needs to use it:
//!   Alice's node name, her node public key (so Bob can check her replies), the proxy URL
//!   and the missions it is good for.

use std::path::Path;

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::home;
use crate::wire;

/// A fresh ed25519 key from the OS's random source.
pub fn generate() -> SigningKey {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).unwrap_or_else(|e| panic!("the OS random source failed: {e}"));
    SigningKey::from_bytes(&secret)
}

/// A private key as 64 hex digits, as key files hold it.
pub fn secret_hex(key: &SigningKey) -> String {
    hex::encode(key.to_bytes())
}

/// A short, readable name for a public key: the first 8 bytes in hex.
pub fn fingerprint(public_key: &[u8; 32]) -> String {
    hex::encode(&public_key[..8])
}

/// Parses a 32-byte key written as 64 hex digits.
pub fn parse_hex32(what: &str, text: &str) -> Result<[u8; 32]> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| {
        Error::Invalid(format!(
            "{what} must be 64 hex digits (32 bytes), got {:?}",
            text.trim()
        ))
    })?;
    Ok(bytes)
}

/// Parses a public key in hex, refusing weak keys.
pub fn parse_public_key(what: &str, text: &str) -> Result<VerifyingKey> {
    let bytes = parse_hex32(what, text)?;
    wire::verifying_key(&bytes)
        .map_err(|_| Error::Invalid(format!("{what} is not a valid ed25519 public key")))
}

/// Loads the node key from `home/node.key`, creating it (mode 0600) on first start.
pub fn load_or_create_node_key(home_dir: &Path) -> Result<SigningKey> {
    let path = home_dir.join("node.key");
    if path.exists() {
        home::check_private(&path)?;
        let text = home::read(&path)?;
        let text = String::from_utf8_lossy(&text);
        let secret = parse_hex32("node.key", &text)
            .map_err(|e| Error::file(&path, format!("{e}; the file is damaged")))?;
        return Ok(SigningKey::from_bytes(&secret));
    }
    home::ensure_dir(home_dir)?;
    let key = generate();
    home::write_atomic(
        &path,
        format!("{}\n", hex::encode(key.to_bytes())).as_bytes(),
        true,
    )?;
    tracing::info!(path = %path.display(), "created a new node key");
    Ok(key)
}

/// What Alice hands Bob: a capability for some missions on her node.
///
/// Stored as TOML, mode 0600. Whoever holds this file can call Alice's node within the
/// grant: keep it like a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFile {
    /// Who the key was minted for (shown in Alice's grants and logs).
    pub grantee: String,
    /// Alice's node name.
    pub node: String,
    /// Alice's node public key, hex: replies must be signed by it.
    pub node_public_key: String,
    /// The proxy both nodes use: the callee's primary.
    pub proxy: String,
    /// The proxies the callee moves to when its primary stops answering, in order (see
    /// [`NodeConfig::fallback_proxy`](crate::NodeConfig::fallback_proxy)): where to look
    /// for it then. Absent from key files of nodes with one proxy, and from those minted
    /// before failover existed; a `wtd` that predates it ignores the field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback_proxies: Vec<String>,
    /// Missions this key may run (for display: Alice's grant decides).
    pub missions: Vec<String>,
    /// The capability private key, hex.
    pub secret_key: String,
}

impl KeyFile {
    /// Reads a key file, refusing one that other users can read.
    pub fn load(path: &Path) -> Result<KeyFile> {
        home::check_private(path)?;
        let text = home::read(path)?;
        let text = String::from_utf8(text)
            .map_err(|_| Error::file(path, "a key file is text (TOML), this is not"))?;
        let key: KeyFile = toml::from_str(&text)
            .map_err(|e| Error::file(path, format!("not a valid WTD key file: {e}")))?;
        key.check()
            .map_err(|e| Error::file(path, format!("not a usable key file: {e}")))?;
        Ok(key)
    }

    /// Checks every field: names in the name alphabet (the node name becomes a file name
    /// and is shown in terminals), an http(s) proxy URL, and valid keys.
    pub fn check(&self) -> Result<()> {
        crate::wire::check_name("node", &self.node).map_err(|e| Error::Invalid(e.to_string()))?;
        crate::wire::check_name("grantee", &self.grantee)
            .map_err(|e| Error::Invalid(e.to_string()))?;
        for mission in &self.missions {
            crate::wire::check_name("mission", mission)
                .map_err(|e| Error::Invalid(e.to_string()))?;
        }
        crate::proxies::check_url(&self.proxy)?;
        for proxy in &self.fallback_proxies {
            crate::proxies::check_url(proxy)?;
        }
        self.signing_key()?;
        self.node_key()?;
        Ok(())
    }

    /// Writes the key file atomically with mode 0600.
    pub fn save(&self, path: &Path) -> Result<()> {
        let body = toml::to_string(self).map_err(|e| Error::file(path, e))?;
        let text = format!(
            "# WTD key file: lets its holder call node `{}` for missions {:?}.\n# Keep it secret, like a password. Made for `{}`.\n{body}",
            self.node, self.missions, self.grantee
        );
        home::write_atomic(path, text.as_bytes(), true)
    }

    /// The capability private key.
    pub fn signing_key(&self) -> Result<SigningKey> {
        let secret = parse_hex32("secret_key", &self.secret_key)?;
        let key = SigningKey::from_bytes(&secret);
        if key.verifying_key().is_weak() {
            return Err(Error::Invalid("secret_key makes a weak public key".into()));
        }
        Ok(key)
    }

    /// The callee's pinned node key.
    pub fn node_key(&self) -> Result<VerifyingKey> {
        parse_public_key("node_public_key", &self.node_public_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_key_is_created_once_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_create_node_key(dir.path()).expect("created");
        let second = load_or_create_node_key(dir.path()).expect("loaded");
        assert_eq!(first.to_bytes(), second.to_bytes());
    }

    #[cfg(unix)]
    #[test]
    fn key_file_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bob.wtdkey");
        let key = generate();
        let file = KeyFile {
            grantee: "bob".into(),
            node: "alice".into(),
            node_public_key: hex::encode(generate().verifying_key().to_bytes()),
            proxy: "http://127.0.0.1:1".into(),
            fallback_proxies: Vec::new(),
            missions: vec!["demo".into()],
            secret_key: hex::encode(key.to_bytes()),
        };
        file.save(&path).expect("saved");
        assert_eq!(KeyFile::load(&path).expect("loads"), file);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = KeyFile::load(&path).expect_err("refused").to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn key_file_with_a_path_or_escapes_for_a_name_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = KeyFile {
            grantee: "bob".into(),
            node: "alice".into(),
            node_public_key: hex::encode(generate().verifying_key().to_bytes()),
            proxy: "http://127.0.0.1:1".into(),
            fallback_proxies: Vec::new(),
            missions: vec!["demo".into()],
            secret_key: secret_hex(&generate()),
        };
        for bad in [
            KeyFile {
                node: "../../escaped".into(),
                ..good.clone()
            },
            KeyFile {
                node: "alice\u{1b}[2J".into(),
                ..good.clone()
            },
            KeyFile {
                proxy: "file:///etc/passwd".into(),
                ..good.clone()
            },
        ] {
            let path = dir.path().join("bad.wtdkey");
            std::fs::write(&path, toml::to_string(&bad).expect("toml")).expect("write");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .expect("chmod");
            }
            let err = KeyFile::load(&path).expect_err("refused").to_string();
            assert!(err.contains("not a usable key file"), "{err}");
        }
        assert!(good.check().is_ok());
    }

    #[test]
    fn a_key_file_names_the_fallback_proxies_and_one_without_them_still_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bob.wtdkey");
        let mut file = KeyFile {
            grantee: "bob".into(),
            node: "alice".into(),
            node_public_key: hex::encode(generate().verifying_key().to_bytes()),
            proxy: "http://127.0.0.1:1".into(),
            fallback_proxies: Vec::new(),
            missions: vec!["demo".into()],
            secret_key: secret_hex(&generate()),
        };
        file.save(&path).expect("saved");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            !text.contains("fallback"),
            "a key of a node with one proxy reads as before: {text}"
        );
        assert_eq!(KeyFile::load(&path).expect("loads"), file);

        file.fallback_proxies = vec!["http://127.0.0.1:2".into()];
        file.save(&path).expect("saved");
        assert_eq!(KeyFile::load(&path).expect("loads"), file);

        file.fallback_proxies = vec!["ftp://127.0.0.1:2".into()];
        let err = file.check().expect_err("refused").to_string();
        assert!(
            err.contains("\"ftp://127.0.0.1:2\" must start with http://"),
            "{err}"
        );
    }
}
