//! The signed envelope, the domain tags, and public-key checks.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{PROTOCOL_VERSION, VERSION_REFUSAL, WireError, decode_exact, encode};

/// Domain tags: the first bytes of every signed message, one per purpose.
pub mod domain {
    /// A node's request to the proxy, signed by its node key.
    pub const HOP: &[u8] = b"wtd/v1/hop\0";
    /// A call, signed by the capability key.
    pub const CALL: &[u8] = b"wtd/v1/call\0";
    /// A reply, signed by the callee's node key.
    pub const REPLY: &[u8] = b"wtd/v1/reply\0";
    /// A send to a billet-doux, signed by the billet's holder key (wire version 4).
    pub const SEND: &[u8] = b"wtd/v1/send\0";
    /// A registration, signed by the registering node's key.
    pub const REGISTER: &[u8] = b"wtd/v1/register\0";
    /// A [`VersionRefusal`](crate::VersionRefusal), signed by the callee's node key.
    pub const VERSION_REFUSAL: &[u8] = b"wtd/version-refusal\0";
}

/// A message and its signature, as sent: the outer envelope of everything signed.
///
/// Its layout (a version byte, then the body and the signature as postcard byte strings)
/// never changes, whatever the version: a node can always read which version a message
/// speaks, and answer one it does not speak with a [`VersionRefusal`](crate::VersionRefusal)
/// instead of dropping it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    /// The wire version `body` is written in: [`PROTOCOL_VERSION`], or
    /// [`VERSION_REFUSAL`] for the one message every version reads.
    pub version: u8,
    /// postcard bytes of the message (a [`Call`](crate::Call), [`Reply`](crate::Reply),
    /// [`Hop`](crate::Hop) or [`Register`](crate::Register)).
    pub body: Vec<u8>,
    /// ed25519 signature over `DOMAIN || version || body`; 64 bytes.
    pub signature: Vec<u8>,
}

impl Signed {
    /// Encodes `message` in this crate's [`PROTOCOL_VERSION`] and signs
    /// `domain || version || bytes` with `key`.
    pub fn sign<T: Serialize>(domain: &[u8], message: &T, key: &SigningKey) -> Signed {
        Self::sign_as(PROTOCOL_VERSION, domain, message, key)
    }

    /// Like [`Signed::sign`], for a message of another wire version (the version refusal).
    pub fn sign_as<T: Serialize>(
        version: u8,
        domain: &[u8],
        message: &T,
        key: &SigningKey,
    ) -> Signed {
        let body = encode(message);
        let signature = key
            .sign(&tagged(domain, version, &body))
            .to_bytes()
            .to_vec();
        Signed {
            version,
            body,
            signature,
        }
    }

    /// Decodes the message *without* checking the signature. Use it only to find out
    /// which key to verify with, then call [`Signed::verify`].
    pub fn peek<T: Serialize + DeserializeOwned>(&self) -> Result<T, WireError> {
        decode_exact(&self.body)
    }

    /// Checks the signature over `domain || version || body` with `key` (strict
    /// verification).
    pub fn verify(&self, domain: &[u8], key: &VerifyingKey) -> Result<(), WireError> {
        let signature =
            Signature::from_slice(&self.signature).map_err(|_| WireError::BadSignature)?;
        key.verify_strict(&tagged(domain, self.version, &self.body), &signature)
            .map_err(|_| WireError::BadSignature)
    }

    /// Verifies, then decodes.
    pub fn open<T: Serialize + DeserializeOwned>(
        &self,
        domain: &[u8],
        key: &VerifyingKey,
    ) -> Result<T, WireError> {
        self.verify(domain, key)?;
        self.peek()
    }

    /// SHA-256 of the whole envelope (body *and* signature, as [`Signed::to_bytes`]
    /// encodes them): how a reply names the call it answers.
    ///
    /// Covering the signature matters: otherwise anyone who saw a call could send its body
    /// with a garbage signature, get the callee's signed `BadSignature` refusal, and show
    /// it to the caller as the answer to the real call (which may then still run).
    /// Strict verification makes a valid signature unique, so the genuine call has one
    /// hash.
    pub fn envelope_hash(&self) -> [u8; 32] {
        Sha256::digest(self.to_bytes()).into()
    }

    /// The postcard bytes of this signed message, as put in an envelope.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// Reads a signed message of this crate's [`PROTOCOL_VERSION`] from an envelope's
    /// bytes; another version is [`WireError::Version`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Signed, WireError> {
        let signed = Self::any_version_from_bytes(bytes)?;
        if signed.version != PROTOCOL_VERSION {
            return Err(WireError::Version {
                theirs: signed.version,
            });
        }
        Ok(signed)
    }

    /// Reads a signed message of any version: for answering a version this side does
    /// not speak, and for reading a [`VersionRefusal`](crate::VersionRefusal).
    pub fn any_version_from_bytes(bytes: &[u8]) -> Result<Signed, WireError> {
        let signed: Signed = decode_exact(bytes)?;
        if signed.signature.len() != 64 {
            return Err(WireError::BadSignature);
        }
        Ok(signed)
    }

    /// Whether this is the version refusal every version reads.
    pub fn is_version_refusal(&self) -> bool {
        self.version == VERSION_REFUSAL
    }
}

fn tagged(domain: &[u8], version: u8, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(domain.len() + 1 + body.len());
    message.extend_from_slice(domain);
    message.push(version);
    message.extend_from_slice(body);
    message
}

/// Turns 32 bytes into a public key, refusing malformed and weak (small-order) keys.
pub fn verifying_key(bytes: &[u8; 32]) -> Result<VerifyingKey, WireError> {
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| WireError::BadKey)?;
    if key.is_weak() {
        return Err(WireError::BadKey);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Call, Encoding, Target};

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    fn call() -> Call {
        Call {
            capability: key().verifying_key().to_bytes(),
            caller: "bob".into(),
            callee: "alice".into(),
            target: Target::Function {
                mission: "demo".into(),
                module: "demo".into(),
                function: "add".into(),
            },
            encoding: Encoding::Postcard,
            want_reply: true,
            ack: [1; 16],
            issued_at_ms: 1_000,
            expires_at_ms: 6_000,
            args: encode(&(2i64, 3i64)),
        }
    }

    #[test]
    fn signed_call_round_trips() {
        let signed = Signed::sign(domain::CALL, &call(), &key());
        let back: Call = signed
            .open(domain::CALL, &key().verifying_key())
            .expect("opens");
        assert_eq!(back, call());
    }

    #[test]
    fn any_flipped_byte_fails_verification() {
        let signed = Signed::sign(domain::CALL, &call(), &key());
        let bytes = signed.to_bytes();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            let opened = Signed::from_bytes(&bad)
                .and_then(|s| s.open::<Call>(domain::CALL, &key().verifying_key()));
            assert!(opened.is_err(), "flipping byte {i} was not detected");
        }
    }

    #[test]
    fn signature_for_one_domain_fails_in_another() {
        let signed = Signed::sign(domain::CALL, &call(), &key());
        assert_eq!(
            signed.verify(domain::REPLY, &key().verifying_key()),
            Err(WireError::BadSignature)
        );
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = encode(&call());
        bytes.push(0);
        assert_eq!(decode_exact::<Call>(&bytes), Err(WireError::NotCanonical));
    }

    #[test]
    fn envelope_hash_covers_the_signature() {
        let signed = Signed::sign(domain::CALL, &call(), &key());
        let mut other = signed.clone();
        other.signature[0] ^= 1;
        assert_ne!(signed.envelope_hash(), other.envelope_hash());
    }

    #[test]
    fn another_version_is_refused_by_name_and_its_signature_covers_the_version() {
        let key = key();
        let mut signed = Signed::sign(domain::CALL, &call(), &key);
        assert_eq!(signed.version, PROTOCOL_VERSION);
        signed.version = PROTOCOL_VERSION + 1;
        let bytes = signed.to_bytes();
        let refused = Signed::from_bytes(&bytes);
        assert_eq!(
            refused,
            Err(WireError::Version {
                theirs: PROTOCOL_VERSION + 1
            })
        );
        let message = refused.expect_err("refused").to_string();
        assert!(message.contains("upgrade one of you"), "{message}");
        let read = Signed::any_version_from_bytes(&bytes).expect("the frame reads");
        assert_eq!(
            read.verify(domain::CALL, &key.verifying_key()),
            Err(WireError::BadSignature),
            "changing the version breaks the signature"
        );
    }

    #[test]
    fn the_envelope_starts_with_its_version() {
        let signed = Signed::sign(domain::CALL, &call(), &key());
        assert_eq!(signed.to_bytes()[0], PROTOCOL_VERSION);
        let refusal = Signed::sign_as(VERSION_REFUSAL, domain::VERSION_REFUSAL, &7u8, &key());
        assert!(refusal.is_version_refusal());
        assert_eq!(refusal.to_bytes()[0], VERSION_REFUSAL);
    }
}
