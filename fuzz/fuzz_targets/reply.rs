//! A reply's bytes: `Reply`, and an `Outcome` on its own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wtd::wire::{Outcome, Refusal, Reply};
use wtd_fuzz::check_exact;

fuzz_target!(init: wtd_fuzz::write_seeds("reply"), |data: &[u8]| {
    if let Some(reply) = check_exact::<Reply>(data) {
        // What the caller does with a refusal: show it.
        let _ = format!("{:?}", reply.outcome);
    }
    let _ = check_exact::<Outcome>(data);
    let _ = check_exact::<Refusal>(data);
});
