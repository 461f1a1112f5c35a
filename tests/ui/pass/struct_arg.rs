//! Your own types travel when they derive `Serialize` and `Deserialize`.

use serde::{Deserialize, Serialize};
use wtd::prelude::*;
use wtd::wire::Encoding;

mod shapes {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Point {
        pub x: i64,
        pub y: i64,
    }

    #[wtd_export(demo)]
    pub fn mirror(point: Point, points: Vec<Point>) -> Option<Point> {
        points.into_iter().next().map(|p| Point {
            x: point.x - p.x,
            y: point.y - p.y,
        })
    }
}

async fn _call(peer: &Peer, p: shapes::Point) -> Result<Option<shapes::Point>, Error> {
    shapes::mirror::call(peer, p.clone(), vec![p]).await
}

#[tokio::main]
async fn main() {
    let Some(mirror) = wtd::registry::lookup("demo", "shapes", "mirror") else {
        panic!("shapes::mirror is not registered");
    };
    let args = br#"[{"x": 3, "y": 4}, [{"x": 1, "y": 1}]]"#.to_vec();
    let result = (mirror.apply)(Encoding::Json, args).await;
    assert_eq!(result, Ok(br#"{"x":2,"y":3}"#.to_vec()));
}
