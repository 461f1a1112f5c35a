//! What travels between WTD nodes and the proxy: message types, the postcard codec,
//! domain-separated signatures and replay windows.
//!
//! Both the node runtime (`wtd`) and the relay (`wtd-proxy`) depend on this crate and on
//! nothing of each other, so the proxy links no HTTP client and no command line.
//!
//! # Layout
//!
//! * [`signed`]: the versioned, signed envelope every message travels in, the domain
//!   tags, and public-key checks.
//! * [`call`]: a call, its target, and the callee's signed reply (outcome or refusal).
//! * [`proxy`]: what a node and the proxy say to each other: hops, registration,
//!   presence and the directory, batches in and out.
//! * [`json`]: the directory as JSON, as the proxy serves it to people and scripts.
//! * [`names`]: the bounds on node, mission, module and function names.
//! * [`replay`]: the replay cache of call acks and the sliding counter window of hops.
//!
//! Every signed message is sent as a [`Signed`]: the exact postcard bytes of the message
//! and an ed25519 signature over `DOMAIN || bytes`. The receiver verifies the bytes it
//! received *before* trusting anything in them, then decodes them strictly (no trailing
//! bytes, canonical encoding only). The domain tag makes a signature made for one purpose
//! (say, a call) useless for any other (say, a reply).
//!
//! docs/PROTOCOL.md describes every type here field by field.

#![warn(missing_docs)]

pub mod call;
pub mod json;
pub mod names;
pub mod proxy;
pub mod replay;
pub mod signed;

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use call::*;
pub use json::*;
pub use names::*;
pub use proxy::*;
pub use replay::*;
pub use signed::*;

/// The wire version this crate speaks, carried in every [`Signed`] envelope. Version 1
/// carried it inside [`Call`]; version 2 moved it to the envelope and gave calls a
/// [`Target`]. Version 3 added [`Target::Behaviour`] (a call or cast to a named
/// gen_server), the refusals that go with it, and the behaviours an [`Offer`] lists: an
/// older node could not read any of these, so it answers with a [`VersionRefusal`].
/// Version 4 added [`Target::Billet`] (a send to a process through a [`Billet`]), the
/// `…/send` domain tag and the refusals that go with them. Version 5 added
/// [`Target::Watch`] (whether a billet's process has ended: how a monitor on a process of
/// another node works).
pub const PROTOCOL_VERSION: u8 = 5;
/// The envelope version of a [`VersionRefusal`]: its layout is fixed for good, so every
/// version can read why its message was refused.
pub const VERSION_REFUSAL: u8 = 0;

/// Largest argument (or result) payload, in bytes.
pub const MAX_ARGS_BYTES: usize = 64 * 1024;
/// Largest single envelope: a signed call or reply with its payload.
pub const MAX_ENVELOPE_BYTES: usize = MAX_ARGS_BYTES + 4 * 1024;
/// Most envelopes in one `/tx` or `/rx` batch.
pub const MAX_BATCH_LEN: usize = 256;
/// Largest HTTP body the proxy reads; anything larger is refused before it is read.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// How far in the future a request's issued-at may be, and how old it may be.
pub const MAX_SKEW_MS: u64 = 30_000;
/// Longest lifetime (expires-at minus issued-at) a call may ask for.
pub const MAX_LIFETIME_MS: u64 = 60_000;

/// Why bytes from the network were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not a valid postcard encoding of the expected type.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Valid, but with bytes left over or not in canonical form.
    #[error("message is not canonically encoded (trailing or non-minimal bytes)")]
    NotCanonical,
    /// The signature is not 64 bytes or does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// A public key that is malformed or weak (small order).
    #[error("public key is malformed or weak")]
    BadKey,
    /// A field out of its bounds.
    #[error("{0}")]
    OutOfBounds(String),
    /// The message is written in a wire version this side does not speak.
    #[error(
        "the message speaks wire version {theirs}, and this side speaks version {}: upgrade one of you",
        PROTOCOL_VERSION
    )]
    Version {
        /// The version the message speaks.
        theirs: u8,
    },
}

/// Encodes a value with postcard. Encoding our own types into a `Vec` cannot fail.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).unwrap_or_default()
}

/// Decodes bytes that must hold exactly one canonical `T`: no trailing bytes, and
/// re-encoding gives the same bytes back (so one message has one encoding, and one
/// signature).
pub fn decode_exact<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    let (value, rest) =
        postcard::take_from_bytes::<T>(bytes).map_err(|e| WireError::Malformed(e.to_string()))?;
    if !rest.is_empty() || encode(&value) != bytes {
        return Err(WireError::NotCanonical);
    }
    Ok(value)
}

/// Milliseconds since the Unix epoch, by this machine's clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `a - b` in milliseconds as a signed number, clamped instead of overflowing.
pub fn signed_diff(a: u64, b: u64) -> i64 {
    (i128::from(a) - i128::from(b)).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// 16 random bytes (acks).
pub fn random_ack() -> [u8; 16] {
    let mut ack = [0u8; 16];
    getrandom::fill(&mut ack).unwrap_or_else(|e| panic!("the OS random source failed: {e}"));
    ack
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn signed_diff_never_overflows() {
        assert_eq!(signed_diff(5, 7), -2);
        assert_eq!(signed_diff(u64::MAX, 0), i64::MAX);
        assert_eq!(signed_diff(0, u64::MAX), i64::MIN);
    }
}
