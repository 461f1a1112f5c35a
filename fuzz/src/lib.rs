//! Helpers shared by the fuzz targets: the canonical-decoding check every wire decoder
//! gets, fixed keys, and seed inputs (valid messages of each kind) so the fuzzer starts
//! from real traffic instead of from nothing.

use std::path::PathBuf;

use ed25519_dalek::SigningKey;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wtd::wire::{
    self, Call, Delivered, Directory, DirectoryEntry, DirectoryUpdate, Encoding, Hop, Kind, Offer,
    Outcome, Outgoing, Ping, PingReply, Refusal, Register, Reply, Route, RxBatch, RxPoll, Signed,
    TxBatch, TxReply, TxStatus, domain,
};

/// The key the envelope targets verify with (and the proxy target's node `alice`).
pub fn alice() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

/// A second registered node in the proxy target.
pub fn bob() -> SigningKey {
    SigningKey::from_bytes(&[11u8; 32])
}

/// A key nobody registered or granted.
pub fn mallory() -> SigningKey {
    SigningKey::from_bytes(&[13u8; 32])
}

/// Decodes `bytes` as exactly one canonical `T` and checks what `decode_exact` promises:
///
/// * if it accepts the bytes, re-encoding the value gives the same bytes back, and those
///   decode to the same value;
/// * if postcard reads *some* value from the bytes (perhaps non-canonically, perhaps with
///   bytes left over), that value's own encoding is accepted by `decode_exact` and gives
///   the value back: every value postcard can produce has one canonical form.
pub fn check_exact<T>(bytes: &[u8]) -> Option<T>
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let exact = wire::decode_exact::<T>(bytes);
    if let Ok((loose, _rest)) = postcard::take_from_bytes::<T>(bytes) {
        let canonical = wire::encode(&loose);
        assert_eq!(
            wire::decode_exact::<T>(&canonical).as_ref(),
            Ok(&loose),
            "the canonical encoding of a decoded value does not decode back to it"
        );
        if let Ok(value) = &exact {
            assert_eq!(value, &loose, "decode_exact and postcard disagree");
        }
    } else {
        assert!(
            exact.is_err(),
            "decode_exact accepted bytes postcard itself refuses"
        );
    }
    let value = exact.ok()?;
    assert_eq!(
        wire::encode(&value),
        bytes,
        "decode_exact accepted bytes that do not re-encode to themselves"
    );
    Some(value)
}

/// A valid call from bob to alice, signed by the capability key [`alice`] accepts.
pub fn sample_call() -> Call {
    Call {
        capability: alice().verifying_key().to_bytes(),
        caller: "bob".into(),
        callee: "alice".into(),
        target: wire::Target::Function {
            mission: "demo".into(),
            module: "demo::math".into(),
            function: "add".into(),
        },
        encoding: Encoding::Postcard,
        want_reply: true,
        ack: [1; 16],
        issued_at_ms: 1_000,
        expires_at_ms: 6_000,
        args: wire::encode(&(2i64, 3i64)),
    }
}

/// Replies with several outcomes.
pub fn sample_replies() -> Vec<Reply> {
    let call = Signed::sign(domain::CALL, &sample_call(), &alice());
    let outcomes = vec![
        Outcome::Ok(wire::encode(&5i64)),
        Outcome::Refused(Refusal::Denied),
        Outcome::Refused(Refusal::WrongMission {
            granted: vec!["demo".into(), "admin".into()],
        }),
        Outcome::Refused(Refusal::RateLimited {
            retry_after_ms: 1_500,
        }),
        Outcome::Refused(Refusal::ClockSkew { skew_ms: -600_000 }),
        Outcome::Refused(Refusal::BadArguments("expected (i64, i64)".into())),
        Outcome::Refused(Refusal::ResultTooLarge { bytes: 1 << 20 }),
        Outcome::Refused(Refusal::Restarted),
    ];
    outcomes
        .into_iter()
        .map(|outcome| Reply {
            callee: "alice".into(),
            caller: "bob".into(),
            ack: [1; 16],
            call_hash: call.envelope_hash(),
            outcome,
        })
        .collect()
}

/// A registration of `alice`.
pub fn sample_register() -> Register {
    Register {
        name: "alice".into(),
        email: "alice@example.org".into(),
        node_key: alice().verifying_key().to_bytes(),
        issued_at_ms: 1_000,
    }
}

/// A ping offering one mission.
pub fn sample_ping() -> Ping {
    Ping {
        offers: vec![Offer {
            mission: "demo".into(),
            functions: vec!["demo::math/add".into(), "demo/echo".into()],
            behaviours: Vec::new(),
        }],
        accepts: vec![bob().verifying_key().to_bytes()],
        known_version: 3,
        follows: vec!["bob".into()],
    }
}

/// A directory with two nodes.
pub fn sample_directory() -> Directory {
    Directory {
        nodes: vec![
            DirectoryEntry {
                name: "alice".into(),
                node_key: alice().verifying_key().to_bytes(),
                offers: sample_ping().offers,
                accepts: sample_ping().accepts,
            },
            DirectoryEntry {
                name: "bob".into(),
                node_key: bob().verifying_key().to_bytes(),
                offers: Vec::new(),
                accepts: Vec::new(),
            },
        ],
    }
}

/// A `/tx` batch with a call and a reply.
pub fn sample_tx() -> TxBatch {
    let call = Signed::sign(domain::CALL, &sample_call(), &alice()).to_bytes();
    let reply = Signed::sign(domain::REPLY, &sample_replies()[0], &alice()).to_bytes();
    TxBatch {
        envelopes: vec![
            Outgoing {
                to: "alice".into(),
                kind: Kind::Call,
                ack: [1; 16],
                bytes: call,
            },
            Outgoing {
                to: "bob".into(),
                kind: Kind::Reply,
                ack: [1; 16],
                bytes: reply,
            },
        ],
    }
}

/// A `/rx` answer with two messages.
pub fn sample_rx() -> RxBatch {
    let call = Signed::sign(domain::CALL, &sample_call(), &alice()).to_bytes();
    RxBatch {
        epoch: 0x1234_5678_9abc,
        messages: vec![
            Delivered {
                seq: 1,
                from: Some("bob".into()),
                kind: Kind::Call,
                bytes: call.clone(),
            },
            Delivered {
                seq: 2,
                from: None,
                kind: Kind::Call,
                bytes: call,
            },
        ],
        directory: None,
    }
}

/// A hop for `route` signed by alice's node key.
pub fn sample_hop(route: Route, body: Vec<u8>) -> Signed {
    let hop = Hop {
        node: "alice".into(),
        route,
        counter: 1,
        issued_at_ms: 1_000,
        body,
    };
    Signed::sign(domain::HOP, &hop, &alice())
}

/// Every sample message, postcard-encoded, tagged with its type (for the round-trip
/// target, whose first byte picks the type).
pub fn typed_samples() -> Vec<(u8, Vec<u8>)> {
    let mut all = vec![
        (0, wire::encode(&sample_call())),
        (2, wire::encode(&sample_register())),
        (3, wire::encode(&sample_ping())),
        (
            4,
            wire::encode(&PingReply {
                version: 9,
                update: DirectoryUpdate {
                    listed: sample_directory().nodes,
                    unlisted: vec!["carol".into()],
                },
            }),
        ),
        (5, wire::encode(&sample_directory())),
        (6, wire::encode(&sample_tx())),
        (
            7,
            wire::encode(&TxReply {
                statuses: vec![
                    TxStatus::Queued,
                    TxStatus::NodeDown,
                    TxStatus::MailboxFull,
                    TxStatus::Refused,
                ],
            }),
        ),
        (
            8,
            wire::encode(&RxPoll {
                epoch: 5,
                ack_seq: 7,
                wait_ms: 25_000,
                known_version: 0,
            }),
        ),
        (9, wire::encode(&sample_rx())),
        (10, wire::encode(&sample_rx().messages[0])),
        (
            11,
            sample_hop(Route::Ping, wire::encode(&sample_ping())).to_bytes(),
        ),
        (
            12,
            wire::encode(&Hop {
                node: "alice".into(),
                route: Route::Rx,
                counter: 42,
                issued_at_ms: 1_000,
                body: wire::encode(&RxPoll {
                    epoch: 0,
                    ack_seq: 0,
                    wait_ms: 10,
                    known_version: 0,
                }),
            }),
        ),
    ];
    for reply in sample_replies() {
        all.push((1, wire::encode(&reply)));
    }
    all
}

/// Seeds for one target.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let signed_call = Signed::sign(domain::CALL, &sample_call(), &alice());
    match target {
        "signed" => {
            let mut seeds = vec![signed_call.to_bytes()];
            for reply in sample_replies() {
                seeds.push(Signed::sign(domain::REPLY, &reply, &alice()).to_bytes());
            }
            seeds.push(Signed::sign(domain::REGISTER, &sample_register(), &alice()).to_bytes());
            seeds.push(sample_hop(Route::Tx, wire::encode(&sample_tx())).to_bytes());
            seeds
        }
        "call" => vec![wire::encode(&sample_call())],
        "reply" => sample_replies().iter().map(wire::encode).collect(),
        "register" => vec![
            wire::encode(&sample_register()),
            Signed::sign(domain::REGISTER, &sample_register(), &alice()).to_bytes(),
        ],
        "ping" => vec![
            wire::encode(&sample_ping()),
            wire::encode(&PingReply {
                version: 9,
                update: DirectoryUpdate {
                    listed: sample_directory().nodes,
                    unlisted: vec!["carol".into()],
                },
            }),
            wire::encode(&PingReply {
                version: 9,
                update: DirectoryUpdate::default(),
            }),
        ],
        "batches" => typed_samples()
            .into_iter()
            .filter(|(t, _)| (6..=12).contains(t))
            .map(|(t, bytes)| [vec![t - 6], bytes].concat())
            .collect(),
        "roundtrip" => typed_samples()
            .into_iter()
            .map(|(t, bytes)| [vec![t], bytes].concat())
            .collect(),
        "key_file" => vec![sample_key_file().into_bytes()],
        "audit_log" => {
            let line = r#"{"time":"2026-11-29T10:00:00.000Z","caller":"bob","grantee":"bob","key":"0123456789abcdef","path":"demo/demo::math/add","outcome":"ok","millis":3}"#;
            let skipped = r#"{"time":"2026-11-29T10:00:01.000Z","caller":"-","key":"-","path":"-","outcome":"NotLogged","millis":0,"skipped":12}"#;
            let rotated = format!("{line}\n");
            vec![
                [
                    vec![rotated.len() as u8],
                    rotated.into_bytes(),
                    format!("{skipped}\n{line}\n{line}").into_bytes(),
                ]
                .concat(),
            ]
        }
        "grants_file" => vec![sample_grants_file().into_bytes()],
        "args" => vec![
            [vec![0], wire::encode(&(2i64, 3i64))].concat(),
            [vec![1], b"[2, 3]".to_vec()].concat(),
            [vec![7], b"[]".to_vec()].concat(),
            [
                vec![2],
                wire::encode(&("text".to_string(), vec![1u8, 2, 3], Some(4u32))),
            ]
            .concat(),
        ],
        "proxy_server" => {
            let apply = Signed::sign(domain::CALL, &sample_call(), &alice()).to_bytes();
            let mut put = format!(
                "PUT /apply/alice/demo/demo/add HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
                apply.len()
            )
            .into_bytes();
            put.extend_from_slice(&apply);
            let get = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n".to_vec();
            vec![
                // One chunk each (the first byte says how many chunks, see the target).
                [&[0u8][..], &get].concat(),
                [&[0u8][..], b"GET /api/directory HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"].concat(),
                [&[1u8][..], &put].concat(),
                [&[2u8][..], &get, &get, &get].concat(),
                [&[3u8][..], b"POST /tx/alice HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"].concat(),
                [&[0u8][..], b"POST /ping HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 3\r\n\r\nabc"].concat(),
                [&[0u8][..], b"GET / HTTP/1.0\r\n\r\n"].concat(),
            ]
        }
        _ => Vec::new(),
    }
}

/// A valid key file, as `wtd grant` writes it.
pub fn sample_key_file() -> String {
    let file = wtd::KeyFile {
        grantee: "bob".into(),
        node: "alice".into(),
        node_public_key: hex::encode(alice().verifying_key().to_bytes()),
        proxy: "http://127.0.0.1:14151".into(),
        fallback_proxies: Vec::new(),
        missions: vec!["demo".into()],
        secret_key: hex::encode(bob().to_bytes()),
    };
    format!(
        "# WTD key file\n{}",
        toml::to_string(&file).unwrap_or_default()
    )
}

/// A valid grants file with two grants.
pub fn sample_grants_file() -> String {
    format!(
        "# Grants of this WTD node\n\n[[grant]]\ngrantee = \"bob\"\npublic_key = \"{}\"\nmissions = [\"demo\"]\nrate = \"10/s\"\nrevoked = false\ncreated = \"2026-11-29T10:00:00.000Z\"\n\n[[grant]]\ngrantee = \"carol\"\npublic_key = \"{}\"\nmissions = [\"demo\", \"admin\"]\nrate = \"600/min\"\nexpires = \"2030-12-31T23:59:59Z\"\nrevoked = true\n",
        hex::encode(bob().verifying_key().to_bytes()),
        hex::encode(mallory().verifying_key().to_bytes()),
    )
}

/// Writes `target`'s seeds into `$WTD_FUZZ_SEED_DIR` (scripts/fuzz.sh points it at the
/// target's corpus folder). Called from libFuzzer's initialize hook, which runs before
/// the corpus is read, so the seeds are part of the first pass.
pub fn write_seeds(target: &str) {
    let Some(dir) = std::env::var_os("WTD_FUZZ_SEED_DIR").map(PathBuf::from) else {
        return;
    };
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    for (i, seed) in seeds(target).iter().enumerate() {
        let path = dir.join(format!("seed-{i:02}"));
        if !path.exists() {
            let _ = std::fs::write(path, seed);
        }
    }
}

/// A folder for files a target must write (the grants file, the proxy's database):
/// `$WTD_FUZZ_TMP` if set, else the system temp folder; one sub-folder per process.
pub fn scratch_dir(what: &str) -> PathBuf {
    let base = std::env::var_os("WTD_FUZZ_TMP")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("wtd-fuzz-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {dir:?}: {e}"));
    dir
}
