use wtd::prelude::*;

pub struct Point {
    pub x: i64,
    pub y: i64,
}

#[wtd_export(demo)]
pub fn origin() -> Point {
    Point { x: 0, y: 0 }
}

fn main() {}
