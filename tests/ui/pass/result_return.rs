//! A function may fail: its own `Result` travels back inside the call's `Result`.

use wtd::prelude::*;
use wtd::wire::Encoding;

mod math {
    use super::*;

    #[wtd_export(demo)]
    pub fn divide(a: i64, b: i64) -> Result<i64, String> {
        if b == 0 {
            return Err("division by zero".to_string());
        }
        Ok(a / b)
    }
}

async fn _call(peer: &Peer) -> Result<Result<i64, String>, Error> {
    math::divide::call(peer, 6, 3).await
}

#[tokio::main]
async fn main() {
    let Some(divide) = wtd::registry::lookup("demo", "math", "divide") else {
        panic!("math::divide is not registered");
    };
    let ok = (divide.apply)(Encoding::Json, b"[6, 3]".to_vec()).await;
    assert_eq!(ok, Ok(br#"{"Ok":2}"#.to_vec()));
    let err = (divide.apply)(Encoding::Json, b"[6, 0]".to_vec()).await;
    assert_eq!(err, Ok(br#"{"Err":"division by zero"}"#.to_vec()));
}
