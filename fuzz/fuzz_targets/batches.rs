//! Mailbox traffic: `TxBatch`/`TxReply` (`/tx`), `RxPoll`/`RxBatch`/`Delivered` (`/rx`),
//! the hop that carries them, and the envelopes inside, opened as a node opens them.
//! The first byte picks the type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wtd::wire::{
    self, Call, Delivered, Hop, Kind, Outgoing, Reply, RxBatch, RxPoll, Signed, TxBatch, TxReply,
};
use wtd_fuzz::check_exact;

fn open_envelope(kind: Kind, bytes: &[u8]) {
    let Ok(signed) = Signed::from_bytes(bytes) else {
        return;
    };
    match kind {
        Kind::Call => {
            if let Ok(call) = signed.peek::<Call>() {
                let _ = call.check_bounds();
            }
        }
        Kind::Reply => {
            let _ = signed.peek::<Reply>();
        }
    }
}

fuzz_target!(init: wtd_fuzz::write_seeds("batches"), |data: &[u8]| {
    let Some((&which, data)) = data.split_first() else { return };
    match which % 8 {
        0 => {
            if let Some(batch) = check_exact::<TxBatch>(data) {
                for e in batch.envelopes.iter().take(wire::MAX_BATCH_LEN) {
                    let _ = wire::check_name("node", &e.to);
                    open_envelope(e.kind, &e.bytes);
                }
            }
        }
        1 => {
            let _ = check_exact::<TxReply>(data);
        }
        2 => {
            let _ = check_exact::<RxPoll>(data);
        }
        3 => {
            if let Some(batch) = check_exact::<RxBatch>(data) {
                for m in &batch.messages {
                    open_envelope(m.kind, &m.bytes);
                }
            }
        }
        4 => {
            if let Some(m) = check_exact::<Delivered>(data) {
                open_envelope(m.kind, &m.bytes);
            }
        }
        5 => {
            if let Ok(hop) = Signed::from_bytes(data).and_then(|s| s.peek::<Hop>()) {
                let _ = check_exact::<TxBatch>(&hop.body);
                let _ = check_exact::<RxPoll>(&hop.body);
            }
        }
        6 => {
            let _ = check_exact::<Hop>(data);
        }
        _ => {
            let _ = check_exact::<Outgoing>(data);
        }
    }
});
