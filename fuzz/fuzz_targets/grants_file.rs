//! The grants file, as read from disk by `GrantTable` (there is no in-memory parser:
//! the input is written to `grants.toml` in a scratch folder), and grant rates.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wtd::grants::{Decision, GrantTable, Rate};
use wtd::keys;

fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| wtd_fuzz::scratch_dir("grants").join("grants.toml"))
}

fuzz_target!(init: wtd_fuzz::write_seeds("grants_file"), |data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for line in text.lines().take(4) {
        if let Ok(rate) = line.parse::<Rate>() {
            assert!(rate.count > 0);
            let shown = rate.to_string();
            assert_eq!(shown.parse::<Rate>().ok(), Some(rate), "rate {shown:?} does not read back");
        }
    }

    std::fs::write(path(), data).unwrap_or_else(|e| panic!("cannot write the grants file: {e}"));
    let table = GrantTable::open(path());
    let listed = table.list();
    let accepted = table.accepted_keys();
    let Ok(grants) = listed else {
        assert!(accepted.is_empty(), "a file that does not parse accepted keys");
        return;
    };
    // Every key in force comes from a grant in the file that is not revoked.
    for key in &accepted {
        let hex_key = hex::encode(key);
        assert!(
            grants.iter().any(|g| !g.revoked && g.public_key.trim().eq_ignore_ascii_case(&hex_key)),
            "key {hex_key} is in force but no unrevoked grant in the file names it"
        );
    }
    for grant in &grants {
        let Ok(key) = keys::parse_hex32("public_key", &grant.public_key) else { continue };
        let mut missions: Vec<&str> = grant.missions.iter().map(String::as_str).collect();
        missions.push("not-granted-mission");
        for mission in missions {
            if table.check(&key, mission) == Decision::Allow {
                assert!(accepted.contains(&key), "an allowed key is not listed as accepted");
                assert!(
                    grants.iter().any(|g| g.public_key == grant.public_key
                        && !g.revoked
                        && g.missions.iter().any(|m| m == mission)),
                    "mission {mission:?} allowed without an unrevoked grant for it"
                );
            }
        }
        let _ = table.replay_share(&key, 1 << 20);
        let _ = table.spend(&key);
        let _ = table.grantee_of(&key);
        let _ = table.verifying_key(&key);
    }
});
