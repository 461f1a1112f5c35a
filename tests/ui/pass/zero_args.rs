//! A function without arguments takes the empty tuple on the wire.

use wtd::prelude::*;
use wtd::wire::Encoding;

mod status {
    use super::*;

    #[wtd_export(demo)]
    pub fn ping() {}

    #[wtd_export(demo)]
    pub fn answer() -> i32 {
        42
    }
}

async fn _call(peer: &Peer) -> Result<(), Error> {
    status::ping::call(peer).await
}
async fn _answer(peer: &Peer) -> Result<i32, Error> {
    status::answer::call(peer).await
}

#[tokio::main]
async fn main() {
    let Some(answer) = wtd::registry::lookup("demo", "status", "answer") else {
        panic!("status::answer is not registered");
    };
    assert_eq!(answer.arity, 0);
    assert_eq!(
        (answer.apply)(Encoding::Json, b"[]".to_vec()).await,
        Ok(b"42".to_vec())
    );
    let Some(ping) = wtd::registry::lookup("demo", "status", "ping") else {
        panic!("status::ping is not registered");
    };
    assert_eq!(
        (ping.apply)(Encoding::Json, b"[]".to_vec()).await,
        Ok(b"null".to_vec())
    );
}
