use wtd::prelude::*;

#[wtd_export(demo)]
pub fn greet(name: &str) -> String {
    format!("hello {name}")
}

fn main() {}
