//! Hostile inputs for every decoder that reads bytes from the network or the disk, as the
//! fuzz targets in `fuzz/` feed them: huge length prefixes, overlong varints, truncation,
//! trailing bytes, bad tags, invalid UTF-8 and deep nesting. Each must give a clear error
//! (or decode exactly), never a panic, a huge allocation or a stack overflow.
//!
//! Run the fuzzers themselves with `scripts/fuzz.sh` (see fuzz/README.md). A crash they
//! find belongs here, as a byte literal.

use std::path::Path;

use ed25519_dalek::SigningKey;
use wtd::KeyFile;
use wtd::grants::{Decision, GrantTable};
use wtd::registry::decode_args;
use wtd::wire::{
    self, Call, Delivered, Directory, Encoding, Hop, Outcome, Ping, PingReply, Refusal, Register,
    Reply, RxBatch, RxPoll, Signed, Target, TxBatch, TxReply, WireError, decode_exact, domain,
};

/// A length prefix of 2³²−1 (the varint `FF FF FF FF 0F`).
const HUGE_LEN: [u8; 5] = [0xff, 0xff, 0xff, 0xff, 0x0f];
/// A length prefix of 2⁶⁴−1.
const HUGEST_LEN: [u8; 10] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

fn call() -> Call {
    Call {
        capability: key().verifying_key().to_bytes(),
        caller: "bob".into(),
        callee: "alice".into(),
        target: function("demo", "demo::math", "add"),
        encoding: Encoding::Postcard,
        want_reply: true,
        ack: [1; 16],
        issued_at_ms: 1_000,
        expires_at_ms: 6_000,
        args: wire::encode(&(2i64, 3i64)),
    }
}

fn function(mission: &str, module: &str, function: &str) -> Target {
    Target::Function {
        mission: mission.into(),
        module: module.into(),
        function: function.into(),
    }
}

fn malformed<T: std::fmt::Debug>(result: Result<T, WireError>) {
    assert!(
        matches!(result, Err(WireError::Malformed(_))),
        "expected Malformed, got {result:?}"
    );
}

/// Every proper prefix of `bytes` is refused, and `bytes` with one more byte is refused
/// as not canonical.
fn truncations_and_trailing_bytes_fail<T>(bytes: &[u8])
where
    T: serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    for end in 0..bytes.len() {
        assert!(
            decode_exact::<T>(&bytes[..end]).is_err(),
            "a prefix of {end} of {} bytes decoded",
            bytes.len()
        );
    }
    let mut longer = bytes.to_vec();
    longer.push(0);
    assert_eq!(
        decode_exact::<T>(&longer).map(|_| ()),
        Err(WireError::NotCanonical)
    );
    assert!(
        decode_exact::<T>(bytes).is_ok(),
        "the whole message decodes"
    );
}

// ---- signed envelopes ----

/// The envelope's first byte: the wire version.
const V: u8 = wire::PROTOCOL_VERSION;

#[test]
fn signed_envelope_with_huge_length_prefixes_is_malformed() {
    for prefix in [&HUGE_LEN[..], &HUGEST_LEN[..]] {
        malformed(Signed::from_bytes(&[&[V][..], prefix].concat()));
        // The body is fine, the signature's length is huge.
        let bytes = [&[V, 3, 1, 2, 3][..], prefix, &[0; 64]].concat();
        malformed(Signed::from_bytes(&bytes));
    }
    // A varint longer than a u64 can be.
    malformed(Signed::from_bytes(&[&[V][..], &[0xff; 11]].concat()));
    malformed(Signed::from_bytes(&[]));
    malformed(Signed::from_bytes(&[V]));
}

#[test]
fn signed_envelope_refuses_overlong_varints_and_short_signatures() {
    // Body length 0 written in two bytes: postcard may read it, but it is not canonical.
    let overlong = [&[V, 0x80, 0x00, 64][..], &[0u8; 64][..]].concat();
    assert!(Signed::from_bytes(&overlong).is_err());
    let short = [&[V, 0, 63][..], &[0u8; 63][..]].concat();
    assert_eq!(Signed::from_bytes(&short), Err(WireError::BadSignature));
    let empty_signature = [V, 0, 0];
    assert_eq!(
        Signed::from_bytes(&empty_signature),
        Err(WireError::BadSignature)
    );
    // A well-formed envelope of a version this side does not speak is named as such.
    let newer = [&[V + 1, 0, 64][..], &[0u8; 64][..]].concat();
    assert_eq!(
        Signed::from_bytes(&newer),
        Err(WireError::Version { theirs: V + 1 })
    );
}

#[test]
fn signed_call_truncated_anywhere_or_extended_is_refused() {
    let bytes = Signed::sign(domain::CALL, &call(), &key()).to_bytes();
    truncations_and_trailing_bytes_fail::<Signed>(&bytes);
    let signed = Signed::from_bytes(&bytes).expect("decodes");
    assert_eq!(
        signed.open::<Call>(domain::CALL, &key().verifying_key()),
        Ok(call())
    );
    for other in [domain::HOP, domain::REPLY, domain::REGISTER] {
        assert_eq!(
            signed.verify(other, &key().verifying_key()),
            Err(WireError::BadSignature)
        );
    }
}

// ---- calls ----

#[test]
fn call_truncated_anywhere_or_extended_is_refused() {
    truncations_and_trailing_bytes_fail::<Call>(&wire::encode(&call()));
}

#[test]
fn call_with_huge_argument_length_is_malformed() {
    let good = wire::encode(&call());
    // The args are last: a 2-byte varint (16) and 16 bytes. Replace them with a huge prefix.
    let args_len = wire::encode(&call().args).len();
    let head = &good[..good.len() - args_len];
    for prefix in [&HUGE_LEN[..], &HUGEST_LEN[..]] {
        malformed(decode_exact::<Call>(&[head, prefix].concat()));
    }
}

#[test]
fn call_with_bad_bool_enum_or_utf8_is_malformed() {
    let good = wire::encode(&call());
    // Offsets: capability (32), then the caller's length.
    let caller_at = 32;
    let mut bad_utf8 = good.clone();
    bad_utf8[caller_at + 1] = 0xff;
    malformed(decode_exact::<Call>(&bad_utf8));

    // encoding and want_reply follow the caller, the callee and the target (its
    // variant's tag, then three strings).
    let strings: usize = ["bob", "alice", "demo", "demo::math", "add"]
        .iter()
        .map(|s| 1 + s.len())
        .sum();
    let encoding_at = caller_at + strings + 1;
    let mut bad_enum = good.clone();
    bad_enum[encoding_at] = 7;
    malformed(decode_exact::<Call>(&bad_enum));
    let mut bad_bool = good.clone();
    bad_bool[encoding_at + 1] = 2;
    malformed(decode_exact::<Call>(&bad_bool));
}

#[test]
fn call_bounds_refuse_paths_and_lifetimes() {
    let bad = [
        Call {
            target: function("../etc", "demo::math", "add"),
            ..call()
        },
        Call {
            target: function("demo", "demo/../x", "add"),
            ..call()
        },
        Call {
            target: function("demo", "demo::math", "add\u{202e}"),
            ..call()
        },
        Call {
            expires_at_ms: 999,
            ..call()
        },
        Call {
            expires_at_ms: 1_000 + wire::MAX_LIFETIME_MS + 1,
            ..call()
        },
        Call {
            issued_at_ms: u64::MAX - 1,
            expires_at_ms: 0,
            ..call()
        },
        Call {
            args: vec![0; wire::MAX_ARGS_BYTES + 1],
            ..call()
        },
    ];
    for call in bad {
        let decoded = decode_exact::<Call>(&wire::encode(&call)).expect("well-formed");
        assert!(
            matches!(decoded.check_bounds(), Err(WireError::OutOfBounds(_))),
            "{:?} passed the bounds",
            decoded.path()
        );
    }
    assert_eq!(call().check_bounds(), Ok(()));
    assert_eq!(call().path(), "demo/demo::math/add");
}

// ---- replies ----

#[test]
fn reply_and_outcome_with_unknown_tags_or_huge_lists_are_malformed() {
    malformed(decode_exact::<Outcome>(&[2]));
    // The first refusal tag past the last variant (23, `BilletExpired`, since wire
    // version 4; it was 19, `ServerFailed`, in version 3).
    malformed(decode_exact::<Outcome>(&[1, 24]));
    malformed(decode_exact::<Refusal>(&[0xff, 0xff, 0xff, 0xff, 0x0f]));
    // WrongMission { granted } with 2³²−1 missions announced.
    malformed(decode_exact::<Refusal>(&[&[1][..], &HUGE_LEN[..]].concat()));
    malformed(decode_exact::<Outcome>(
        &[&[0][..], &HUGEST_LEN[..]].concat(),
    ));

    let reply = Reply {
        callee: "alice".into(),
        caller: "bob".into(),
        ack: [1; 16],
        call_hash: [2; 32],
        outcome: Outcome::Refused(Refusal::ClockSkew { skew_ms: i64::MIN }),
    };
    truncations_and_trailing_bytes_fail::<Reply>(&wire::encode(&reply));
}

// ---- registration ----

#[test]
fn registration_truncated_or_with_a_huge_email_is_refused() {
    let register = Register {
        name: "alice".into(),
        email: "alice@example.org".into(),
        node_key: key().verifying_key().to_bytes(),
        issued_at_ms: 1_000,
    };
    let bytes = wire::encode(&register);
    truncations_and_trailing_bytes_fail::<Register>(&bytes);
    let name = wire::encode(&register.name);
    malformed(decode_exact::<Register>(
        &[&name[..], &HUGE_LEN[..]].concat(),
    ));
    // A small-order (weak) key is refused even though it decodes.
    assert_eq!(wire::verifying_key(&[0; 32]), Err(WireError::BadKey));
}

// ---- ping and directory ----

#[test]
fn ping_and_directory_with_huge_counts_or_bad_option_tags_are_malformed() {
    malformed(decode_exact::<Ping>(&HUGE_LEN));
    // No offers, then 2⁶⁴−1 accepted keys.
    malformed(decode_exact::<Ping>(&[&[0][..], &HUGEST_LEN[..]].concat()));
    malformed(decode_exact::<Directory>(&HUGEST_LEN));
    // PingReply { version: 1, update: { listed: [], unlisted: <2⁶⁴−1 names> } }.
    malformed(decode_exact::<PingReply>(
        &[&[1, 0][..], &HUGEST_LEN[..]].concat(),
    ));
    assert_eq!(
        decode_exact::<PingReply>(&[1, 0, 0]),
        Ok(PingReply {
            version: 1,
            update: Default::default(),
        })
    );
    // Non-minimal varint for the version: 1 written as 0x81 0x00.
    assert!(decode_exact::<PingReply>(&[0x81, 0x00, 0, 0]).is_err());
}

// ---- mailbox traffic ----

#[test]
fn batches_with_huge_counts_overflowing_varints_or_bad_tags_are_malformed() {
    malformed(decode_exact::<TxBatch>(&HUGE_LEN));
    malformed(decode_exact::<TxBatch>(&HUGEST_LEN));
    malformed(decode_exact::<TxReply>(&HUGE_LEN));
    // TxReply with one status of an unknown kind.
    malformed(decode_exact::<TxReply>(&[1, 4]));
    malformed(decode_exact::<RxBatch>(&[&[5][..], &HUGE_LEN[..]].concat()));
    // wait_ms is a u32: a five-byte varint above 2³²−1 does not fit.
    malformed(decode_exact::<RxPoll>(&[
        0, 0, 0xff, 0xff, 0xff, 0xff, 0x1f,
    ]));
    // Delivered { seq: 1, from: <option tag 2> }.
    malformed(decode_exact::<Delivered>(&[1, 2]));
    // A hop for an unknown route.
    malformed(decode_exact::<Hop>(&[1, b'a', 4]));

    let poll = RxPoll {
        epoch: u64::MAX,
        ack_seq: u64::MAX,
        wait_ms: u32::MAX,
        known_version: 0,
    };
    truncations_and_trailing_bytes_fail::<RxPoll>(&wire::encode(&poll));
}

// ---- arguments of exported functions ----

#[test]
fn deeply_nested_json_arguments_are_refused_not_a_stack_overflow() {
    let depth = 100_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let result = decode_args::<(Vec<serde_json::Value>,)>(Encoding::Json, nested.as_bytes());
    let Err(wtd::registry::ApplyError::BadArguments(message)) = result else {
        panic!("deeply nested JSON was not refused: {result:?}");
    };
    assert!(message.contains("recursion"), "{message}");
}

#[test]
fn postcard_arguments_with_huge_lengths_or_trailing_bytes_are_refused() {
    for bytes in [&HUGE_LEN[..], &HUGEST_LEN[..]] {
        assert!(decode_args::<(Vec<u64>,)>(Encoding::Postcard, bytes).is_err());
        assert!(decode_args::<(String,)>(Encoding::Postcard, bytes).is_err());
    }
    let mut bytes = wire::encode(&(2i64, 3i64));
    bytes.push(0);
    assert!(decode_args::<(i64, i64)>(Encoding::Postcard, &bytes).is_err());
}

// ---- key files ----

fn write_private(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
}

fn load_key_file(bytes: &[u8]) -> wtd::Result<KeyFile> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("input.wtdkey");
    write_private(&path, bytes);
    KeyFile::load(&path)
}

fn good_key_file() -> String {
    format!(
        "grantee = \"bob\"\nnode = \"alice\"\nnode_public_key = \"{}\"\nproxy = \"http://127.0.0.1:14151\"\nmissions = [\"demo\"]\nsecret_key = \"{}\"\n",
        hex::encode(key().verifying_key().to_bytes()),
        hex::encode([9u8; 32]),
    )
}

#[test]
fn key_files_that_are_binary_nested_truncated_or_weak_are_refused() {
    assert!(load_key_file(good_key_file().as_bytes()).is_ok());

    let not_utf8 = load_key_file(&[0xff, 0xfe, b'a']).expect_err("refused");
    assert!(not_utf8.to_string().contains("text"), "{not_utf8}");

    let depth = 50_000;
    let nested = format!("a = {}{}\n", "[".repeat(depth), "]".repeat(depth));
    let err = load_key_file(nested.as_bytes()).expect_err("refused");
    assert!(
        err.to_string().contains("not a valid WTD key file"),
        "{err}"
    );
    let tables = format!("a = {}1{}\n", "{ b = ".repeat(depth), " }".repeat(depth));
    assert!(load_key_file(tables.as_bytes()).is_err());

    let text = good_key_file();
    for end in [0, 1, text.len() / 2, text.len() - 2] {
        assert!(
            load_key_file(&text.as_bytes()[..end]).is_err(),
            "cut at {end}"
        );
    }
    // A weak (small-order) node key, and a secret of the wrong length.
    let weak = text.replace(
        &hex::encode(key().verifying_key().to_bytes()),
        &hex::encode([0u8; 32]),
    );
    assert!(load_key_file(weak.as_bytes()).is_err());
    let short = text.replace(&hex::encode([9u8; 32]), &hex::encode([9u8; 31]));
    assert!(load_key_file(short.as_bytes()).is_err());
}

#[test]
fn node_key_files_that_are_not_64_hex_digits_are_refused() {
    for bytes in [
        &b""[..],
        &[0xff; 64][..],
        &b"zz"[..],
        &[b'a'; 63][..],
        &[b'a'; 65][..],
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        write_private(&dir.path().join("node.key"), bytes);
        let err = wtd::keys::load_or_create_node_key(dir.path()).expect_err("refused");
        assert!(err.to_string().contains("damaged"), "{err}");
    }
}

// ---- grants files ----

fn table_with(bytes: &[u8]) -> (tempfile::TempDir, GrantTable) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("grants.toml");
    std::fs::write(&path, bytes).expect("write");
    let table = GrantTable::open(path);
    (dir, table)
}

fn grant(public_key: &str, rate: &str, expires: &str, revoked: bool) -> String {
    format!(
        "[[grant]]\ngrantee = \"bob\"\npublic_key = \"{public_key}\"\nmissions = [\"demo\"]\nrate = \"{rate}\"\n{expires}revoked = {revoked}\n"
    )
}

#[test]
fn grants_files_that_are_binary_nested_or_out_of_range_refuse_everyone() {
    let bob = hex::encode(key().verifying_key().to_bytes());
    let bob_key = key().verifying_key().to_bytes();
    let (_dir, table) = table_with(grant(&bob, "10/s", "", false).as_bytes());
    assert_eq!(table.check(&bob_key, "demo"), Decision::Allow);

    let depth = 50_000;
    let bad_files = [
        vec![0xff, 0xfe, 0x00],
        format!("a = {}{}\n", "[".repeat(depth), "]".repeat(depth)).into_bytes(),
        format!(
            "{}a = {}1{}\n",
            grant(&bob, "10/s", "", false),
            "{ b = ".repeat(depth),
            " }".repeat(depth)
        )
        .into_bytes(),
        grant(&bob, "4294967296/s", "", false).into_bytes(),
        grant(&bob, "0/s", "", false).into_bytes(),
        grant(&bob, "10/fortnight", "", false).into_bytes(),
        grant(&bob, "10/s", "expires = \"99999-01-01T00:00:00Z\"\n", false).into_bytes(),
        grant(&bob, "10/s", "expires = \"2026-02-30T00:00:00Z\"\n", false).into_bytes(),
        grant(&hex::encode([0u8; 32]), "10/s", "", false).into_bytes(),
        // Cut in the middle of a grant: `revoked` is missing.
        grant(&bob, "10/s", "", false)
            .replace("revoked = false\n", "")
            .into_bytes(),
    ];
    for bytes in bad_files {
        let (_dir, table) = table_with(&bytes);
        assert_eq!(
            table.check(&bob_key, "demo"),
            Decision::Denied,
            "{:?} let bob in",
            String::from_utf8_lossy(&bytes[..bytes.len().min(120)])
        );
        assert!(table.accepted_keys().is_empty());
    }
}

/// Found while writing the grants target: when one key appeared in two grants, the last
/// one won, so a revoked grant followed by an unrevoked copy of the same key let the key
/// in. Now a revocation in either grant wins, whatever the order.
#[test]
fn a_key_granted_twice_stays_revoked_if_either_grant_is_revoked() {
    let bob = hex::encode(key().verifying_key().to_bytes());
    for (first, second) in [(true, false), (false, true)] {
        let file = format!(
            "{}\n{}",
            grant(&bob, "10/s", "", first),
            grant(&bob, "10/s", "", second)
        );
        let (_dir, table) = table_with(file.as_bytes());
        assert_eq!(
            table.check(&key().verifying_key().to_bytes(), "demo"),
            Decision::Revoked,
            "revoked first: {first}"
        );
    }
}
