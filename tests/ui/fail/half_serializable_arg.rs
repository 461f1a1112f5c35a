use serde::Serialize;
use wtd::prelude::*;

// Serialize alone is not enough: the other node must also decode it.
#[derive(Serialize)]
pub struct Point {
    pub x: i64,
    pub y: i64,
}

#[wtd_export(demo)]
pub fn norm(points: Vec<Point>) -> i64 {
    points.iter().map(|p| p.x.abs() + p.y.abs()).sum()
}

fn main() {}
