use wtd::prelude::*;

#[wtd_export(demo)]
pub struct Point {
    pub x: i64,
    pub y: i64,
}

fn main() {}
