//! The worked example of docs/PROTOCOL.md (§11), and the other byte dumps the document
//! shows, rebuilt with the real code: fixed keys, acks and times, encoded and signed by
//! `wtd::wire` (Ed25519 signatures are deterministic, so the signatures are checked too).
//!
//! Every checked piece of the document sits between two marker comments,
//! `<!-- example:NAME -->` and `<!-- /example -->`; this test renders what belongs
//! there and compares it with the document, byte for byte. So the document cannot drift
//! from the code: change the wire, and this test prints the blocks to paste.

use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use wtd::wire::{
    self, Call, Delivered, Encoding, Hop, Kind, Outcome, Outgoing, Refusal, Reply, Route, RxPoll,
    Signed, Target, TxBatch, TxReply, TxStatus, VersionRefusal, WireError, domain,
};

/// The document, as it is in the checkout.
const DOC: &str = include_str!("../../docs/PROTOCOL.md");

/// The example's fixed inputs (docs/PROTOCOL.md §11 states them).
const CAPABILITY_SEED: [u8; 32] = [0x07; 32];
const ALICE_SEED: [u8; 32] = [0x09; 32];
const BOB_SEED: [u8; 32] = [0x08; 32];
const ACK: [u8; 16] = [0x01; 16];
const ISSUED_AT_MS: u64 = 1_700_000_000_000;
const EXPIRES_AT_MS: u64 = 1_700_000_005_000;
const HOP_COUNTER: u64 = 1_700_000_000_000_000;
/// The version a later node speaks, in the version-refusal example.
const LATER_VERSION: u8 = wire::PROTOCOL_VERSION + 1;

fn capability() -> SigningKey {
    SigningKey::from_bytes(&CAPABILITY_SEED)
}

fn alice() -> SigningKey {
    SigningKey::from_bytes(&ALICE_SEED)
}

fn bob() -> SigningKey {
    SigningKey::from_bytes(&BOB_SEED)
}

fn call() -> Call {
    Call {
        capability: capability().verifying_key().to_bytes(),
        caller: "bob".into(),
        callee: "alice".into(),
        target: Target::Function {
            mission: "demo".into(),
            module: "demo".into(),
            function: "add".into(),
        },
        encoding: Encoding::Postcard,
        want_reply: true,
        ack: ACK,
        issued_at_ms: ISSUED_AT_MS,
        expires_at_ms: EXPIRES_AT_MS,
        args: wire::encode(&(2i64, 3i64)),
    }
}

fn signed_call() -> Signed {
    Signed::sign(domain::CALL, &call(), &capability())
}

fn reply() -> Reply {
    Reply {
        callee: "alice".into(),
        caller: "bob".into(),
        ack: ACK,
        call_hash: signed_call().envelope_hash(),
        outcome: Outcome::Ok(wire::encode(&5i64)),
    }
}

// ---- Rendering -------------------------------------------------------------------------

/// Bytes as `xx xx xx`, 32 to a line.
fn dump(bytes: &[u8]) -> String {
    bytes.chunks(32).map(spaced).collect::<Vec<_>>().join("\n")
}

fn spaced(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Bytes as plain hex, 32 bytes (64 digits) to a line: keys, hashes, signatures.
fn hex_lines(bytes: &[u8]) -> String {
    bytes
        .chunks(32)
        .map(hex::encode)
        .collect::<Vec<_>>()
        .join("\n")
}

fn fenced(text: &str) -> String {
    format!("```\n{text}\n```")
}

/// One field of an annotated dump: its bytes (as encoded alone), how they are shown (by
/// default, the bytes themselves, 16 to a line), and what they are.
struct Field {
    bytes: Vec<u8>,
    shown: Option<String>,
    note: String,
}

fn field(bytes: impl Into<Vec<u8>>, note: &str) -> Field {
    Field {
        bytes: bytes.into(),
        shown: None,
        note: note.into(),
    }
}

fn shown(bytes: impl Into<Vec<u8>>, shown: &str, note: &str) -> Field {
    Field {
        bytes: bytes.into(),
        shown: Some(shown.into()),
        note: note.into(),
    }
}

/// An annotated dump: each field's bytes in a left column, its meaning on the right.
/// Panics unless the fields, one after another, are exactly `whole`: the annotation is
/// proven, not just the bytes.
fn annotated(whole: &[u8], fields: &[Field]) -> String {
    let joined: Vec<u8> = fields.iter().flat_map(|f| f.bytes.clone()).collect();
    assert_eq!(
        spaced(&joined),
        spaced(whole),
        "the annotated fields do not add up to the encoding"
    );
    let lines: Vec<(String, &str)> = fields
        .iter()
        .flat_map(|f| {
            let left: Vec<String> = match &f.shown {
                Some(shown) => vec![shown.clone()],
                None => f.bytes.chunks(16).map(spaced).collect(),
            };
            left.into_iter()
                .enumerate()
                .map(move |(i, l)| (l, if i == 0 { f.note.as_str() } else { "" }))
        })
        .collect();
    let width = lines
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0)
        + 4;
    lines
        .iter()
        .map(|(left, note)| {
            if note.is_empty() {
                left.clone()
            } else {
                let pad = width - left.chars().count();
                format!("{left}{}{note}", " ".repeat(pad))
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A markdown table row of a field: its bytes in short, its name, its value.
fn table_row(bytes: &[u8], name: &str, value: &str) -> String {
    let short = match bytes {
        [first, rest @ ..] if rest.len() >= 2 && rest.iter().all(|b| b == first) => {
            format!("`{first:02x}` × {}", bytes.len())
        }
        _ if bytes.len() > 8 => format!(
            "`{} … {}` ({} bytes)",
            spaced(&bytes[..2]),
            spaced(&bytes[bytes.len() - 2..]),
            bytes.len()
        ),
        _ => format!("`{}`", spaced(bytes)),
    };
    format!("| {short} | {name} | {value} |")
}

fn tag(domain: &[u8]) -> String {
    String::from_utf8_lossy(&domain[..domain.len() - 1]).into_owned() + "\\0"
}

// ---- The expected blocks ----------------------------------------------------------------

/// Every marked block of the document, as the code makes it: (name, content).
fn expected_blocks() -> Vec<(&'static str, String)> {
    let call = call();
    let body = wire::encode(&call);
    let signed = signed_call();
    let envelope = signed.to_bytes();
    let call_hash = signed.envelope_hash();
    let v = wire::PROTOCOL_VERSION;
    let mut blocks = Vec::new();

    // §3: the domain tags.
    let tags = [
        ("Hop", domain::HOP),
        ("Call", domain::CALL),
        ("Reply", domain::REPLY),
        ("Register", domain::REGISTER),
        ("VersionRefusal", domain::VERSION_REFUSAL),
    ];
    let mut table = vec![
        "| purpose | tag (note the trailing NUL byte) | length | bytes |".to_string(),
        "| --- | --- | --- | --- |".to_string(),
    ];
    for (purpose, domain) in tags {
        table.push(format!(
            "| {purpose} | `\"{}\"` | {} | `{}` |",
            tag(domain),
            domain.len(),
            spaced(domain)
        ));
    }
    blocks.push(("domain-tags", table.join("\n")));

    // §11: the inputs.
    let key_hex = |k: &SigningKey| hex::encode(k.verifying_key().to_bytes());
    let inputs = [
        "| input | value |".to_string(),
        "| --- | --- |".to_string(),
        "| capability private key (seed) | 32 bytes of `07` |".to_string(),
        format!("| capability public key | `{}` |", key_hex(&capability())),
        "| alice's node private key (seed) | 32 bytes of `09` |".to_string(),
        format!(
            "| alice's node public key (pinned in bob's key file) | `{}` |",
            key_hex(&alice())
        ),
        "| bob's node private key (seed) | 32 bytes of `08` |".to_string(),
        format!("| bob's node public key | `{}` |", key_hex(&bob())),
        "| ack | 16 bytes of `01` |".to_string(),
        "| issued_at_ms | 1,700,000,000,000 |".to_string(),
        "| expires_at_ms | 1,700,000,005,000 (a 5 s lifetime) |".to_string(),
        format!(
            "| args | postcard `(2i64, 3i64)` = `{}` |",
            spaced(&call.args)
        ),
    ];
    assert_eq!(call.issued_at_ms, 1_700_000_000_000);
    assert_eq!(call.expires_at_ms - call.issued_at_ms, 5_000);
    blocks.push(("inputs", inputs.join("\n")));

    // §11: the call body, whole and field by field.
    blocks.push((
        "call-body",
        fenced(&format!(
            "Call body ({} bytes):\n{}",
            body.len(),
            dump(&body)
        )),
    ));
    let Target::Function {
        mission,
        module,
        function,
    } = &call.target
    else {
        panic!("the worked example calls a function");
    };
    let rows: Vec<(Vec<u8>, &str, String)> = vec![
        (
            call.capability.to_vec(),
            "capability",
            "the capability public key (fixed array, no length)".into(),
        ),
        (
            wire::encode(&call.caller),
            "caller",
            format!("`{:?}`", call.caller),
        ),
        (
            wire::encode(&call.callee),
            "callee",
            format!("`{:?}`", call.callee),
        ),
        (
            vec![0],
            "target",
            "`Target::Function` (variant 0), whose three fields follow".into(),
        ),
        (
            wire::encode(mission),
            "target.mission",
            format!("`{mission:?}`"),
        ),
        (
            wire::encode(module),
            "target.module",
            format!("`{module:?}`"),
        ),
        (
            wire::encode(function),
            "target.function",
            format!("`{function:?}`"),
        ),
        (
            wire::encode(&call.encoding),
            "encoding",
            "`Postcard` (variant 0)".into(),
        ),
        (wire::encode(&call.want_reply), "want_reply", "true".into()),
        (call.ack.to_vec(), "ack", "fixed array".into()),
        (
            wire::encode(&call.issued_at_ms),
            "issued_at_ms",
            "varint 1,700,000,000,000".into(),
        ),
        (
            wire::encode(&call.expires_at_ms),
            "expires_at_ms",
            "varint 1,700,000,005,000".into(),
        ),
        (
            wire::encode(&call.args),
            "args",
            "length 2, then zigzag(2) = 4 and zigzag(3) = 6".into(),
        ),
    ];
    let joined: Vec<u8> = rows.iter().flat_map(|r| r.0.clone()).collect();
    assert_eq!(joined, body, "the call's field table does not add up");
    let mut table = vec![
        "| bytes | field | value |".to_string(),
        "| --- | --- | --- |".to_string(),
    ];
    table.extend(rows.iter().map(|(b, n, v)| table_row(b, n, v)));
    blocks.push(("call-fields", table.join("\n")));

    // §11: the signature, the envelope, the hash.
    let mut message = domain::CALL.to_vec();
    message.push(v);
    message.extend_from_slice(&body);
    assert!(
        capability()
            .verifying_key()
            .verify_strict(
                &message,
                &ed25519_dalek::Signature::from_slice(&signed.signature).expect("64 bytes")
            )
            .is_ok(),
        "the signature covers DOMAIN || version || body"
    );
    blocks.push((
        "call-signature",
        fenced(&format!(
            "Signed message ({} bytes) = \"{}\" ‖ {v:02x} ‖ body\nSignature:\n{}",
            message.len(),
            tag(domain::CALL),
            hex_lines(&signed.signature)
        )),
    ));
    assert_eq!(envelope[0], v);
    blocks.push((
        "call-envelope",
        fenced(&format!(
            "Signed {{ version, body, signature }} ({} bytes):\n{}",
            envelope.len(),
            dump(&envelope)
        )),
    ));
    assert_eq!(call_hash, <[u8; 32]>::from(Sha256::digest(&envelope)));
    blocks.push((
        "call-hash",
        fenced(&format!(
            "call_hash = SHA-256 of the {} bytes above =\n{}",
            envelope.len(),
            hex::encode(call_hash)
        )),
    ));

    // §11: the call in bob's /tx batch.
    let outgoing = Outgoing {
        to: "alice".into(),
        kind: Kind::Call,
        ack: ACK,
        bytes: envelope.clone(),
    };
    let batch = wire::encode(&TxBatch {
        envelopes: vec![outgoing.clone()],
    });
    let length = wire::encode(&(envelope.len() as u64));
    let head = annotated(
        &batch,
        &[
            field([1], "1 envelope"),
            field(wire::encode(&outgoing.to), "to = \"alice\""),
            field(wire::encode(&outgoing.kind), "kind = Call"),
            shown(ACK, "01 × 16", "ack"),
            shown(
                [length.clone(), envelope.clone()].concat(),
                &spaced(&length),
                &format!(
                    "bytes: length {} (varint), then the {} bytes of the Signed call",
                    envelope.len(),
                    envelope.len()
                ),
            ),
        ],
    );
    blocks.push((
        "tx-batch",
        fenced(&format!("TxBatch ({} bytes):\n{head}", batch.len())),
    ));
    let tx_reply = wire::encode(&TxReply {
        statuses: vec![TxStatus::Queued],
    });
    blocks.push((
        "tx-reply",
        fenced(&format!(
            "TxReply {{ statuses: [Queued] }}:\n{}",
            spaced(&tx_reply)
        )),
    ));

    // §11: a whole hop, bob's receive poll.
    let poll = RxPoll {
        epoch: 0,
        ack_seq: 0,
        wait_ms: 20_000,
        known_version: 0,
    };
    let hop = Hop {
        node: "bob".into(),
        route: Route::Rx,
        counter: HOP_COUNTER,
        issued_at_ms: ISSUED_AT_MS,
        body: wire::encode(&poll),
    };
    let hop_body = wire::encode(&hop);
    let hop_signed = Signed::sign(domain::HOP, &hop, &bob());
    let hop_bytes = hop_signed.to_bytes();
    let fields = annotated(
        &hop_body,
        &[
            field(wire::encode(&hop.node), "node = \"bob\""),
            field(wire::encode(&hop.route), "route = Rx"),
            field(
                wire::encode(&hop.counter),
                "counter = 1_700_000_000_000_000",
            ),
            field(wire::encode(&hop.issued_at_ms), "issued_at_ms"),
            field(
                wire::encode(&hop.body),
                "body: length 6; RxPoll = epoch 0, ack_seq 0, wait_ms 20000, known_version 0",
            ),
        ],
    );
    blocks.push((
        "rx-hop",
        fenced(&format!(
            "Hop body ({} bytes):\n{fields}\n\nSigned hop (the POST /rx/bob body, {} bytes):\n{}",
            hop_body.len(),
            hop_bytes.len(),
            dump(&hop_bytes)
        )),
    ));

    // §11: the call as alice receives it.
    let delivered = Delivered {
        seq: 1,
        from: Some("bob".into()),
        kind: Kind::Call,
        bytes: envelope.clone(),
    };
    let delivered_bytes = wire::encode(&delivered);
    let fields = annotated(
        &delivered_bytes,
        &[
            field(wire::encode(&delivered.seq), "seq = 1"),
            field(wire::encode(&delivered.from), "from = Some(\"bob\")"),
            field(wire::encode(&delivered.kind), "kind = Call"),
            shown(
                [length.clone(), envelope.clone()].concat(),
                &spaced(&length),
                &format!(
                    "bytes: length {}, then the Signed call, exactly as bob sent it",
                    envelope.len()
                ),
            ),
        ],
    );
    blocks.push((
        "delivered",
        fenced(&format!(
            "Delivered ({} bytes):\n{fields}",
            delivered_bytes.len()
        )),
    ));

    // §11: alice's reply.
    let reply = reply();
    let reply_body = wire::encode(&reply);
    let reply_signed = Signed::sign(domain::REPLY, &reply, &alice());
    let reply_bytes = reply_signed.to_bytes();
    let fields = annotated(
        &reply_body,
        &[
            field(wire::encode(&reply.callee), "callee = \"alice\""),
            field(wire::encode(&reply.caller), "caller = \"bob\""),
            field(reply.ack, "ack"),
            field(reply.call_hash, "call_hash"),
            field([0], "outcome = Ok"),
            field(
                wire::encode(&wire::encode(&5i64)),
                "Vec<u8>: length 1, postcard 5i64 = zigzag 10",
            ),
        ],
    );
    blocks.push((
        "reply",
        fenced(&format!(
            "Reply body ({} bytes):\n{fields}\n\n\
             Signature over \"{}\" ‖ {v:02x} ‖ body, with alice's node key:\n{}\n\n\
             Signed reply ({} bytes):\n{}",
            reply_body.len(),
            tag(domain::REPLY),
            hex_lines(&reply_signed.signature),
            reply_bytes.len(),
            dump(&reply_bytes)
        )),
    ));

    // §11: a version refusal, for a call in a later version.
    let later = Signed::sign_as(LATER_VERSION, domain::CALL, &call, &capability());
    let later_bytes = later.to_bytes();
    assert_eq!(
        Signed::from_bytes(&later_bytes),
        Err(WireError::Version {
            theirs: LATER_VERSION
        })
    );
    let refusal = VersionRefusal {
        callee: "alice".into(),
        caller: "bob".into(),
        call_hash: later.envelope_hash(),
        speaks: v,
    };
    let refusal_body = wire::encode(&refusal);
    let refusal_signed = Signed::sign_as(
        wire::VERSION_REFUSAL,
        domain::VERSION_REFUSAL,
        &refusal,
        &alice(),
    );
    let refusal_bytes = refusal_signed.to_bytes();
    let fields = annotated(
        &refusal_body,
        &[
            field(wire::encode(&refusal.callee), "callee = \"alice\""),
            field(
                wire::encode(&refusal.caller),
                "caller = \"bob\" (Delivered.from)",
            ),
            field(refusal.call_hash, "call_hash of the refused envelope"),
            field([refusal.speaks], &format!("speaks = {v} (u8, raw)")),
        ],
    );
    let out = Outgoing {
        to: "bob".into(),
        kind: Kind::Reply,
        ack: [0; 16],
        bytes: refusal_bytes.clone(),
    };
    let out_bytes = wire::encode(&out);
    let refusal_length = wire::encode(&(refusal_bytes.len() as u64));
    let outgoing = annotated(
        &out_bytes,
        &[
            field(wire::encode(&out.to), "to = \"bob\""),
            field(wire::encode(&out.kind), "kind = Reply"),
            shown([0; 16], "00 × 16", "ack: all zeros, a routing hint only"),
            shown(
                [refusal_length.clone(), refusal_bytes.clone()].concat(),
                &spaced(&refusal_length),
                &format!(
                    "bytes: length {}, then the Signed refusal",
                    refusal_bytes.len()
                ),
            ),
        ],
    );
    blocks.push((
        "version-refusal",
        fenced(&format!(
            "The refused envelope (version {LATER_VERSION}), {} bytes, starts {}; its SHA-256 is\n{}\n\n\
             VersionRefusal body ({} bytes):\n{fields}\n\n\
             Signature over \"{}\" ‖ {:02x} ‖ body, with alice's node key:\n{}\n\n\
             Signed refusal ({} bytes):\n{}\n\n\
             Outgoing, in alice's /tx batch ({} bytes):\n{outgoing}",
            later_bytes.len(),
            spaced(&later_bytes[..2]),
            hex::encode(refusal.call_hash),
            refusal_body.len(),
            tag(domain::VERSION_REFUSAL),
            wire::VERSION_REFUSAL,
            hex_lines(&refusal_signed.signature),
            refusal_bytes.len(),
            dump(&refusal_bytes),
            out_bytes.len(),
        )),
    ));

    blocks.push(("behaviour-call", behaviour_call_block()));
    blocks.push(("billet-send", billet_send_block()));
    blocks
}

/// The message the behaviour example sends: a gen_server's `Call` type, as the counter
/// of `examples/counter.rs` declares it.
#[derive(serde::Serialize)]
enum CounterCall {
    Incr(u64),
}

/// §11: bob calls the counter gen_server registered as `main` on alice's node, with the
/// same inputs as the function call.
fn behaviour_call_block() -> String {
    let call = Call {
        target: Target::Behaviour {
            mission: "counting".into(),
            behaviour: "counter".into(),
            instance: "main".into(),
        },
        args: wire::encode(&CounterCall::Incr(2)),
        ..call()
    };
    let body = wire::encode(&call);
    let Target::Behaviour {
        mission,
        behaviour,
        instance,
    } = &call.target
    else {
        panic!("a behaviour call");
    };
    let fields = annotated(
        &body,
        &[
            shown(call.capability, "(32 bytes)", "capability, as above"),
            field(wire::encode(&call.caller), "caller = \"bob\""),
            field(wire::encode(&call.callee), "callee = \"alice\""),
            field(
                [1],
                "target = Target::Behaviour (variant 1), three strings follow",
            ),
            field(wire::encode(mission), "target.mission = \"counting\""),
            field(wire::encode(behaviour), "target.behaviour = \"counter\""),
            field(wire::encode(instance), "target.instance = \"main\""),
            field(wire::encode(&call.encoding), "encoding = Postcard"),
            field(
                wire::encode(&call.want_reply),
                "want_reply = true (a call; false is a cast)",
            ),
            shown(call.ack, "01 × 16", "ack"),
            field(wire::encode(&call.issued_at_ms), "issued_at_ms"),
            field(wire::encode(&call.expires_at_ms), "expires_at_ms"),
            field(
                wire::encode(&call.args),
                "args: length 2, then CounterCall::Incr (variant 0) and 2",
            ),
        ],
    );
    let signed = Signed::sign(domain::CALL, &call, &capability());
    let envelope = signed.to_bytes();
    let reply = Reply {
        callee: "alice".into(),
        caller: "bob".into(),
        ack: ACK,
        call_hash: signed.envelope_hash(),
        outcome: Outcome::Ok(wire::encode(&2u64)),
    };
    let reply_signed = Signed::sign(domain::REPLY, &reply, &alice());
    let no_instance = Reply {
        outcome: Outcome::Refused(Refusal::NoSuchInstance),
        ..reply.clone()
    };
    fenced(&format!(
        "Call body ({} bytes):\n{fields}\n\n\
         Signed call (PUT /apply/alice/{}, {} bytes):\n{}\n\n\
         Reply outcome when the counter was at 0: {}\n\
         Signed reply ({} bytes):\n{}\n\n\
         Reply outcome when no `counter` runs as `main`: {}",
        body.len(),
        call.path(),
        envelope.len(),
        dump(&envelope),
        spaced(&wire::encode(&reply.outcome)),
        reply_signed.to_bytes().len(),
        dump(&reply_signed.to_bytes()),
        spaced(&wire::encode(&no_instance.outcome)),
    ))
}

/// §6a and §11: the billet bob's Pid `<bob.7>` becomes in a call to alice, and alice's
/// send of `"hi"` through it, signed by her node key.
fn billet_send_block() -> String {
    let billet = wire::Billet {
        origin: "bob".into(),
        origin_key: bob().verifying_key().to_bytes(),
        process: 7,
        nonce: [0x02; 16],
        holder: alice().verifying_key().to_bytes(),
        expires_at_ms: None,
    };
    let billet_bytes = wire::encode(&billet);
    let billet_fields = annotated(
        &billet_bytes,
        &[
            field(wire::encode(&billet.origin), "origin = \"bob\""),
            shown(
                billet.origin_key,
                "(32 bytes)",
                "origin_key = bob's node key",
            ),
            field(wire::encode(&billet.process), "process = 7"),
            shown(billet.nonce, "02 × 16", "nonce"),
            shown(billet.holder, "(32 bytes)", "holder = alice's node key"),
            field(wire::encode(&billet.expires_at_ms), "expires_at_ms = None"),
        ],
    );
    let send = Call {
        capability: alice().verifying_key().to_bytes(),
        caller: "alice".into(),
        callee: "bob".into(),
        target: Target::Billet {
            process: billet.process,
            nonce: billet.nonce,
        },
        args: wire::encode(&"hi".to_string()),
        ..call()
    };
    let body = wire::encode(&send);
    let fields = annotated(
        &body,
        &[
            shown(
                send.capability,
                "(32 bytes)",
                "capability = alice's node key, the holder",
            ),
            field(wire::encode(&send.caller), "caller = \"alice\""),
            field(wire::encode(&send.callee), "callee = \"bob\", the origin"),
            field([2], "target = Target::Billet (variant 2)"),
            field(wire::encode(&billet.process), "target.process = 7"),
            shown(billet.nonce, "02 × 16", "target.nonce"),
            field(wire::encode(&send.encoding), "encoding = Postcard"),
            field(wire::encode(&send.want_reply), "want_reply = true"),
            shown(send.ack, "01 × 16", "ack"),
            field(wire::encode(&send.issued_at_ms), "issued_at_ms"),
            field(wire::encode(&send.expires_at_ms), "expires_at_ms"),
            field(wire::encode(&send.args), "args: length 3, then \"hi\""),
        ],
    );
    let signed = Signed::sign(domain::SEND, &send, &alice());
    let envelope = signed.to_bytes();
    fenced(&format!(
        "Billet, inside the arguments of bob's call ({} bytes):\n{billet_fields}\n\n\
         Send body ({} bytes):\n{fields}\n\n\
         Signature over \"{}\" ‖ {:02x} ‖ body, with alice's node key:\n{}\n\n\
         Signed send (PUT /apply/bob/{}, {} bytes):\n{}\n\n\
         Reply outcome once the message is in the mailbox: {}",
        billet_bytes.len(),
        body.len(),
        tag(domain::SEND),
        wire::PROTOCOL_VERSION,
        hex_lines(&signed.signature),
        send.path(),
        envelope.len(),
        dump(&envelope),
        spaced(&wire::encode(&Outcome::Ok(Vec::new()))),
    ))
}

/// Short pieces of running text the document shows inline: `label` → `bytes`.
fn expected_inline() -> Vec<String> {
    let body = wire::encode(&call());
    let envelope = signed_call().to_bytes();
    let pair = |label: &str, bytes: Vec<u8>| format!("`{label}` → `{}`", spaced(&bytes));
    vec![
        pair("300u16", wire::encode(&300u16)),
        pair("20000u32", wire::encode(&20_000u32)),
        pair("-1i64", wire::encode(&-1i64)),
        pair("5i64", wire::encode(&5i64)),
        pair("1_700_000_000_000u64", wire::encode(&1_700_000_000_000u64)),
        pair("Some(\"a\")", wire::encode(&Some("a"))),
        pair("(2i64, 3i64)", wire::encode(&(2i64, 3i64))),
        pair(
            "Refused(Denied)",
            wire::encode(&Outcome::Refused(Refusal::Denied)),
        ),
        pair(
            "Refused(RateLimited{300})",
            wire::encode(&Outcome::Refused(Refusal::RateLimited {
                retry_after_ms: 300,
            })),
        ),
        pair(
            "Refused(ClockSkew{-1500})",
            wire::encode(&Outcome::Refused(Refusal::ClockSkew { skew_ms: -1500 })),
        ),
        pair(
            "Refused(WrongMission{[\"x\"]})",
            wire::encode(&Outcome::Refused(Refusal::WrongMission {
                granted: vec!["x".into()],
            })),
        ),
        pair(
            "Refused(ResultTooLarge{70000})",
            wire::encode(&Outcome::Refused(Refusal::ResultTooLarge { bytes: 70_000 })),
        ),
        pair(
            "Refused(Restarted)",
            wire::encode(&Outcome::Refused(Refusal::Restarted)),
        ),
        // Sizes the running text of §11 and §12 quotes.
        format!("the SHA-256 of the {}-byte envelope he", envelope.len()),
        format!("builds that section's {}-byte envelope", envelope.len()),
        format!("same {} bytes as above", body.len()),
        format!(
            "`{}` (the body's",
            spaced(&wire::encode(&(body.len() as u64)))
        ),
        format!(
            "`malformed request: {}`",
            WireError::Version {
                theirs: LATER_VERSION
            }
        ),
        format!(
            "# The WTD wire protocol (version {})",
            wire::PROTOCOL_VERSION
        ),
        format!("| `PROTOCOL_VERSION` | `{}` |", wire::PROTOCOL_VERSION),
        format!("| `VERSION_REFUSAL` | `{}` |", wire::VERSION_REFUSAL),
    ]
}

// ---- Reading the document -----------------------------------------------------------------

/// The text between `<!-- example:NAME -->` and the next `<!-- /example -->`, trimmed.
/// (Markers stand on lines of their own; the same words inside running text are prose.)
fn block<'a>(doc: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<!-- example:{name} -->");
    let start = doc.find(&open)? + open.len();
    let len = doc[start..].find("<!-- /example -->")?;
    Some(doc[start..start + len].trim())
}

#[test]
fn the_protocol_document_shows_the_bytes_the_code_makes() {
    let mut wrong = Vec::new();
    for (name, expected) in expected_blocks() {
        match block(DOC, name) {
            Some(found) if found == expected => {}
            found => wrong.push(format!(
                "{}: put this between `<!-- example:{name} -->` and `<!-- /example -->` \
                 in docs/PROTOCOL.md:\n\n{expected}\n",
                if found.is_some() {
                    "the block differs"
                } else {
                    "the block is missing"
                }
            )),
        }
    }
    for text in expected_inline() {
        if !DOC.contains(&text) {
            wrong.push(format!(
                "the text is missing: docs/PROTOCOL.md should say\n\n{text}\n"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/PROTOCOL.md does not match the code ({} places). Regenerate them from \
         what follows:\n\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn every_marker_in_the_document_is_checked() {
    let names: Vec<&str> = expected_blocks().iter().map(|(n, _)| *n).collect();
    for line in DOC.lines() {
        let Some(rest) = line.trim().strip_prefix("<!-- example:") else {
            continue;
        };
        let name = rest
            .strip_suffix(" -->")
            .expect("a marker ends with ` -->`");
        assert!(
            names.contains(&name),
            "docs/PROTOCOL.md marks a block `{name}` that this test does not check"
        );
    }
}

#[test]
fn the_example_opens_as_the_document_says() {
    // The callee's view: the call verifies with the capability key it names.
    let signed = Signed::from_bytes(&signed_call().to_bytes()).expect("reads");
    let call: Call = signed
        .open(domain::CALL, &capability().verifying_key())
        .expect("verifies");
    assert_eq!(call, self::call());
    // The caller's view: the reply verifies with alice's pinned key and names the call.
    let reply = Signed::sign(domain::REPLY, &reply(), &alice());
    let opened: Reply = Signed::from_bytes(&reply.to_bytes())
        .expect("reads")
        .open(domain::REPLY, &alice().verifying_key())
        .expect("verifies");
    assert_eq!(opened.call_hash, signed.envelope_hash());
    assert_eq!(opened.outcome, Outcome::Ok(vec![0x0a]));
    let result: i64 = match opened.outcome {
        Outcome::Ok(bytes) => wire::decode_exact(&bytes).expect("an i64"),
        Outcome::Refused(r) => panic!("refused: {}", r.name()),
    };
    assert_eq!(result, 5);
}

#[test]
fn the_billet_send_verifies_as_a_send_and_never_as_a_call() {
    let send = Call {
        capability: alice().verifying_key().to_bytes(),
        caller: "alice".into(),
        callee: "bob".into(),
        target: Target::Billet {
            process: 7,
            nonce: [0x02; 16],
        },
        args: wire::encode(&"hi".to_string()),
        ..call()
    };
    let signed = Signed::sign(domain::SEND, &send, &alice());
    let key = alice().verifying_key();
    assert_eq!(signed.open::<Call>(domain::SEND, &key), Ok(send));
    assert!(signed.open::<Call>(domain::CALL, &key).is_err());
    assert_eq!(
        Signed::sign(domain::CALL, &call(), &capability())
            .open::<Call>(domain::SEND, &capability().verifying_key())
            .map(|_| ()),
        Err(WireError::BadSignature)
    );
}
