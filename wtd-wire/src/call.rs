//! A call and the callee's reply.

use serde::{Deserialize, Serialize};

use crate::names::{check_behaviour, check_function, check_module, check_name};
use crate::{MAX_ARGS_BYTES, MAX_LIFETIME_MS, WireError};

/// How a call's arguments and result are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Encoding {
    /// postcard: what typed calls between Rust nodes use.
    Postcard,
    /// JSON: for the command line, scripts and other languages.
    Json,
}

/// What a call is for, on the callee.
///
/// An exported function, (since wire version 3) a named instance of a behaviour, or
/// (since wire version 4) a process reached through a [`Billet`] its node handed out. A
/// node that does not know a variant
/// cannot read the call at all, so adding one is a new wire version: the older node then
/// answers with a [`VersionRefusal`] instead of leaving the caller to time out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// A function exported with `#[wtd_export(mission)]`.
    Function {
        /// Its mission: what the caller's key must be granted.
        mission: String,
        /// Its module (the Rust module path without the crate name).
        module: String,
        /// Its name.
        function: String,
    },
    /// A named instance of a behaviour exposed with `#[wtd_behaviour(mission)]`: for a
    /// gen_server, the call's `args` are one encoded `Call` message (or, when the call
    /// does not want a reply, one `Cast` message) and the result is the encoded `Reply`.
    Behaviour {
        /// Its mission: what the caller's key must be granted.
        mission: String,
        /// The behaviour's wire name (`counting::Counter`, or the name it chose).
        behaviour: String,
        /// The name the instance is registered under on the callee's node.
        instance: String,
    },
    /// A send to one process through a billet-doux the callee (the billet's origin) issued
    /// (wire version 4). Signed under [`domain::SEND`](crate::domain::SEND) by the billet's
    /// holder key, which the call's `capability` field names; `args` is one encoded
    /// message; the reply is empty.
    Billet {
        /// The process's number on the origin node.
        process: u64,
        /// The billet's 128-bit random nonce: only the origin and the holder know it.
        nonce: [u8; 16],
    },
    /// A question to the origin of a billet-doux (wire version 5): has its process ended,
    /// and why? Signed under [`domain::SEND`](crate::domain::SEND) by the billet's holder,
    /// as a send is; `args` is empty; the result is the postcard of `wtd`'s `Watched`:
    /// `Alive`, or `Ended(reason)`. It is how a monitor on a process of another node
    /// learns that the process ended.
    Watch {
        /// The process's number on the origin node.
        process: u64,
        /// The billet's nonce.
        nonce: [u8; 16],
    },
}

/// A billet-doux: what a `Pid` becomes on the wire — the right to send messages to one
/// process, given to one key (wire version 4).
///
/// It travels inside the arguments of a call or the result of a reply, so it is covered
/// by that message's signature: the receiver learns the origin's key from a signed source,
/// never from the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Billet {
    /// The node the process runs on, which issued the billet.
    pub origin: String,
    /// That node's public key: it signs the answers to sends.
    pub origin_key: [u8; 32],
    /// The process's number on the origin node.
    pub process: u64,
    /// 128 random bits the origin recorded when it issued the billet.
    pub nonce: [u8; 16],
    /// The only key whose sends the origin accepts: the callee's node key for a Pid in a
    /// call's arguments, the capability key for a Pid in a reply.
    pub holder: [u8; 32],
    /// After this (origin's clock, ms since the Unix epoch) the billet is refused.
    pub expires_at_ms: Option<u64>,
}

impl Target {
    /// The mission a key must be granted to reach this target.
    pub fn mission(&self) -> &str {
        match self {
            Target::Function { mission, .. } | Target::Behaviour { mission, .. } => mission,
            // A send is not granted by mission: the billet itself is the right.
            Target::Billet { .. } | Target::Watch { .. } => "",
        }
    }

    /// `mission/module/function` for a function, `mission/behaviour@instance` for a
    /// behaviour instance (`@` is in no name, so the two never meet), `billet/PROCESS`
    /// for a send to a billet and `watch/PROCESS` for a watch (two segments and no `@`:
    /// they meet neither), as shown to people and used in `/apply` URLs.
    pub fn path(&self) -> String {
        match self {
            Target::Function {
                mission,
                module,
                function,
            } => format!("{mission}/{module}/{function}"),
            Target::Behaviour {
                mission,
                behaviour,
                instance,
            } => format!("{mission}/{behaviour}@{instance}"),
            Target::Billet { process, .. } => format!("billet/{process}"),
            Target::Watch { process, .. } => format!("watch/{process}"),
        }
    }

    /// Checks every name's bounds.
    pub fn check_bounds(&self) -> Result<(), WireError> {
        match self {
            Target::Function {
                mission,
                module,
                function,
            } => {
                check_name("mission", mission)?;
                check_module(module)?;
                check_function(function)
            }
            Target::Behaviour {
                mission,
                behaviour,
                instance,
            } => {
                check_name("mission", mission)?;
                check_behaviour(behaviour)?;
                check_name("instance", instance)
            }
            Target::Billet { .. } | Target::Watch { .. } => Ok(()),
        }
    }
}

/// A call, signed by the capability key the callee granted
/// ([`domain::CALL`](crate::domain::CALL)). Its wire version is the envelope's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// The capability public key that signed this call.
    pub capability: [u8; 32],
    /// The calling node: where the reply goes.
    pub caller: String,
    /// The node that must run the call.
    pub callee: String,
    /// What to run there.
    pub target: Target,
    /// How `args` and the result are encoded.
    pub encoding: Encoding,
    /// `false` for a cast: run it, send nothing back.
    pub want_reply: bool,
    /// Random id; the reply carries the same one. Also the replay-cache key.
    pub ack: [u8; 16],
    /// Caller's clock, milliseconds since the Unix epoch.
    pub issued_at_ms: u64,
    /// After this (caller's clock) the callee must not run the call.
    pub expires_at_ms: u64,
    /// The encoded arguments, as a tuple.
    pub args: Vec<u8>,
}

impl Call {
    /// The target's path (`mission/module/function`), as shown to people.
    pub fn path(&self) -> String {
        self.target.path()
    }

    /// The mission the capability key must be granted.
    pub fn mission(&self) -> &str {
        self.target.mission()
    }

    /// Checks every field's bounds; the callee and the proxy call this before anything else.
    pub fn check_bounds(&self) -> Result<(), WireError> {
        check_name("caller", &self.caller)?;
        check_name("callee", &self.callee)?;
        self.target.check_bounds()?;
        if self.args.len() > MAX_ARGS_BYTES {
            return Err(WireError::OutOfBounds(format!(
                "arguments are {} bytes, more than the {MAX_ARGS_BYTES} allowed",
                self.args.len()
            )));
        }
        if self.expires_at_ms < self.issued_at_ms
            || self.expires_at_ms - self.issued_at_ms > MAX_LIFETIME_MS
        {
            return Err(WireError::OutOfBounds(format!(
                "a call may live at most {MAX_LIFETIME_MS} ms"
            )));
        }
        Ok(())
    }
}

/// A reply, signed by the callee's node key ([`domain::REPLY`](crate::domain::REPLY)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The node that ran (or refused) the call.
    pub callee: String,
    /// The node that called.
    pub caller: String,
    /// The call's ack.
    pub ack: [u8; 16],
    /// SHA-256 of the call's whole envelope ([`Signed::envelope_hash`]).
    pub call_hash: [u8; 32],
    /// What happened.
    pub outcome: Outcome,
}

/// A callee's answer to a message in a wire version it does not speak, signed by its
/// node key ([`domain::VERSION_REFUSAL`](crate::domain::VERSION_REFUSAL)) in an envelope
/// of version [`VERSION_REFUSAL`](crate::VERSION_REFUSAL). Its layout never changes, so the
/// caller reads it whatever version either side speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRefusal {
    /// The node that refused.
    pub callee: String,
    /// The node whose message it refused (as the proxy authenticated it).
    pub caller: String,
    /// SHA-256 of the refused envelope: the caller finds its call by it.
    pub call_hash: [u8; 32],
    /// The wire version the callee speaks.
    pub speaks: u8,
}

/// The result of a call, as the callee reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The function ran; these are its encoded results.
    Ok(Vec<u8>),
    /// The callee refused or failed the call.
    Refused(Refusal),
}

/// Why a callee did not return a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// No grant for this key.
    Denied,
    /// Granted, but for other missions.
    WrongMission {
        /// The missions the key is granted.
        granted: Vec<String>,
    },
    /// The grant is revoked.
    Revoked,
    /// The grant has expired.
    GrantExpired,
    /// The call arrived after its own expiry.
    CallExpired,
    /// Rate limit used up.
    RateLimited {
        /// Milliseconds until the next call may pass.
        retry_after_ms: u64,
    },
    /// Seen before; not run again.
    Replayed,
    /// No such function in that mission.
    NoSuchFunction,
    /// Arguments could not be decoded.
    BadArguments(String),
    /// The function panicked.
    RemotePanic(String),
    /// The capability signature did not verify.
    BadSignature,
    /// The call's issued-at is too far from the callee's clock.
    ClockSkew {
        /// Callee's clock minus the call's issued-at, in milliseconds.
        skew_ms: i64,
    },
    /// The call was addressed to another node.
    WrongNode,
    /// The callee is overloaded.
    Busy,
    /// A field is out of bounds; the call did not run.
    Malformed(String),
    /// The function ran, but its result is larger than the limit.
    ResultTooLarge {
        /// Size of the encoded result.
        bytes: u64,
    },
    /// The callee started after the call was made. Its replay cache is new, so it
    /// refuses older calls rather than risk running one twice.
    Restarted,
    /// No such behaviour in that mission (wire version 3).
    NoSuchBehaviour,
    /// The behaviour exists, but no instance of it runs under that name (wire version 3).
    NoSuchInstance,
    /// The instance was found, but did not answer: it ended, its mailbox was full, or it
    /// took longer than the call may live (wire version 3).
    ServerFailed(String),
    /// The callee never issued this billet (or it was freed): a forged or stale nonce
    /// (wire version 4).
    NoSuchBillet,
    /// The billet was given to another key than the one that signed the send
    /// (wire version 4).
    NotTheHolder,
    /// The process the billet names has ended (wire version 4).
    ProcessEnded,
    /// The billet has expired (wire version 4).
    BilletExpired,
}

impl Refusal {
    /// The refusal's name, as the audit log and `wtd log` show it (`Denied`,
    /// `RateLimited`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Refusal::Denied => "Denied",
            Refusal::WrongMission { .. } => "WrongMission",
            Refusal::Revoked => "Revoked",
            Refusal::GrantExpired => "GrantExpired",
            Refusal::CallExpired => "CallExpired",
            Refusal::RateLimited { .. } => "RateLimited",
            Refusal::Replayed => "Replayed",
            Refusal::NoSuchFunction => "NoSuchFunction",
            Refusal::BadArguments(_) => "BadArguments",
            Refusal::RemotePanic(_) => "RemotePanic",
            Refusal::BadSignature => "BadSignature",
            Refusal::ClockSkew { .. } => "ClockSkew",
            Refusal::WrongNode => "WrongNode",
            Refusal::Busy => "Busy",
            Refusal::Malformed(_) => "Malformed",
            Refusal::ResultTooLarge { .. } => "ResultTooLarge",
            Refusal::Restarted => "Restarted",
            Refusal::NoSuchBehaviour => "NoSuchBehaviour",
            Refusal::NoSuchInstance => "NoSuchInstance",
            Refusal::ServerFailed(_) => "ServerFailed",
            Refusal::NoSuchBillet => "NoSuchBillet",
            Refusal::NotTheHolder => "NotTheHolder",
            Refusal::ProcessEnded => "ProcessEnded",
            Refusal::BilletExpired => "BilletExpired",
        }
    }
}
