//! A signed envelope as it arrives from the network: `Signed::from_bytes`, then
//! `verify`/`open` under every domain with a fixed key, as the proxy and nodes do.
#![no_main]

use std::sync::OnceLock;

use ed25519_dalek::VerifyingKey;
use libfuzzer_sys::fuzz_target;
use wtd::wire::{Call, Hop, Register, Reply, Signed, domain};
use wtd_fuzz::{alice, check_exact};

const DOMAINS: [&[u8]; 4] = [domain::HOP, domain::CALL, domain::REPLY, domain::REGISTER];

fn key() -> &'static VerifyingKey {
    static KEY: OnceLock<VerifyingKey> = OnceLock::new();
    KEY.get_or_init(|| alice().verifying_key())
}

fuzz_target!(init: wtd_fuzz::write_seeds("signed"), |data: &[u8]| {
    let parsed = Signed::from_bytes(data);
    // Whatever `from_bytes` accepts is canonical, with a 64-byte signature.
    let loose = check_exact::<Signed>(data);
    let Ok(signed) = parsed else { return };
    assert_eq!(Some(&signed), loose.as_ref());
    assert_eq!(signed.signature.len(), 64);
    assert_eq!(signed.to_bytes(), data);
    assert_eq!(signed.envelope_hash(), Signed::from_bytes(data).map(|s| s.envelope_hash()).unwrap_or_default());

    let mut verified = 0;
    for d in DOMAINS {
        if signed.verify(d, key()).is_ok() {
            verified += 1;
        }
    }
    // A signature is good for one purpose only.
    assert!(verified <= 1, "one signature verified under {verified} domains");

    // Decode the body as each message type, the way each receiver would.
    let _ = signed.peek::<Call>().map(|c| (c.check_bounds(), c.path()));
    let _ = signed.peek::<Reply>();
    let _ = signed.peek::<Hop>();
    let _ = signed.peek::<Register>();
    if let Ok(call) = signed.open::<Call>(domain::CALL, key()) {
        let _ = call.check_bounds();
    }
    let _ = signed.open::<Reply>(domain::REPLY, key());
    let _ = signed.open::<Hop>(domain::HOP, key());
    let _ = signed.open::<Register>(domain::REGISTER, key());
});
