//! A plain function: it stays callable locally, gets typed stubs, and a node finds it
//! by mission, module and name.

use wtd::prelude::*;
use wtd::wire::Encoding;

mod math {
    use super::*;

    #[wtd_export(demo)]
    pub fn add(a: i64, b: i64) -> i64 {
        a + b
    }
}

// The stubs' exact signatures.
async fn _call(peer: &Peer) -> Result<i64, Error> {
    math::add::call(peer, 2, 3).await
}
async fn _cast(peer: &Peer) -> Result<(), Error> {
    math::add::cast(peer, 2, 3).await
}

#[tokio::main]
async fn main() {
    assert_eq!(math::add(2, 3), 5);

    let path = math::add::PATH;
    assert_eq!(
        (path.mission, path.module(), path.name),
        ("demo", "math", "add")
    );

    let Some(add) = wtd::registry::lookup("demo", "math", "add") else {
        panic!("math::add is not registered");
    };
    assert_eq!(add.arity, 2);
    assert_eq!(
        (add.apply)(Encoding::Json, b"[2, 3]".to_vec()).await,
        Ok(b"5".to_vec())
    );

    let offers = wtd::registry::offers();
    assert!(
        offers
            .iter()
            .any(|offer| offer.mission == "demo" && offer.functions == ["math/add"]),
        "{offers:?}"
    );
}
