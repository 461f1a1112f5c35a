//! Canonical encoding: for every wire type (first byte picks it), bytes that decode
//! re-encode to exactly themselves, and every value postcard can read has a canonical
//! encoding that decodes back to it (see `wtd_fuzz::check_exact`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wtd::wire::{
    Call, Delivered, Directory, DirectoryEntry, Encoding, Hop, Kind, Offer, Outcome, Outgoing,
    Ping, PingReply, Refusal, Register, Reply, Route, RxBatch, RxPoll, Signed, TxBatch, TxReply,
    TxStatus,
};
use wtd_fuzz::check_exact;
use wtd_proxy::store::NodeRecord;

fuzz_target!(init: wtd_fuzz::write_seeds("roundtrip"), |data: &[u8]| {
    let Some((&which, data)) = data.split_first() else { return };
    match which % 24 {
        0 => drop(check_exact::<Call>(data)),
        1 => drop(check_exact::<Reply>(data)),
        2 => drop(check_exact::<Register>(data)),
        3 => drop(check_exact::<Ping>(data)),
        4 => drop(check_exact::<PingReply>(data)),
        5 => drop(check_exact::<Directory>(data)),
        6 => drop(check_exact::<TxBatch>(data)),
        7 => drop(check_exact::<TxReply>(data)),
        8 => drop(check_exact::<RxPoll>(data)),
        9 => drop(check_exact::<RxBatch>(data)),
        10 => drop(check_exact::<Delivered>(data)),
        11 => drop(check_exact::<Signed>(data)),
        12 => drop(check_exact::<Hop>(data)),
        13 => drop(check_exact::<Outcome>(data)),
        14 => drop(check_exact::<Refusal>(data)),
        15 => drop(check_exact::<Offer>(data)),
        16 => drop(check_exact::<DirectoryEntry>(data)),
        17 => drop(check_exact::<Outgoing>(data)),
        18 => drop(check_exact::<NodeRecord>(data)),
        19 => drop(check_exact::<Encoding>(data)),
        20 => drop(check_exact::<Kind>(data)),
        21 => drop(check_exact::<Route>(data)),
        22 => drop(check_exact::<TxStatus>(data)),
        _ => drop(check_exact::<()>(data)),
    }
});
