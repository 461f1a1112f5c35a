//! A standalone node: serves mission `demo`, can mint a key file for a friend, and can
//! call another node with a key file it was given.
//!
//! Three terminals on one machine (or three machines that reach the proxy):
//!
//! ```text
//! cargo run -p wtd-proxy -- --listen 127.0.0.1:14151 --data /tmp/wtd-proxy
//! cargo run --example node -- --name alice --proxy http://127.0.0.1:14151 --home /tmp/alice --grant bob --out /tmp/bob.wtdkey
//! cargo run --example node -- --name bob --proxy http://127.0.0.1:14151 --home /tmp/bob --call /tmp/bob.wtdkey
//! ```

use std::path::PathBuf;

use clap::Parser;
use wtd::prelude::*;
// The functions of mission `demo` live in this crate; naming it keeps the linker from
// dropping their registrations.
use wtd_examples::demo;

/// Run a WTD node that serves mission `demo`.
#[derive(Parser, Debug)]
struct Args {
    /// This node's name: 1-64 characters of a-z, 0-9, _ and -.
    #[arg(long)]
    name: String,
    /// The proxy's URL.
    #[arg(long, default_value = "http://127.0.0.1:14151")]
    proxy: String,
    /// Folder for this node's key and grants (default: $WTD_HOME, then ~/.wtd).
    #[arg(long)]
    home: Option<PathBuf>,
    /// Contact address recorded by the proxy.
    #[arg(long, default_value = "")]
    email: String,
    /// Mint a key for GRANTEE (mission `demo`) and write it to --out.
    #[arg(long, value_name = "GRANTEE", requires = "out")]
    grant: Option<String>,
    /// Where to write the key file minted with --grant.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Rate limit of the minted key, e.g. 10/s or 100/h.
    #[arg(long, default_value = "10/s")]
    rate: String,
    /// Instead of serving: call the node this key file is for, print the results, exit.
    #[arg(long, value_name = "KEY_FILE", conflicts_with = "grant")]
    call: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Errors are printed as the sentences they are, not as debug structures.
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    wtd::logging::init("info");
    let args = Args::parse();
    let home = args.home.clone().unwrap_or_else(wtd::home::default_home);
    let config = NodeConfig::new(&args.name, &args.proxy, home).email(&args.email);

    if let Some(key_path) = &args.call {
        // A caller: serves nothing, uses the key file it was handed.
        let node = Node::start(config.serve_nothing()).await?;
        let peer = node.peer(&KeyFile::load(key_path)?)?;
        println!(
            "demo::add(2, 3)   = {}",
            demo::add::call(&peer, 2, 3).await?
        );
        println!(
            "demo::echo(hello) = {}",
            demo::echo::call(&peer, "hello".into()).await?
        );
        println!("demo::incr()      = {}", demo::incr::call(&peer).await?);
        println!("demo::count()     = {}", demo::count::call(&peer).await?);
        node.stop().await;
        return Ok(());
    }

    let node = Node::start(config.serve(&["demo"])).await?;
    if let (Some(grantee), Some(out)) = (&args.grant, &args.out) {
        let key = node
            .grant(grantee)
            .mission("demo")
            .rate(&args.rate)?
            .mint()?;
        key.save(out)?;
        println!(
            "Wrote a key for `{grantee}` (mission demo, {}) to {}: hand it over privately.",
            args.rate,
            out.display()
        );
    }
    println!(
        "Node `{}` serves mission demo. Press Ctrl-C to stop.",
        node.name()
    );
    tokio::signal::ctrl_c().await?;
    node.stop().await;
    Ok(())
}
