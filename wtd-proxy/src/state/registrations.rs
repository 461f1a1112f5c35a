//! Registration: a node binds its name to its key with a `Register` message signed by
//! that key (`PUT /nodes/{name}`). Registration is open to anyone, so new names are
//! bounded and rate-limited by the store ([`Registrations::register`]).
//!
//! [`Registrations::register`]: crate::store::Registrations::register

use wtd_wire::{self as wire, Signed, domain};

use crate::error::ProxyError;
use crate::state::hops::check_clock;
use crate::store::NodeRecord;

/// Checks a registration for the name in the URL: its fields, its signature by the key it
/// names, and its clock. Returns the record to store.
pub(crate) fn check(url_name: &str, body: &[u8]) -> Result<NodeRecord, ProxyError> {
    let signed = Signed::from_bytes(body).map_err(|e| ProxyError::Malformed(e.to_string()))?;
    let message: wire::Register = signed
        .peek()
        .map_err(|e| ProxyError::Malformed(e.to_string()))?;
    wire::check_name("node", &message.name).map_err(|e| ProxyError::Malformed(e.to_string()))?;
    if message.name != url_name {
        return Err(ProxyError::Forbidden(
            "the registration is signed for another name than the URL's".into(),
        ));
    }
    if message.email.len() > 254 || message.email.chars().any(char::is_control) {
        return Err(ProxyError::Malformed(
            "the email must be at most 254 bytes, with no control characters".into(),
        ));
    }
    let key = wire::verifying_key(&message.node_key)
        .map_err(|_| ProxyError::Malformed("the node key is not a valid ed25519 key".into()))?;
    signed.verify(domain::REGISTER, &key).map_err(|_| {
        ProxyError::Unauthenticated("the registration's signature does not verify".into())
    })?;
    check_clock(message.issued_at_ms)?;
    Ok(NodeRecord {
        node_key: message.node_key,
        email: message.email,
        registered_at_ms: wire::now_ms(),
    })
}
