//! The `/apply` gate: a call from anyone is let in only if its callee could accept it.
//!
//! `/apply` needs no node key, so anyone who can reach the proxy can send calls to any
//! node. Each call let in holds a waiter and a place in the callee's mailbox, and costs the
//! callee a signature check and a refusal. The proxy knows which capability keys each node
//! accepts (every ping lists them, for the directory), so it checks the signature, which
//! costs microseconds next to the callee's time, and the call's key against them. A junk
//! call is refused here with 403 `NotAccepted` and costs the callee nothing.
//!
//! A key the node accepted before and no longer does (revoked, expired) still reaches it,
//! up to a bound (see `KeyGate` in `directory.rs`): the node refuses it in words
//! (`Revoked`, `Expired`) and its owner sees the attempt in the audit log. Only someone
//! holding such a key can send it, and the callee's refusals are rate-limited in its log.
//!
//! The callee still checks everything itself: the proxy is not trusted with it.
//!
//! A grant made a moment ago is not refused: a node announces a new grant within a tenth
//! of a second (its ping thread watches its grants), and a correctly signed call whose key
//! is not announced yet waits up to [`ANNOUNCE_GRACE`] for it, as one of its address's
//! `/apply` slots, before it is refused. Junk with a bad signature is refused at once.

use std::time::Duration;

use wtd_wire::{self as wire, Call, Signed, Target, domain};

use crate::error::ProxyError;
use crate::store::Store;

/// How long a correctly signed call waits for its callee to announce its key (a grant
/// made a moment ago) before it is refused.
pub(crate) const ANNOUNCE_GRACE: Duration = Duration::from_secs(2);
/// How often it looks, meanwhile.
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// Checks that `call` (inside `signed`) could be accepted by its callee: its capability
/// key is one the callee announced, or, for a send to a billet (a Pid) or a watch, the calling node's
/// own registered key; and the signature verifies under the call's domain.
pub(crate) async fn admit<S: Store>(
    store: &S,
    call: &Call,
    signed: &Signed,
) -> Result<(), ProxyError> {
    let domain = match call.target {
        Target::Billet { .. } | Target::Watch { .. } => domain::SEND,
        _ => domain::CALL,
    };
    let key = wire::verifying_key(&call.capability)
        .map_err(|e| ProxyError::NotAccepted(format!("the call's capability key: {e}")))?;
    signed.verify(domain, &key).map_err(|_| {
        ProxyError::NotAccepted(format!(
            "the call's signature does not verify with its capability key: it was changed \
             on the way, or signed with another key. Sign it again. Nothing reached `{}`.",
            call.callee
        ))
    })?;
    // A billet is held by the node it was given to (its node key signs the send or the
    // watch) or by a capability key of the callee's own grants; the proxy cannot know
    // which billets exist, only that the sender is who it says.
    if matches!(call.target, Target::Billet { .. } | Target::Watch { .. })
        && store
            .node_key(&call.caller)
            .await?
            .is_some_and(|key| key.to_bytes() == call.capability)
    {
        return Ok(());
    }
    let looks = ANNOUNCE_GRACE.as_millis() / LOOK_EVERY.as_millis();
    for look in 0..=looks {
        if store.may_accept(&call.callee, &call.capability).await? {
            return Ok(());
        }
        if look < looks {
            tokio::time::sleep(LOOK_EVERY).await;
        }
    }
    Err(ProxyError::NotAccepted(format!(
        "node `{callee}` does not accept the key {key}…: `{callee}` has not announced it \
         (never granted, or not since this proxy started; or `{callee}` is offline). Ask \
         the owner of `{callee}` for a grant. Nothing reached `{callee}`.",
        callee = call.callee,
        key = hex::encode(&call.capability[..8]),
    )))
}
