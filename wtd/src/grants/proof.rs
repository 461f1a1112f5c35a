//! The proof that whoever asks for a grant of a public key holds its private key.
//!
//! A public key is public: every node's directory entry lists the keys it accepts. So
//! "please grant this key to me" proves nothing, and a node that granted whatever key it
//! was sent could be made to grant Carol's key in Mallory's name. `wtd key new` therefore
//! prints, next to the public key, a short token: the capability key's signature over
//!
//! ```text
//! "wtd/v1/key-proof\0" ‖ grantee name ‖ node name ‖ node key ‖ time made
//! ```
//!
//! (each name preceded by its length). `wtd grant add` checks it with the public key it
//! is asked to grant, for the grantee name it grants to and its own node's name and key:
//! a proof made for `bob` is no proof for `mallory`, one made for `alice` none for
//! `carol`, and an old one (past [`PROOF_LIFETIME`]) none at all.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::error::{Error, Result};

/// The domain tag of a key proof: its signature can never pass for any other message's.
pub const KEY_PROOF_DOMAIN: &[u8] = b"wtd/v1/key-proof\0";

/// How long after it was made a proof is accepted: time enough to send it to the node's
/// owner and for them to read their mail.
pub const PROOF_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// How far in the future a proof's time may be: the two machines' clocks may differ.
const PROOF_SKEW: Duration = Duration::from_secs(300);

/// A proof of holding a capability key, for one grantee name at one node.
///
/// As text (what `wtd key new` prints and `wtd grant add --proof` reads) it is 144 hex
/// digits: the time it was made (seconds since 1970, 8 bytes big-endian), then the
/// signature (64 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyProof {
    /// When it was made, in seconds since 1970.
    made: u64,
    /// The capability key's signature over [`signed_bytes`].
    signature: [u8; 64],
}

/// Who a proof is for: the grantee name, and the node (its name and node key) that is
/// asked to grant.
#[derive(Debug, Clone, Copy)]
pub struct ProofFor<'a> {
    /// The name the key is to be granted to.
    pub grantee: &'a str,
    /// The granting node's name.
    pub node: &'a str,
    /// The granting node's node key.
    pub node_key: &'a [u8; 32],
}

impl KeyProof {
    /// Proves holding `key`, for `target`, made at `now`.
    pub fn sign(key: &SigningKey, target: ProofFor<'_>, now: SystemTime) -> KeyProof {
        let made = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        KeyProof {
            made,
            signature: key.sign(&signed_bytes(target, made)).to_bytes(),
        }
    }

    /// Checks that this proof was made by the private half of `public`, for `target`,
    /// and recently (at `now`).
    pub fn verify(
        &self,
        public: &VerifyingKey,
        target: ProofFor<'_>,
        now: SystemTime,
    ) -> Result<()> {
        let signature = Signature::from_bytes(&self.signature);
        public
            .verify_strict(&signed_bytes(target, self.made), &signature)
            .map_err(|_| {
                Error::Invalid(format!(
                    "the proof does not match: it was not made with this public key's private key for grantee `{}` at node `{}`. \
                     Whoever sent it must run `wtd key new {}` and send both the public key and the proof it prints, and you grant it to the name they used",
                    target.grantee, target.node, target.node
                ))
            })?;
        let made = UNIX_EPOCH.checked_add(Duration::from_secs(self.made));
        let Some(made) = made.filter(|made| *made <= now + PROOF_SKEW) else {
            return Err(Error::Invalid(
                "the proof is dated in the future: check this machine's clock (or theirs)".into(),
            ));
        };
        if now.duration_since(made).unwrap_or_default() > PROOF_LIFETIME {
            return Err(Error::Invalid(format!(
                "the proof is older than {}: ask for a new one (`wtd key new {}` makes one)",
                humantime::format_duration(PROOF_LIFETIME),
                target.node
            )));
        }
        Ok(())
    }
}

/// What a proof signs: the domain tag, then the grantee's and the node's names (each
/// after its length, so no two pairs of names give the same bytes), the node key and the
/// time.
fn signed_bytes(target: ProofFor<'_>, made: u64) -> Vec<u8> {
    let mut bytes = KEY_PROOF_DOMAIN.to_vec();
    for name in [target.grantee, target.node] {
        bytes.extend_from_slice(&(name.len() as u32).to_be_bytes());
        bytes.extend_from_slice(name.as_bytes());
    }
    bytes.extend_from_slice(target.node_key);
    bytes.extend_from_slice(&made.to_be_bytes());
    bytes
}

impl fmt::Display for KeyProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}",
            hex::encode(self.made.to_be_bytes()),
            hex::encode(self.signature)
        )
    }
}

impl FromStr for KeyProof {
    type Err = Error;

    fn from_str(text: &str) -> Result<KeyProof> {
        let mut bytes = [0u8; 72];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| {
            Error::Invalid(
                "--proof must be the 144 hex digits `wtd key new` prints next to the public key"
                    .into(),
            )
        })?;
        let (made, signature) = bytes.split_at(8);
        let mut made_bytes = [0u8; 8];
        made_bytes.copy_from_slice(made);
        let mut sig = [0u8; 64];
        sig.copy_from_slice(signature);
        Ok(KeyProof {
            made: u64::from_be_bytes(made_bytes),
            signature: sig,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys;

    #[test]
    fn a_proof_holds_for_its_grantee_and_node_only() {
        let key = keys::generate();
        let public = key.verifying_key();
        let alice = keys::generate().verifying_key().to_bytes();
        let carol = keys::generate().verifying_key().to_bytes();
        let now = SystemTime::now();
        let target = ProofFor {
            grantee: "bob",
            node: "alice",
            node_key: &alice,
        };
        let proof = KeyProof::sign(&key, target, now);
        let text = proof.to_string();
        assert_eq!(text.len(), 144);
        let read: KeyProof = text.parse().expect("reads back");
        read.verify(&public, target, now).expect("valid");

        let refused = |target: ProofFor<'_>, now: SystemTime| {
            read.verify(&public, target, now).expect_err("refused")
        };
        refused(
            ProofFor {
                grantee: "mallory",
                ..target
            },
            now,
        );
        refused(
            ProofFor {
                node: "carol",
                ..target
            },
            now,
        );
        refused(
            ProofFor {
                node_key: &carol,
                ..target
            },
            now,
        );
        // Names are length-prefixed: moving a character from one name to the other fails.
        refused(
            ProofFor {
                grantee: "bo",
                node: "balice",
                ..target
            },
            now,
        );
        let later = now + PROOF_LIFETIME + Duration::from_secs(60);
        assert!(refused(target, later).to_string().contains("older than"));
        let other = KeyProof::sign(&keys::generate(), target, now);
        other.verify(&public, target, now).expect_err("another key");
        assert!("abc".parse::<KeyProof>().is_err());
    }
}
