//! A call's arguments, as an exported function decodes them (`registry::decode_args`),
//! for a few typical argument tuples, in postcard and JSON. The first byte picks the
//! type and the encoding.
//!
//! A recursive type is among them: decoding counts the nesting and refuses it past 128
//! levels (`wtd::nesting`), so no input may overflow the stack.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use wtd::registry::decode_args;
use wtd::wire::Encoding;

fn decode<A: DeserializeOwned>(json: bool, bytes: &[u8]) {
    let encoding = if json {
        Encoding::Json
    } else {
        Encoding::Postcard
    };
    let _ = decode_args::<A>(encoding, bytes);
}

fuzz_target!(init: wtd_fuzz::write_seeds("args"), |data: &[u8]| {
    let Some((&which, data)) = data.split_first() else { return };
    let json = which & 1 == 1;
    match (which >> 1) % 6 {
        0 => decode::<(i64, i64)>(json, data),
        1 => decode::<(String, Vec<u8>, Option<u32>)>(json, data),
        2 => decode::<(Vec<(String, f64)>, BTreeMap<String, Vec<i32>>)>(json, data),
        3 => decode::<()>(json, data),
        4 => decode::<(Tree,)>(json, data),
        _ => decode::<(serde_json_value::Value,)>(json, data),
    }
});

/// A recursive argument type, as a beginner's calculator or tree would take.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
enum Tree {
    Leaf(i64),
    Node(Box<Tree>, Box<Tree>),
    Maybe(Option<Box<Tree>>),
    Many(Vec<Tree>),
    Named { name: String, child: Box<Tree> },
}

mod serde_json_value {
    //! An arbitrary JSON-like value, without recursion (a flat list of scalars).
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    pub enum Value {
        Null,
        Bool(bool),
        Number(f64),
        Text(String),
        List(Vec<Option<String>>),
    }
}
