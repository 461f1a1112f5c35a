//! Your own mission (docs/TUTORIAL.md, section 3): two functions of mission `garden`,
//! served by the node a home was registered as.
//!
//! Run it with `cargo run --example garden -- ~/wtd/alice`.

use wtd::prelude::*;

pub mod garden {
    use wtd::prelude::*;

    /// Moisture of the soil, read from the sensor on my Pi.
    #[wtd_export(garden)]
    pub fn moisture() -> u32 {
        42
    }

    /// Waters the plants for `seconds`.
    #[wtd_export(garden)]
    pub async fn water(seconds: u32) -> String {
        format!("watered for {seconds} s")
    }
}

#[tokio::main]
async fn main() -> Result<(), wtd::Error> {
    // The home `wtd init` and `wtd register` made: its node key, name and proxy.
    let home = std::env::args().nth(1).unwrap_or_else(|| "wtd-home".into());
    let node = Node::start(NodeConfig::registered(home)?.serve(&["garden"])).await?;
    println!("serving mission garden as {} (Ctrl-C stops)", node.name());
    tokio::signal::ctrl_c().await.ok();
    node.stop().await;
    Ok(())
}
