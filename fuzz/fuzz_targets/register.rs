//! A registration: `Register` bytes, the signed envelope the proxy receives, and the
//! proxy's on-disk record of a registered node (`NodeRecord`, read back from redb).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wtd::wire::{self, Register, Signed};
use wtd_fuzz::check_exact;
use wtd_proxy::store::NodeRecord;

fuzz_target!(init: wtd_fuzz::write_seeds("register"), |data: &[u8]| {
    if let Some(register) = check_exact::<Register>(data) {
        let _ = wire::check_name("node", &register.name);
        let _ = wire::verifying_key(&register.node_key);
    }
    if let Ok(signed) = Signed::from_bytes(data)
        && let Ok(register) = signed.peek::<Register>()
        && let Ok(key) = wire::verifying_key(&register.node_key)
    {
        let _ = signed.verify(wire::domain::REGISTER, &key);
    }
    let _ = check_exact::<NodeRecord>(data);
});
