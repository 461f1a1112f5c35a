use wtd::prelude::*;

#[wtd_export(demo)]
pub fn fill(bytes: &[u8], into: &mut Vec<u8>, label: Option<&String>) -> &'static str {
    into.extend_from_slice(bytes);
    let _ = label;
    "ok"
}

fn main() {}
