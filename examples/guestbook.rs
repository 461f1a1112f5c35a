//! Your own gen_server (docs/TUTORIAL.md, section 4): a guestbook that holders of
//! mission `guests` may sign and read, served by the node a home was registered as.
//!
//! Run it with `cargo run --example guestbook -- ~/wtd/alice`.

use serde::{Deserialize, Serialize};
use wtd::gen_server::{self, GenServer, Next, ReplyTo, ServerProcess};
use wtd::prelude::*;

/// The server's state. Only the server's process touches it, one message at a time,
/// so it needs no lock; other nodes never see it, only the answers.
#[derive(Default)]
pub struct Guestbook {
    guests: u64,
    last: Option<String>,
}

/// What a visitor may ask: every message the server takes, and nothing else.
#[derive(Serialize, Deserialize)]
pub enum Visit {
    /// Writes a name in the book.
    Sign(String),
    /// Who signed last?
    Last,
}

/// Exposed to holders of mission `guests`, as `guests/guestbook@NAME`.
#[wtd_behaviour(guests, name = "guestbook")]
impl GenServer for Guestbook {
    type Call = Visit;
    type Reply = String;
    type Cast = ();
    type Info = ();

    async fn handle_call(
        &mut self,
        visit: Visit,
        from: ReplyTo<String>,
        _: &ServerProcess<Self>,
    ) -> Next {
        let answer = match visit {
            Visit::Sign(name) => {
                self.guests += 1;
                let answer = format!("welcome, {name}: you are guest {}", self.guests);
                self.last = Some(name);
                answer
            }
            Visit::Last => self.last.clone().unwrap_or_else(|| "nobody yet".into()),
        };
        from.reply(answer);
        Next::Continue
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The home `wtd init` and `wtd register` made: its node key, name and proxy.
    let home = std::env::args().nth(1).unwrap_or_else(|| "wtd-home".into());
    let node = Node::start(NodeConfig::registered(home)?.serve(&["guests"])).await?;
    // Other nodes reach a server only by a name in the node's table: here, `book`.
    gen_server::start_named(node.processes(), "book", Guestbook::default()).await?;
    println!("serving the guestbook as {} (Ctrl-C stops)", node.name());
    tokio::signal::ctrl_c().await.ok();
    node.stop().await;
    Ok(())
}
