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
pub(crate) fn check(
    url_name: &str,
    body: &[u8],
    require_email: bool,
) -> Result<NodeRecord, ProxyError> {
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
    check_email(&message.email, require_email)?;
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

/// The most bytes of an email address (RFC 5321's path limit).
pub const MAX_EMAIL_BYTES: usize = 254;

/// Checks an email's shape: `local@domain`, the domain with a dot, no spaces, no control
/// characters, at most [`MAX_EMAIL_BYTES`]. Empty is allowed unless `required`. The proxy
/// does not send mail: the shape only catches typos and junk.
pub(crate) fn check_email(email: &str, required: bool) -> Result<(), ProxyError> {
    if email.is_empty() {
        if required {
            return Err(ProxyError::Malformed(
                "this proxy asks every node for its owner's email, which only its operator sees: \
                 register with `wtd register --email you@example.org` (or `NodeConfig::email`)"
                    .into(),
            ));
        }
        return Ok(());
    }
    let shaped = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
    });
    if email.len() > MAX_EMAIL_BYTES
        || !shaped
        || email.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(ProxyError::Malformed(format!(
            "the email must look like you@example.org (at most {MAX_EMAIL_BYTES} bytes, no spaces)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_for_shape_and_length() {
        assert!(check_email("ada@example.org", true).is_ok());
        assert!(check_email("", false).is_ok());
        assert!(check_email("", true).is_err());
        for bad in [
            "ada",
            "ada@",
            "@example.org",
            "ada@example",
            "a b@x.org",
            "a@b@c.org",
            "a@x.org\n",
        ] {
            assert!(check_email(bad, false).is_err(), "{bad:?}");
        }
        let long = format!("{}@example.org", "a".repeat(250));
        assert!(check_email(&long, false).is_err());
    }
}
