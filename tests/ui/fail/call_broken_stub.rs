// Calling the stub of a function whose argument cannot travel: the error is the same
// sentence, at the call.
use wtd::prelude::*;

pub struct Point {
    pub x: i64,
}

#[wtd_export(demo)]
pub fn norm(point: Point) -> i64 {
    point.x.abs()
}

async fn _use(peer: &Peer) -> Result<i64, Error> {
    norm::call(peer, Point { x: 1 }).await
}

fn main() {}
