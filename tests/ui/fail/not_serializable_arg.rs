use wtd::prelude::*;

pub struct Point {
    pub x: i64,
    pub y: i64,
}

#[wtd_export(demo)]
pub fn norm(point: Point) -> i64 {
    point.x.abs() + point.y.abs()
}

fn main() {}
