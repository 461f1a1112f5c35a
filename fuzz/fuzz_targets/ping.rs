//! Presence: `Ping` (node to proxy), `PingReply` and `Directory` (proxy to node).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wtd::wire::{self, Directory, Ping, PingReply};
use wtd_fuzz::check_exact;

fuzz_target!(init: wtd_fuzz::write_seeds("ping"), |data: &[u8]| {
    if let Some(ping) = check_exact::<Ping>(data) {
        // The proxy's checks of a ping's offers.
        for offer in &ping.offers {
            let _ = wire::check_name("mission", &offer.mission);
            for function in &offer.functions {
                let (module, name) = function.rsplit_once('/').unwrap_or(("", function));
                let _ = wire::check_module(module).and_then(|_| wire::check_function(name));
            }
        }
    }
    if let Some(reply) = check_exact::<PingReply>(data) {
        for node in &reply.update.listed {
            let _ = wire::verifying_key(&node.node_key);
        }
    }
    let _ = check_exact::<Directory>(data);
});
