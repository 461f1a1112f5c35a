//! The Lua scripts of the Redis store, and reading what they return.
//!
//! Each script is `lua/common.lua` (key names, Redis's clock, presence, the directory
//! change) followed by its own file. Redis runs a script alone, so each is one atomic
//! step over all proxies. The client sends a script's SHA1 and, when Redis does not have
//! it (after a restart), the script itself.
//!
//! Most scripts return `{code, wakes, version, ...}` ([`Outcome`]); the hop window, the
//! rate and the key gate return one number.

use std::sync::LazyLock;

use redis::aio::ConnectionManager;
use redis::{Script, Value};

use super::within;
use crate::error::ProxyError;

/// Every script, compiled once.
pub(super) struct Scripts {
    pub(super) init: Script,
    pub(super) register: Script,
    pub(super) release: Script,
    pub(super) decide: Script,
    pub(super) window: Script,
    pub(super) rate: Script,
    pub(super) seen: Script,
    pub(super) admit: Script,
    pub(super) hold_poll: Script,
    pub(super) release_poll: Script,
    pub(super) leave: Script,
    pub(super) sweep: Script,
    pub(super) list: Script,
    pub(super) may_accept: Script,
    pub(super) follow: Script,
    pub(super) followed: Script,
    pub(super) page: Script,
    pub(super) since: Script,
    pub(super) deliver: Script,
    pub(super) take: Script,
    pub(super) clear_mail: Script,
    pub(super) expect_reply: Script,
    pub(super) answer: Script,
}

/// `common.lua`, then `body`.
fn script(body: &str) -> Script {
    Script::new(&format!("{}\n{body}", include_str!("lua/common.lua")))
}

/// `common.lua`, the hop checks (`hop.lua`), then `body`.
fn hop_script(body: &str) -> Script {
    script(&format!("{}\n{body}", include_str!("lua/hop.lua")))
}

pub(super) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    init: script(include_str!("lua/init.lua")),
    register: script(include_str!("lua/register.lua")),
    release: script(include_str!("lua/release.lua")),
    decide: script(include_str!("lua/decide.lua")),
    window: hop_script(include_str!("lua/window.lua")),
    rate: hop_script(include_str!("lua/rate.lua")),
    seen: hop_script(include_str!("lua/seen.lua")),
    admit: hop_script(include_str!("lua/admit.lua")),
    hold_poll: script(include_str!("lua/hold_poll.lua")),
    release_poll: script(include_str!("lua/release_poll.lua")),
    leave: script(include_str!("lua/leave.lua")),
    sweep: script(include_str!("lua/sweep.lua")),
    list: script(include_str!("lua/list.lua")),
    may_accept: script(include_str!("lua/may_accept.lua")),
    follow: script(include_str!("lua/follow.lua")),
    followed: script(include_str!("lua/followed.lua")),
    page: script(include_str!("lua/page.lua")),
    since: script(include_str!("lua/since.lua")),
    deliver: script(include_str!("lua/deliver.lua")),
    take: script(include_str!("lua/take.lua")),
    clear_mail: script(include_str!("lua/clear_mail.lua")),
    expect_reply: script(include_str!("lua/expect_reply.lua")),
    answer: script(include_str!("lua/answer.lua")),
});

/// What a script did: its code, the nodes whose receive requests must look again, the
/// directory version its change took (0: none), and the rest of its answer.
#[derive(Debug)]
pub(super) struct Outcome {
    pub(super) code: i64,
    pub(super) wakes: Vec<String>,
    pub(super) version: u64,
    pub(super) rest: Vec<Value>,
}

/// An answer that is not what the script returns: a script and its reader disagree.
fn garbled(what: &str) -> ProxyError {
    ProxyError::Storage(format!(
        "a Redis script answered something unexpected ({what}): is another version of \
         wtd-proxy using this Redis?"
    ))
}

impl Outcome {
    /// The `i`-th value after the first three, as a number.
    pub(super) fn int(&self, i: usize) -> Result<i64, ProxyError> {
        self.rest
            .get(i)
            .map_or(Err(garbled("a number missing")), int)
    }

    /// The `i`-th value after the first three, as text.
    pub(super) fn string(&self, i: usize) -> Result<String, ProxyError> {
        let bytes = self
            .rest
            .get(i)
            .map_or(Err(garbled("text missing")), bytes)?;
        String::from_utf8(bytes).map_err(|_| garbled("text that is not UTF-8"))
    }
}

/// A number in a script's answer.
pub(super) fn int(value: &Value) -> Result<i64, ProxyError> {
    match value {
        Value::Int(n) => Ok(*n),
        Value::BulkString(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| garbled("text where a number was expected")),
        _ => Err(garbled("not a number")),
    }
}

/// Bytes in a script's answer (nil: none).
pub(super) fn bytes(value: &Value) -> Result<Vec<u8>, ProxyError> {
    match value {
        Value::BulkString(b) => Ok(b.clone()),
        Value::SimpleString(s) => Ok(s.clone().into_bytes()),
        Value::Nil => Ok(Vec::new()),
        Value::Int(n) => Ok(n.to_string().into_bytes()),
        _ => Err(garbled("not text")),
    }
}

/// A list in a script's answer.
pub(super) fn array(value: &Value) -> Result<&[Value], ProxyError> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Nil => Ok(&[]),
        _ => Err(garbled("not a list")),
    }
}

/// Runs `script`, routed by `key`, with `args`; its raw answer.
pub(super) async fn raw(
    redis: &mut ConnectionManager,
    script: &Script,
    key: &str,
    args: &[Vec<u8>],
) -> Result<Value, ProxyError> {
    let mut invocation = script.key(key);
    for arg in args {
        invocation.arg(arg.as_slice());
    }
    within(invocation.invoke_async(redis)).await
}

/// Runs a script that answers one number.
pub(super) async fn number(
    redis: &mut ConnectionManager,
    script: &Script,
    key: &str,
    args: &[Vec<u8>],
) -> Result<i64, ProxyError> {
    int(&raw(redis, script, key, args).await?)
}

/// Runs a script that answers `{code, wakes, version, ...}`.
pub(super) async fn run(
    redis: &mut ConnectionManager,
    script: &Script,
    key: &str,
    args: &[Vec<u8>],
) -> Result<Outcome, ProxyError> {
    let value = raw(redis, script, key, args).await?;
    let items = array(&value)?;
    let [code, wakes, version, rest @ ..] = items else {
        return Err(garbled("fewer than three values"));
    };
    let wakes = array(wakes)?
        .iter()
        .map(|w| bytes(w).map(|b| String::from_utf8_lossy(&b).into_owned()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Outcome {
        code: int(code)?,
        wakes,
        version: u64::try_from(int(version)?).unwrap_or(0),
        rest: rest.to_vec(),
    })
}
