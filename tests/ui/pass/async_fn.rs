//! An `async fn` is exported like a plain one; the node runs it as a task.

use wtd::prelude::*;
use wtd::wire::Encoding;

mod clock {
    use super::*;

    #[wtd_export(demo)]
    pub async fn later(ms: u64) -> u64 {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        ms * 2
    }
}

async fn _call(peer: &Peer) -> Result<u64, Error> {
    clock::later::call(peer, 1).await
}

#[tokio::main]
async fn main() {
    assert_eq!(clock::later(1).await, 2);
    let Some(later) = wtd::registry::lookup("demo", "clock", "later") else {
        panic!("clock::later is not registered");
    };
    assert_eq!(
        (later.apply)(Encoding::Json, b"[5]".to_vec()).await,
        Ok(b"10".to_vec())
    );
}
