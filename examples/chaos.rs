//! Chaos: the processes `scripts/chaos.sh` kills and restarts at random while they work.
//! The callee serves mission `chaos`, whose one function writes each call's id to a
//! ledger, so that a side effect that ran twice shows as an id written twice; each caller
//! process is one node whose call loops log every call's id, outcome and duration, line
//! by line, so that what a SIGKILLed caller did up to its death is kept. By hand, with a
//! proxy at URL:
//!
//! ```text
//! cargo run --release --example chaos -- --role callee --proxy URL --dir /tmp/chaos
//! cargo run --release --example chaos -- --role caller --proxy URL --dir /tmp/chaos \
//!     --name chaos-caller-0 --until-ms $(( $(date +%s%3N) + 60000 ))
//! cargo run --release --example chaos -- --role check --proxy URL --dir /tmp/chaos
//! ```
//!
//! The callee mints one key per caller into DIR/keys the first time only, then writes
//! DIR/keys/READY: started again on the same home, it keeps the grants it has.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use wtd::prelude::*;
use wtd::wire::now_ms;

/// The owner's email every node registers with: the `wtd-proxy` binary asks for one.
const EMAIL: &str = "chaos@example.org";

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, value_enum)]
    role: Role,
    /// The proxy's URL.
    #[arg(long)]
    proxy: String,
    /// Folder shared by every role: homes, keys, the ledger and the call logs.
    #[arg(long)]
    dir: PathBuf,
    /// How many callers the callee mints keys for (names chaos-caller-0, -1, …).
    #[arg(long, default_value_t = 3)]
    callers: usize,
    /// This caller's name (role caller).
    #[arg(long, default_value = "chaos-caller-0")]
    name: String,
    /// Concurrent call loops in this caller.
    #[arg(long, default_value_t = 4)]
    tasks: usize,
    /// When this caller stops calling, in ms since the Unix epoch.
    #[arg(long, default_value_t = 0)]
    until_ms: u64,
    /// Each call's timeout, in ms.
    #[arg(long, default_value_t = 3000)]
    timeout_ms: u64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Role {
    Callee,
    Caller,
    Check,
}

pub mod ledger {
    use std::fs::File;
    use std::io::Write;
    use std::sync::Mutex;

    use wtd::prelude::*;

    /// The callee's ledger, opened for appending when it starts.
    pub static LEDGER: Mutex<Option<File>> = Mutex::new(None);

    /// The side effect: writes `id` to the ledger, one line in one `write` on a file
    /// opened for appending, so a SIGKILL cannot leave half a line or lose a line already
    /// written (it is in the kernel's page cache). Returns `id`.
    #[wtd_export(chaos)]
    pub fn record(id: String) -> String {
        let mut ledger = LEDGER.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(file) = ledger.as_mut() {
            file.write_all(format!("{id}\n").as_bytes())
                .expect("the ledger cannot be written");
        }
        id
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    wtd::logging::init("warn");
    let args = Args::parse();
    let result = match args.role {
        Role::Callee => callee(&args).await,
        Role::Caller => caller(&args).await,
        Role::Check => check(&args).await,
    };
    match result {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

fn caller_names(args: &Args) -> Vec<String> {
    (0..args.callers)
        .map(|i| format!("chaos-caller-{i}"))
        .collect()
}

fn append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Starts a node, trying again for up to a minute: a process restarted while the proxy
/// is down or stopped waits for it rather than giving up.
async fn start(config: NodeConfig) -> Result<Node, wtd::Error> {
    let since = Instant::now();
    loop {
        match Node::start(config.clone()).await {
            Ok(node) => return Ok(node),
            Err(e) if since.elapsed() < Duration::from_secs(60) => {
                eprintln!("start failed, trying again: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn callee(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    *ledger::LEDGER.lock().unwrap_or_else(|p| p.into_inner()) =
        Some(append(&args.dir.join("ledger.txt"))?);
    let home = args.dir.join("chaos-callee");
    let node = start(
        NodeConfig::new("chaos-callee", &args.proxy, home)
            .email(EMAIL)
            .serve(&["chaos"]),
    )
    .await?;
    let keys = args.dir.join("keys");
    if !keys.join("READY").exists() {
        std::fs::create_dir_all(&keys)?;
        for name in caller_names(args) {
            let path = keys.join(format!("{name}.wtdkey"));
            node.grant(&name)
                .mission("chaos")
                .rate("1000000/s")?
                .mint_to(&path)?;
        }
        std::fs::write(keys.join("READY"), b"")?;
    }
    println!("callee ready");
    // scripts/chaos.sh stops it with SIGINT at the end, or SIGKILLs it on purpose.
    let _ = tokio::time::timeout(Duration::from_secs(3600), tokio::signal::ctrl_c()).await;
    node.stop().await;
    Ok(true)
}

async fn caller(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let home = args.dir.join(&args.name);
    let node = start(
        NodeConfig::new(&args.name, &args.proxy, home)
            .email(EMAIL)
            .serve_nothing(),
    )
    .await?;
    let key = KeyFile::load(&args.dir.join("keys").join(format!("{}.wtdkey", args.name)))?;
    let timeout = Duration::from_millis(args.timeout_ms);
    let peer = node.peer(&key)?.with_timeout(timeout);
    // One log per process: a restarted caller does not write into its dead self's log.
    let pid = std::process::id();
    let path = args
        .dir
        .join("calls")
        .join(format!("{}.{pid}.log", args.name));
    std::fs::create_dir_all(path.parent().expect("a folder"))?;
    let log = Arc::new(Mutex::new(append(&path)?));
    let mut tasks = Vec::new();
    for t in 0..args.tasks {
        let (peer, log, until) = (peer.clone(), log.clone(), args.until_ms);
        let prefix = format!("{}.{pid}.{t}", args.name);
        tasks.push(tokio::spawn(async move {
            let mut seq = 0u64;
            while now_ms() < until {
                seq += 1;
                let id = format!("{prefix}.{seq}");
                let started = now_ms();
                let outcome = match ledger::record::call(&peer, id.clone()).await {
                    Ok(back) if back == id => "ok",
                    Ok(_) => "WrongResult",
                    Err(e) => e.kind(),
                };
                // start_ms end_ms outcome id, written whole in one `write`.
                let line = format!("{started} {} {outcome} {id}\n", now_ms());
                {
                    let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                    log.write_all(line.as_bytes())
                        .expect("the call log cannot be written");
                }
                if outcome != "ok" {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    node.stop().await;
    Ok(true)
}

/// Every name is still registered to its key: starting a node of that name with a new
/// key must be refused by the proxy (409).
async fn check(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let mut kept = true;
    let names = std::iter::once("chaos-callee".to_string()).chain(caller_names(args));
    for name in names {
        let home = args.dir.join("check").join(&name);
        match Node::start(
            NodeConfig::new(&name, &args.proxy, home)
                .email(EMAIL)
                .serve_nothing(),
        )
        .await
        {
            Err(wtd::Error::Proxy { status: 409, .. }) => println!("registration {name}: kept"),
            Err(e) => {
                println!("registration {name}: UNKNOWN (not refused as taken: {e})");
                kept = false;
            }
            Ok(node) => {
                println!("registration {name}: LOST (a new key took the name)");
                node.stop().await;
                kept = false;
            }
        }
    }
    Ok(kept)
}
