//! The callee's side: every incoming call goes through one ordered pipeline, read top to
//! bottom in [`Callee::check`], cheapest and least trusting first:
//!
//! 1. **bounds**: every field within its limits;
//! 2. **addressee**: the call names this node;
//! 3. **signature**: by the capability key the call names (strict ed25519);
//! 4. **clock**: issued within ±30 s of this node's clock, not expired, and made after
//!    this process started (the replay cache is in memory, so older calls may have run
//!    in the previous process);
//! 5. **grant**: the key is granted this mission, not revoked, not expired;
//! 6. **replay**: the ack was never seen (recorded before the rate is spent, so a
//!    replay spends nobody's quota and a call refused as rate-limited never runs later);
//! 7. **rate**: the grant's rate limit allows it;
//! 8. **lookup**: the function exists in a mission this node serves; or, for a call to a
//!    behaviour, the behaviour is exposed in a mission this node serves *and* an instance
//!    of it is registered under the name the call gives in the node's process table;
//!
//! then **run** it (its own task, so a panic stays a `RemotePanic`), **sign the reply**
//! with the node key, **audit**, and hand the reply to the outbox. Auditing only queues
//! the entry for the log's writer thread (`audit/queue.rs`), so the log is not the
//! caller's wait, nor the answering task's; and because it is queued before the reply
//! leaves, a node that stops cleanly has logged every call it answered.
//!
//! A forged call never spends a grantee's quota; a refusal says which step refused. A
//! call refused before its signature is proven (steps 1–3) is answered only to the node
//! the proxy says sent it, never to a caller it merely names. When the node has no room
//! (its backlog is full, `node/inbox.rs`), a call goes through steps 1–6 and is refused
//! as `Busy`: its ack is recorded, so it can never run later.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use tracing::Instrument;

use crate::audit::{AuditEntry, AuditLog};
use crate::billet::{BilletTable, Delivery, Issuing, Receiving, Scope, Watched};
use crate::gen_server::{self, BehaviourEntry};
use crate::grants::{Decision, GrantTable};
use crate::keys;
use crate::node::NodeInner;
use crate::process::ProcessTable;
use crate::registry::{self, ApplyError, CallContext, ExportedFn};
use crate::wire::{
    self, Call, Encoding, Freshness, Kind, Outcome, Outgoing, Refusal, ReplayCache, Reply, Signed,
    Target, VersionRefusal, domain,
};

/// Most acks the replay cache holds (about 40 bytes each: ~40 MiB, reached only under a
/// sustained 10,000 calls/s).
pub(crate) const REPLAY_CAPACITY: usize = 1 << 20;

/// Everything a node needs to check, run and answer calls made to it.
pub(crate) struct Callee {
    /// This node's name: calls must be addressed to it.
    name: String,
    /// The node key, which signs every reply (and the sends to billets given to this node).
    pub(crate) key: Arc<SigningKey>,
    /// Who may call what (`grants.toml`, reloaded when it changes).
    pub(crate) grants: GrantTable,
    /// One line per incoming call, accepted or refused (queued for the log's writer).
    pub(crate) audit_log: AuditLog,
    /// Acks of recent calls, so none runs twice.
    replay: Mutex<ReplayCache>,
    /// The missions this node serves; other exported functions are not callable.
    served: HashSet<String>,
    /// When this process started serving (wall clock, ms): older calls are refused.
    started_ms: u64,
    /// The node's processes: a call to a behaviour finds its named instance here.
    pub(crate) processes: ProcessTable,
    /// The billets-doux this node has issued: its Pids that other nodes may message.
    pub(crate) billets: Arc<BilletTable>,
    /// The node this callee serves: billets received in a call send through it.
    node: Weak<NodeInner>,
}

/// What the lookup step found for a call.
enum Found {
    /// An exported function.
    Function(&'static ExportedFn),
    /// An exposed behaviour, whose instance was running when looked up.
    Behaviour(&'static BehaviourEntry),
    /// A process reached through a billet this node issued.
    Billet(Delivery),
    /// A watch's answer: whether the billet's process lives.
    Watch(Watched),
}

impl Callee {
    pub(crate) fn new(
        name: String,
        key: SigningKey,
        grants: GrantTable,
        audit_log: AuditLog,
        served: HashSet<String>,
        node: Weak<NodeInner>,
    ) -> Callee {
        Callee {
            processes: ProcessTable::new(name.clone()),
            name,
            key: Arc::new(key),
            billets: Arc::default(),
            node,
            grants,
            audit_log,
            replay: Mutex::new(ReplayCache::new(REPLAY_CAPACITY)),
            served,
            started_ms: wire::now_ms(),
        }
    }

    /// Checks and runs (or refuses) one call that arrived as `bytes` from node `from`
    /// (as the proxy authenticated it), gives the signed reply to `send_reply` (unless it
    /// is a cast), and records it in the audit log.
    pub(crate) async fn serve(
        &self,
        from: Option<&str>,
        bytes: &[u8],
        send_reply: impl FnOnce(Outgoing),
    ) {
        let Ok(signed) = Signed::any_version_from_bytes(bytes) else {
            tracing::warn!(node = %self.name, "dropped a malformed call");
            return;
        };
        if signed.version != wire::PROTOCOL_VERSION {
            self.refuse_version(from, &signed, send_reply);
            return;
        }
        let Ok(call) = signed.peek::<Call>() else {
            tracing::warn!(node = %self.name, "dropped a call that does not decode");
            return;
        };
        let span = tracing::debug_span!("serve", node = %self.name, ack = %hex::encode(call.ack), path = %call.path());
        self.answer(from, &signed, &call, send_reply)
            .instrument(span)
            .await;
    }

    /// A call that arrived while the node has no room to run it (its backlog is full):
    /// checked up to the replay step, so the ack is recorded and a copy delivered later is
    /// refused too, then refused as [`Refusal::Busy`]. Nothing runs and no task is started,
    /// so a flood costs the receive thread a signature check per call, and the node keeps
    /// receiving (replies to its own calls included).
    pub(crate) fn refuse_busy(
        &self,
        from: Option<&str>,
        bytes: &[u8],
        send_reply: impl FnOnce(Outgoing),
    ) {
        let Ok(signed) = Signed::any_version_from_bytes(bytes) else {
            return;
        };
        if signed.version != wire::PROTOCOL_VERSION {
            self.refuse_version(from, &signed, send_reply);
            return;
        }
        let Ok(call) = signed.peek::<Call>() else {
            return;
        };
        let refusal = match self.admit(&signed, &call, wire::now_ms()) {
            Ok(()) => Refusal::Busy,
            Err(refusal) => refusal,
        };
        self.reply(
            from,
            &signed,
            &call,
            Outcome::Refused(refusal),
            true,
            Duration::ZERO,
            send_reply,
        );
    }

    /// The pipeline for a call that decoded: check, run, reply, audit.
    async fn answer(
        &self,
        from: Option<&str>,
        signed: &Signed,
        call: &Call,
        send_reply: impl FnOnce(Outgoing),
    ) {
        let started = Instant::now();
        let (outcome, checked) = match self.check(signed, call) {
            Ok(Found::Function(function)) => (self.run(function, call).await, false),
            Ok(Found::Behaviour(behaviour)) => (self.run_behaviour(behaviour, call).await, false),
            Ok(Found::Billet(delivery)) => (self.deliver(&delivery, call), false),
            Ok(Found::Watch(watched)) => (Outcome::Ok(wire::encode(&watched)), false),
            Err(refusal) => (Outcome::Refused(refusal), true),
        };
        self.reply(
            from,
            signed,
            call,
            outcome,
            checked,
            started.elapsed(),
            send_reply,
        );
    }

    /// Signs the reply, audits, and hands the reply to `send_reply` (unless it is a cast).
    /// `checked`: the outcome is a refusal from the checks (not from running).
    ///
    /// A call refused before its signature was shown to be the capability key's gets an
    /// answer only when the node the proxy says sent it is the caller it names (or it came
    /// through `/apply`, where the waiter takes the answer): otherwise anyone could name a
    /// victim as the caller and have refusals from many nodes fill its mailbox.
    #[allow(clippy::too_many_arguments)]
    fn reply(
        &self,
        from: Option<&str>,
        signed: &Signed,
        call: &Call,
        outcome: Outcome,
        checked: bool,
        took: Duration,
        send_reply: impl FnOnce(Outgoing),
    ) {
        let unproven = checked
            && matches!(
                outcome,
                Outcome::Refused(
                    Refusal::Malformed(_) | Refusal::WrongNode | Refusal::BadSignature
                )
            );
        let reflected = unproven && from.is_some_and(|from| from != call.caller);
        if !call.want_reply || reflected || wire::check_name("caller", &call.caller).is_err() {
            self.audit(call, &outcome, took);
            return;
        }
        let reply = Reply {
            callee: self.name.clone(),
            caller: call.caller.clone(),
            ack: call.ack,
            call_hash: signed.envelope_hash(),
            outcome,
        };
        let bytes = Signed::sign(domain::REPLY, &reply, &self.key).to_bytes();
        self.audit(call, &reply.outcome, took);
        tracing::debug!("reply signed, to the outbox");
        send_reply(Outgoing {
            to: call.caller.clone(),
            kind: Kind::Reply,
            ack: call.ack,
            bytes,
        });
    }

    /// A call in a wire version this node does not speak: its fields cannot be read, so
    /// answer the sending node (as the proxy authenticated it) with the one message every
    /// version reads, instead of leaving it to time out.
    fn refuse_version(
        &self,
        from: Option<&str>,
        signed: &Signed,
        send_reply: impl FnOnce(Outgoing),
    ) {
        tracing::info!(node = %self.name, ?from, theirs = signed.version, "refused a call in another wire version");
        let Some(caller) = from.filter(|from| wire::check_name("caller", from).is_ok()) else {
            return;
        };
        let refusal = VersionRefusal {
            callee: self.name.clone(),
            caller: caller.to_string(),
            call_hash: signed.envelope_hash(),
            speaks: wire::PROTOCOL_VERSION,
        };
        let bytes = Signed::sign_as(
            wire::VERSION_REFUSAL,
            domain::VERSION_REFUSAL,
            &refusal,
            &self.key,
        )
        .to_bytes();
        send_reply(Outgoing {
            to: caller.to_string(),
            kind: Kind::Reply,
            // A routing hint only (it matches no `/apply` waiter); the caller finds its
            // call by the hash.
            ack: [0; 16],
            bytes,
        });
    }

    /// The pipeline's checks, in order; the first that fails says why.
    fn check(&self, signed: &Signed, call: &Call) -> Result<Found, Refusal> {
        self.admit(signed, call, wire::now_ms())?;
        match self.rate(call)? {
            Some(found) => Ok(found),
            None => self.lookup(call),
        }
    }

    /// Steps 1 to 6: the checks that decide whether the call is genuine, allowed and new
    /// (the ack is recorded by the last of them).
    fn admit(&self, signed: &Signed, call: &Call, now: u64) -> Result<(), Refusal> {
        self.bounds(call)?;
        self.addressee(call)?;
        self.signature(signed, call)?;
        self.clock(call, now)?;
        self.grant(call, now)?;
        self.replay(call, now)
    }

    /// Step 1: every field within its limits.
    fn bounds(&self, call: &Call) -> Result<(), Refusal> {
        call.check_bounds()
            .map_err(|e| Refusal::Malformed(e.to_string()))
    }

    /// Step 2: addressed to this node.
    fn addressee(&self, call: &Call) -> Result<(), Refusal> {
        if call.callee == self.name {
            Ok(())
        } else {
            Err(Refusal::WrongNode)
        }
    }

    /// Step 3: signed by the capability key it names (for a send to a billet: by the key
    /// it names, under the send domain tag; step 5 checks it is the billet's holder).
    fn signature(&self, signed: &Signed, call: &Call) -> Result<(), Refusal> {
        // A granted key was parsed (and checked for weakness) when the grants loaded.
        let key = match self.grants.verifying_key(&call.capability) {
            Some(key) => Ok(key),
            None => wire::verifying_key(&call.capability),
        };
        let domain = match call.target {
            Target::Billet { .. } | Target::Watch { .. } => domain::SEND,
            _ => domain::CALL,
        };
        key.and_then(|key| signed.verify(domain, &key))
            .map_err(|_| Refusal::BadSignature)
    }

    /// Step 4: made recently by this node's clock, not expired, and after this process started.
    fn clock(&self, call: &Call, now: u64) -> Result<(), Refusal> {
        // Wire values may be anything: saturate, never overflow.
        let too_new = call.issued_at_ms > now.saturating_add(wire::MAX_SKEW_MS);
        let too_old = call
            .issued_at_ms
            .saturating_add(wire::MAX_LIFETIME_MS + wire::MAX_SKEW_MS)
            < now;
        if too_new || too_old {
            return Err(Refusal::ClockSkew {
                skew_ms: wire::signed_diff(now, call.issued_at_ms),
            });
        }
        // The replay cache keeps an ack while `now < expires + skew`; from then on the
        // call is refused here, so a forgotten ack can never be replayed.
        if now >= call.expires_at_ms.saturating_add(wire::MAX_SKEW_MS) {
            return Err(Refusal::CallExpired);
        }
        // The replay cache lives in memory and starts empty: a call made before this
        // process started may have run in the previous one, so it is refused.
        if call.issued_at_ms < self.started_ms {
            return Err(Refusal::Restarted);
        }
        Ok(())
    }

    /// Step 5: the key is granted this mission, and the grant is alive. For a send to a
    /// billet: this node issued the billet, to the key that signed, for a process that
    /// lives, unexpired; and, if it went to a capability key in a result, that key's
    /// grant for the mission of that call is still alive. A watch passes the same checks,
    /// except that its process may have ended: that is what it asks.
    fn grant(&self, call: &Call, now: u64) -> Result<(), Refusal> {
        let mission = match &call.target {
            Target::Billet { process, nonce } | Target::Watch { process, nonce } => {
                let checked = match call.target {
                    Target::Watch { .. } => {
                        self.billets
                            .check_watch(*process, nonce, &call.capability, now)
                    }
                    _ => self.billets.check(*process, nonce, &call.capability, now),
                };
                match checked? {
                    Some(mission) => mission,
                    None => return Ok(()),
                }
            }
            _ => call.mission().to_string(),
        };
        match self.grants.check(&call.capability, &mission) {
            Decision::Allow => Ok(()),
            Decision::Denied => Err(Refusal::Denied),
            Decision::Revoked => Err(Refusal::Revoked),
            Decision::Expired => Err(Refusal::GrantExpired),
            Decision::WrongMission { granted } => Err(Refusal::WrongMission { granted }),
        }
    }

    /// Step 6: never seen before. The ack is recorded before the rate is spent: a replay
    /// spends nobody's quota, and a call refused as rate-limited can never run later (its
    /// refusal is the truth even if the proxy delivers it again).
    fn replay(&self, call: &Call, now: u64) -> Result<(), Refusal> {
        let share = match call.target {
            // A node key holds no grant; its billet sends and watches get a fixed share.
            Target::Billet { .. } | Target::Watch { .. } => REPLAY_CAPACITY / 64,
            _ => self.grants.replay_share(&call.capability, REPLAY_CAPACITY),
        };
        let freshness = crate::node::lock(&self.replay).check_and_insert(
            call.capability,
            share,
            call.ack,
            call.expires_at_ms,
            now,
        );
        match freshness {
            Freshness::Fresh => Ok(()),
            Freshness::Replayed => Err(Refusal::Replayed),
            Freshness::Full => Err(Refusal::Busy),
        }
    }

    /// Step 7: the grant's rate limit allows one more (for a send or a watch: the
    /// billet's). A send's process is found here, with the billet's rate, and a watch is
    /// answered.
    fn rate(&self, call: &Call) -> Result<Option<Found>, Refusal> {
        let spent = match &call.target {
            Target::Billet { process, nonce } => self
                .billets
                .spend(*process, nonce)
                .map(|delivery| Some(Found::Billet(delivery))),
            Target::Watch { process, nonce } => self
                .billets
                .watched(*process, nonce)
                .map(|watched| Some(Found::Watch(watched))),
            _ => self.grants.spend(&call.capability).map(|()| None),
        };
        spent.map_err(|retry_after| Refusal::RateLimited {
            retry_after_ms: retry_after.as_millis().max(1) as u64,
        })
    }

    /// Step 8: the function exists, in a mission this node serves; or the behaviour is
    /// exposed in such a mission and an instance of it runs under the name given. (A
    /// send's process was found by step 7.)
    fn lookup(&self, call: &Call) -> Result<Found, Refusal> {
        match &call.target {
            Target::Function {
                mission,
                module,
                function,
            } => registry::lookup(mission, module, function)
                .filter(|_| self.served.contains(mission))
                .map(Found::Function)
                .ok_or(Refusal::NoSuchFunction),
            Target::Behaviour {
                mission,
                behaviour,
                instance,
            } => {
                let entry = gen_server::lookup_behaviour(mission, behaviour)
                    .filter(|_| self.served.contains(mission))
                    .ok_or(Refusal::NoSuchBehaviour)?;
                if (entry.running)(&self.processes, instance) {
                    Ok(Found::Behaviour(entry))
                } else {
                    Err(Refusal::NoSuchInstance)
                }
            }
            Target::Billet { .. } | Target::Watch { .. } => Err(Refusal::NoSuchBillet),
        }
    }

    /// The scope a call's arguments are decoded and its result encoded in: billets in
    /// the arguments come from the caller and are given to this node's key; Pids in the
    /// result become billets given to the call's capability key, under its mission.
    fn scope(&self, call: &Call) -> Scope {
        Scope {
            issuing: Some(Issuing {
                table: self.billets.clone(),
                origin: self.name.clone(),
                origin_key: self.key.verifying_key().to_bytes(),
                holder: call.capability,
                mission: Some(call.mission().to_string()),
            }),
            receiving: Some(Receiving {
                node: self.node.clone(),
                holder: self.key.clone(),
                origin: call.caller.clone(),
                origin_key: None,
            }),
        }
    }

    /// Puts a send's message in its process's mailbox. Billets in the message come from
    /// the sender and are given to this node; nothing is encoded back.
    fn deliver(&self, delivery: &Delivery, call: &Call) -> Outcome {
        let scope = Scope {
            issuing: None,
            ..self.scope(call)
        };
        match scope.sync(|| delivery.deliver(&call.args)) {
            Ok(()) => Outcome::Ok(Vec::new()),
            Err(refusal) => Outcome::Refused(refusal),
        }
    }

    /// Runs the function in a task of its own, so that even a panic while decoding
    /// cannot reach the node.
    async fn run(&self, function: &'static ExportedFn, call: &Call) -> Outcome {
        let context = CallContext {
            node: self.name.clone(),
            caller: call.caller.clone(),
            mission: call.mission().to_string(),
            key: call.capability,
            processes: self.processes.clone(),
        };
        if let Some(refusal) = wrong_json_arity(function, call) {
            return Outcome::Refused(refusal);
        }
        let apply = (function.apply)(call.encoding, call.args.clone());
        let scoped = self.scope(call).run(registry::with_context(context, apply));
        outcome(tokio::spawn(scoped).await)
    }

    /// Calls or casts a behaviour's instance in a task of its own. A call waits for the
    /// server at most as long as the call lives, by this node's clock.
    async fn run_behaviour(&self, behaviour: &'static BehaviourEntry, call: &Call) -> Outcome {
        let Target::Behaviour { instance, .. } = &call.target else {
            return Outcome::Refused(Refusal::NoSuchFunction);
        };
        let left = call
            .expires_at_ms
            .saturating_sub(wire::now_ms())
            .clamp(1, wire::MAX_LIFETIME_MS);
        let apply = (behaviour.apply)(
            &self.processes,
            instance,
            call.encoding,
            call.args.clone(),
            call.want_reply,
            Duration::from_millis(left),
        );
        outcome(tokio::spawn(self.scope(call).run(apply)).await)
    }

    /// Logs an incoming call (tracing and the audit log).
    fn audit(&self, call: &Call, outcome: &Outcome, took: Duration) {
        // A monitor asks once a second: a watch that found its process alive is routine,
        // and would bury the log. Its refusals and its "ended" answer are logged.
        if matches!(call.target, Target::Watch { .. })
            && matches!(outcome, Outcome::Ok(bytes) if bytes == &wire::encode(&Watched::Alive))
        {
            return;
        }
        let key = keys::fingerprint(&call.capability);
        let (path, caller) = (call.path(), &call.caller);
        let outcome = match outcome {
            Outcome::Ok(_) => {
                tracing::info!(node = %self.name, %path, %caller, %key, ?took, "call ran");
                "ok"
            }
            Outcome::Refused(why) => {
                tracing::info!(node = %self.name, %path, %caller, %key, ?why, "call refused");
                why.name()
            }
        };
        self.audit_log.record(AuditEntry {
            time: crate::grants::format_time(std::time::SystemTime::now()),
            caller: truncated(caller),
            grantee: self.grants.grantee_of(&call.capability),
            key,
            path: truncated(&path),
            outcome: outcome.to_string(),
            millis: took.as_millis() as u64,
            skipped: None,
        });
    }
}

/// What a shim's task came to, as the caller will read it.
fn outcome(joined: Result<Result<Vec<u8>, ApplyError>, tokio::task::JoinError>) -> Outcome {
    let refuse = Outcome::Refused;
    match joined {
        Ok(Ok(result)) if result.len() <= wire::MAX_ARGS_BYTES => Outcome::Ok(result),
        Ok(Ok(result)) => refuse(Refusal::ResultTooLarge {
            bytes: result.len() as u64,
        }),
        Ok(Err(ApplyError::BadArguments(detail))) => refuse(Refusal::BadArguments(detail)),
        Ok(Err(ApplyError::Panic(message))) => refuse(Refusal::RemotePanic(message)),
        Ok(Err(ApplyError::Unencodable(detail))) => refuse(Refusal::Malformed(format!(
            "the function ran, but its result cannot be encoded: {detail}"
        ))),
        Ok(Err(ApplyError::NoSuchInstance)) => refuse(Refusal::NoSuchInstance),
        Ok(Err(ApplyError::ServerFailed(detail))) => refuse(Refusal::ServerFailed(detail)),
        Err(e) => refuse(Refusal::RemotePanic(e.to_string())),
    }
}

/// A JSON call (from the command line or a script) whose argument array has the wrong
/// length: say so in those words, rather than with the decoder's "trailing characters".
fn wrong_json_arity(function: &ExportedFn, call: &Call) -> Option<Refusal> {
    if call.encoding != Encoding::Json {
        return None;
    }
    let args: Vec<serde::de::IgnoredAny> = serde_json::from_slice(&call.args).ok()?;
    (args.len() != function.arity).then(|| {
        let plural = if function.arity == 1 { "" } else { "s" };
        Refusal::BadArguments(format!(
            "{} takes {} argument{plural}, got {}",
            function.name,
            function.arity,
            args.len()
        ))
    })
}

/// Text from the wire, cut to a length that keeps log lines bounded.
fn truncated(text: &str) -> String {
    text.chars().take(200).collect()
}
