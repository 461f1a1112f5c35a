//! A call's bytes: `decode_exact::<Call>`, then `check_bounds` and `path`, as the callee
//! and the proxy's `/apply` do.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wtd::wire::{self, Call, Target};
use wtd_fuzz::check_exact;

fuzz_target!(init: wtd_fuzz::write_seeds("call"), |data: &[u8]| {
    let Some(call) = check_exact::<Call>(data) else { return };
    let path = call.path();
    if call.check_bounds().is_ok() {
        // What the bounds promise everything downstream (file names, logs, terminals).
        assert!(call.args.len() <= wire::MAX_ARGS_BYTES);
        assert!(call.expires_at_ms >= call.issued_at_ms);
        assert!(call.expires_at_ms - call.issued_at_ms <= wire::MAX_LIFETIME_MS);
        // mission/module/function; mission/behaviour@instance, billet/N and watch/N.
        let parts = match call.target {
            Target::Function { .. } => 3,
            Target::Behaviour { .. } | Target::Billet { .. } | Target::Watch { .. } => 2,
        };
        assert_eq!(path.split('/').count(), parts, "path {path:?}");
        assert!(!path.split('/').any(|part| part.is_empty() || part == ".."), "path {path:?}");
        assert!(path.len() <= 64 + 128 + 64 + 2);
        assert!(path.bytes().all(|b| b.is_ascii_graphic()), "path {path:?}");
        for name in [call.caller.as_str(), call.callee.as_str(), call.mission()] {
            assert!(!name.contains(['/', '.', '\\']), "name {name:?}");
        }
    }
});
