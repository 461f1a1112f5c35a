//! Property tests of the wire format: every message round-trips, and no single-byte
//! change to a signed call survives verification.

use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use wtd::wire::{self, Call, Encoding, Signed, Target, domain};

fn name() -> impl Strategy<Value = String> {
    "[a-z0-9_-]{1,64}"
}

prop_compose! {
    fn any_call()(
        caller in name(),
        callee in name(),
        mission in name(),
        module in "[a-z_][a-z0-9_]{0,20}(::[a-z_][a-z0-9_]{0,20}){0,2}",
        function in "[a-zA-Z_][a-zA-Z0-9_]{0,40}",
        json in any::<bool>(),
        want_reply in any::<bool>(),
        ack in any::<[u8; 16]>(),
        issued_at_ms in 0u64..(u64::MAX / 2),
        lifetime in 0u64..=wire::MAX_LIFETIME_MS,
        args in proptest::collection::vec(any::<u8>(), 0..512),
    ) -> Call {
        Call {
            capability: key().verifying_key().to_bytes(),
            caller, callee,
            target: Target::Function { mission, module, function },
            encoding: if json { Encoding::Json } else { Encoding::Postcard },
            want_reply, ack, issued_at_ms,
            expires_at_ms: issued_at_ms + lifetime,
            args,
        }
    }
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_call_round_trips_and_is_in_bounds(call in any_call()) {
        prop_assert!(call.check_bounds().is_ok());
        let bytes = wire::encode(&call);
        prop_assert_eq!(wire::decode_exact::<Call>(&bytes), Ok(call));
    }

    #[test]
    fn a_signed_call_opens_with_its_key(call in any_call()) {
        let signed = Signed::sign(domain::CALL, &call, &key());
        let envelope = Signed::from_bytes(&signed.to_bytes()).expect("decodes");
        prop_assert_eq!(envelope.open::<Call>(domain::CALL, &key().verifying_key()), Ok(call));
    }

    #[test]
    fn no_single_byte_change_survives(call in any_call(), at in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let bytes = Signed::sign(domain::CALL, &call, &key()).to_bytes();
        let mut changed = bytes.clone();
        let i = at.index(changed.len());
        changed[i] ^= flip;
        let opened = Signed::from_bytes(&changed)
            .and_then(|s| s.open::<Call>(domain::CALL, &key().verifying_key()));
        prop_assert!(opened.is_err(), "byte {} xor {:#x} was accepted", i, flip);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let _ = Signed::from_bytes(&bytes);
        let _ = wire::decode_exact::<Call>(&bytes);
        let _ = wire::decode_exact::<wire::Hop>(&bytes);
        let _ = wire::decode_exact::<wire::TxBatch>(&bytes);
        let _ = wire::decode_exact::<wire::RxBatch>(&bytes);
        let _ = wire::decode_exact::<wire::Register>(&bytes);
        let _ = wire::decode_exact::<wire::Ping>(&bytes);
        let _ = wire::decode_exact::<wire::Reply>(&bytes);
    }
}
