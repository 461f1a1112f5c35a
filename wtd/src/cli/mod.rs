//! The `wtd` command: a node's home folder, its grants and keys, the directory, and calls
//! from the command line.
//!
//! Calls from the command line go through the proxy's `/apply` route, signed with a key
//! file held in the home folder: no node needs to run on this machine to call another.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand};
use serde::{Deserialize, Serialize};

use crate::audit::AuditLog;
use crate::call::{CallSpec, open_reply, sign_call};
use crate::error::{Error, Result};
use crate::grants::{GrantTable, Issuer};
use crate::keys::{self, KeyFile};
use crate::transport::{self, Transport, TransportError};
use crate::wire::{Encoding, JsonDirectory};
use crate::{home, wire};

const EXIT_CODES: &str = "Exit codes:
  0  success
  1  any other failure (files, proxy errors, a name already taken, ...)
  2  usage: wrong or missing arguments (a bad name, URL, rate, key, ...)
  3  denied: no key for that node, no grant, wrong mission, revoked or expired key
  4  rate-limited or busy: try again later
  5  timeout: no answer in time (the call may or may not have run)
  6  node down: the node you called is not connected
  7  bad arguments: unknown function, or arguments that do not fit it";

/// WTD: call functions on your friends' machines, with keys they can revoke.
#[derive(Parser, Debug)]
#[command(version, after_help = EXIT_CODES)]
pub struct Cli {
    /// The node's home folder [default: $WTD_HOME, then ~/.wtd].
    #[arg(long, global = true)]
    home: Option<PathBuf>,
    /// Print machine-readable JSON instead of text for people.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a node home: node key and an empty grants file. Prints the node's public key.
    Init,
    /// Register this node's name with a proxy (and remember the proxy for later commands).
    Register {
        /// The proxy, e.g. http://127.0.0.1:14151.
        #[arg(long)]
        proxy: String,
        /// The node's name: 1-64 characters of a-z, 0-9, _ and -.
        #[arg(long)]
        name: String,
        /// Your contact address, shown to the proxy's operator.
        #[arg(long, default_value = "")]
        email: String,
    },
    /// Grant keys to others, list grants, revoke them.
    #[command(subcommand)]
    Grant(GrantCommand),
    /// Keys this node holds for calling others.
    #[command(subcommand)]
    Key(KeyCommand),
    /// The directory: nodes online, their missions and functions, which of my keys each accepts.
    Nodes {
        /// The proxy [default: the one recorded by `wtd register`].
        #[arg(long)]
        proxy: Option<String>,
    },
    /// Call a function on another node with JSON arguments; prints the JSON result.
    Call {
        /// The node to call.
        node: String,
        /// mission/module/function, or mission/function where that names one function.
        path: String,
        /// The arguments as a JSON array, e.g. '[2, 3]'.
        #[arg(default_value = "[]")]
        args: String,
        /// How long to wait for the answer, e.g. 5s or 500ms.
        #[arg(long, default_value = "5s")]
        timeout: humantime::Duration,
        /// The proxy [default: the one in the key file].
        #[arg(long)]
        proxy: Option<String>,
    },
    /// The audit log: every call this node received, accepted or refused.
    Log {
        /// Keep printing new entries as they come (Ctrl-C to stop).
        #[arg(long)]
        follow: bool,
    },
}

/// What a grant allows: the same for a minted key and a key the grantee made.
#[derive(clap::Args, Debug)]
struct GrantTerms {
    /// A mission the key may run (repeat for more).
    #[arg(long = "mission", required = true)]
    missions: Vec<String>,
    /// Rate limit, e.g. 10/s, 600/min, 100/h.
    #[arg(long, default_value = "10/s")]
    rate: String,
    /// The key stops working after this long, e.g. 30d or 12h.
    #[arg(long)]
    expires: Option<humantime::Duration>,
}

#[derive(Subcommand, Debug)]
enum GrantCommand {
    /// Mint a key for GRANTEE and write the key file to hand over (privately).
    New {
        /// Who the key is for.
        grantee: String,
        #[command(flatten)]
        terms: GrantTerms,
        /// Where to write the key file [default: GRANTEE-for-NODE.wtdkey].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Grant a public key the grantee made themselves (no private key changes hands).
    Add {
        /// Who the key is for.
        grantee: String,
        /// The grantee's public key, 64 hex digits.
        #[arg(long)]
        public_key: String,
        #[command(flatten)]
        terms: GrantTerms,
    },
    /// List grants: missions, rate, expiry, revoked, last used.
    List,
    /// Revoke every key of GRANTEE; a running node refuses it from the next request on.
    Revoke {
        /// Whose keys to revoke.
        grantee: String,
    },
}

#[derive(Subcommand, Debug)]
enum KeyCommand {
    /// Make a key for calling NODE yourself; prints the public key to send its owner,
    /// who grants it with `wtd grant add`. No private key changes hands.
    New {
        /// The node you want to call (it must be online: its node key is read from the
        /// directory).
        node: String,
        /// The proxy [default: the one recorded by `wtd register`].
        #[arg(long)]
        proxy: Option<String>,
    },
    /// Keep a key file someone gave you, so `wtd call` can use it.
    Add {
        /// The key file.
        file: PathBuf,
    },
    /// The key files this node holds.
    List,
}

/// What `wtd register` remembers in `node.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct NodeConfigFile {
    name: String,
    proxy: String,
    #[serde(default)]
    email: String,
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let home = cli.home.clone().unwrap_or_else(home::default_home);
    match run(&cli, &home) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wtd: {e}");
            ExitCode::from(exit_code(&e))
        }
    }
}

/// The exit code of each failure class (see `wtd --help`).
pub fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Denied { .. }
        | Error::WrongMission { .. }
        | Error::Revoked { .. }
        | Error::Expired { .. }
        | Error::NoKey { .. } => 3,
        Error::RateLimited { .. } | Error::Busy { .. } | Error::Proxy { status: 429, .. } => 4,
        Error::Timeout { .. } | Error::Proxy { status: 504, .. } => 5,
        Error::NodeDown { .. } | Error::Proxy { status: 503, .. } => 6,
        Error::BadArguments { .. } | Error::NoSuchFunction { .. } => 7,
        Error::Invalid(_) => 2,
        _ => 1,
    }
}

fn run(cli: &Cli, home: &Path) -> Result<()> {
    match &cli.command {
        Command::Init => init(cli, home),
        Command::Register { proxy, name, email } => register(cli, home, proxy, name, email),
        Command::Grant(command) => grant(cli, home, command),
        Command::Key(command) => key(cli, home, command),
        Command::Nodes { proxy } => nodes(cli, home, proxy.as_deref()),
        Command::Call {
            node,
            path,
            args,
            timeout,
            proxy,
        } => call(
            cli,
            home,
            node,
            path,
            args,
            (*timeout).into(),
            proxy.as_deref(),
        ),
        Command::Log { follow } => log(cli, home, *follow),
    }
}

fn print_json(value: &impl Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn init(cli: &Cli, home: &Path) -> Result<()> {
    let key = keys::load_or_create_node_key(home)?;
    let grants = home.join("grants.toml");
    if !grants.exists() {
        let text = "# Grants of this WTD node: who may run which missions here.\n";
        home::write_atomic(&grants, text.as_bytes(), true)?;
    }
    let public = hex::encode(key.verifying_key().to_bytes());
    if cli.json {
        print_json(&serde_json::json!({ "home": home, "public_key": public }));
    } else {
        println!("Node home: {}\nNode public key: {public}", home.display());
        let home_flag = match &cli.home {
            Some(dir) => format!(" --home {}", dir.display()),
            None => String::new(),
        };
        println!("Next: wtd{home_flag} register --proxy URL --name NAME --email EMAIL");
    }
    Ok(())
}

fn register(cli: &Cli, home: &Path, proxy: &str, name: &str, email: &str) -> Result<()> {
    wire::check_name("node", name).map_err(|e| Error::Invalid(e.to_string()))?;
    check_proxy(proxy)?;
    let key = keys::load_or_create_node_key(home)?;
    let transport = Transport::new(proxy, name, key);
    match transport.register(email) {
        Ok(()) => {}
        Err(TransportError::Status(409, _)) => {
            return Err(Error::Proxy {
                status: 409,
                message: format!(
                    "the name `{name}` is already registered on this proxy by another node key: pick another --name"
                ),
            });
        }
        Err(TransportError::Status(429, message)) => {
            return Err(Error::Proxy {
                status: 429,
                message,
            });
        }
        Err(e) => return Err(e.into_error(proxy)),
    }
    let config = NodeConfigFile {
        name: name.to_string(),
        proxy: proxy.trim_end_matches('/').to_string(),
        email: email.to_string(),
    };
    let text = toml::to_string(&config).map_err(|e| Error::file(home.join("node.toml"), e))?;
    home::write_atomic(&home.join("node.toml"), text.as_bytes(), false)?;
    if cli.json {
        print_json(&serde_json::json!({ "name": name, "proxy": config.proxy }));
    } else {
        println!("Registered `{name}` with {}.", config.proxy);
    }
    Ok(())
}

fn node_config(home: &Path) -> Result<NodeConfigFile> {
    let path = home.join("node.toml");
    let text = std::fs::read_to_string(&path).map_err(|_| {
        Error::file(
            &path,
            "this node is not registered yet: run `wtd register --proxy URL --name NAME` first",
        )
    })?;
    toml::from_str(&text).map_err(|e| Error::file(&path, format!("not a valid node.toml: {e}")))
}

fn grant(cli: &Cli, home: &Path, command: &GrantCommand) -> Result<()> {
    let table = GrantTable::open(home.join("grants.toml"));
    let issuer = || -> Result<Issuer> {
        let config = node_config(home)?;
        let key = keys::load_or_create_node_key(home)?;
        Ok(Issuer {
            node: config.name,
            node_key: key.verifying_key().to_bytes(),
            proxy: config.proxy,
        })
    };
    let build = |grantee: &str, terms: &GrantTerms| {
        let mut builder = table.grant(grantee, issuer()?).rate(&terms.rate)?;
        for mission in &terms.missions {
            builder = builder.mission(mission);
        }
        if let Some(after) = terms.expires {
            builder = builder.expires_at(SystemTime::now() + Duration::from(after));
        }
        Ok::<_, Error>(builder)
    };
    match command {
        GrantCommand::New {
            grantee,
            terms,
            out,
        } => {
            let builder = build(grantee, terms)?;
            let node = node_config(home)?.name;
            let out = out
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("{grantee}-for-{node}.wtdkey")));
            let key = builder.mint_to(&out)?;
            if cli.json {
                print_json(&serde_json::json!({ "grantee": grantee, "file": out }));
            } else {
                println!(
                    "Wrote {}: it lets `{grantee}` run {} on `{}`. Hand it over privately; they run `wtd key add {}`.",
                    out.display(),
                    terms.missions.join(", "),
                    key.node,
                    out.display()
                );
            }
        }
        GrantCommand::Add {
            grantee,
            public_key,
            terms,
        } => {
            let public = keys::parse_public_key("--public-key", public_key)?.to_bytes();
            build(grantee, terms)?.add_key(public)?;
            if cli.json {
                let key = keys::fingerprint(&public);
                print_json(&serde_json::json!({ "grantee": grantee, "key": key }));
            } else {
                println!(
                    "Granted {} to `{grantee}`'s key {}.",
                    terms.missions.join(", "),
                    keys::fingerprint(&public)
                );
            }
        }
        GrantCommand::List => {
            let audit = AuditLog::new(home).read();
            let grants = table.list()?;
            let rows: Vec<serde_json::Value> = grants
                .iter()
                .map(|g| {
                    let last_used = audit
                        .iter()
                        .rev()
                        .find(|e| g.public_key.starts_with(&e.key) && e.outcome == "ok")
                        .map(|e| e.time.clone());
                    serde_json::json!({
                        "grantee": g.grantee, "key": g.public_key.get(..16).unwrap_or(&g.public_key),
                        "missions": g.missions, "rate": g.rate, "expires": g.expires,
                        "revoked": g.revoked, "last_used": last_used,
                    })
                })
                .collect();
            if cli.json {
                print_json(&rows);
            } else if rows.is_empty() {
                println!("No grants yet: wtd grant new GRANTEE --mission MISSION");
            } else {
                println!(
                    "{:<16} {:<17} {:<20} {:<9} {:<25} {:<8} last used",
                    "grantee", "key", "missions", "rate", "expires", "revoked"
                );
                for r in rows {
                    let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
                    let missions: Vec<String> = r["missions"]
                        .as_array()
                        .map(|a| a.iter().map(text).collect())
                        .unwrap_or_default();
                    println!(
                        "{:<16} {:<17} {:<20} {:<9} {:<25} {:<8} {}",
                        text(&r["grantee"]),
                        text(&r["key"]),
                        missions.join(","),
                        text(&r["rate"]),
                        text(&r["expires"]),
                        r["revoked"],
                        text(&r["last_used"])
                    );
                }
            }
        }
        GrantCommand::Revoke { grantee } => {
            let count = table.revoke(grantee)?;
            if cli.json {
                print_json(&serde_json::json!({ "grantee": grantee, "revoked": count }));
            } else {
                println!(
                    "Revoked {count} key(s) of `{grantee}`: a running node refuses them from the next request on."
                );
            }
        }
    }
    Ok(())
}

fn keys_dir(home: &Path) -> PathBuf {
    home.join("keys")
}

/// The key files held in the home folder.
fn held_keys(home: &Path) -> Vec<(PathBuf, Result<KeyFile>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(keys_dir(home))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "wtdkey"));
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let key = KeyFile::load(&p);
            (p, key)
        })
        .collect()
}

/// Saves `key` as `keys/NODE.wtdkey`; a key already there for that node is kept as
/// `NODE.wtdkey.bak` (a private key must never be lost by a second `key add`).
fn keep_key(home: &Path, key: &KeyFile) -> Result<PathBuf> {
    key.check()?;
    home::ensure_dir(&keys_dir(home))?;
    let dest = keys_dir(home).join(format!("{}.wtdkey", key.node));
    if dest.exists() {
        let backup = dest.with_extension("wtdkey.bak");
        std::fs::rename(&dest, &backup).map_err(|e| {
            Error::file(&dest, format!("cannot keep the old key as a backup ({e})"))
        })?;
        eprintln!(
            "wtd: the key you had for `{}` is kept as {}",
            key.node,
            backup.display()
        );
    }
    key.save(&dest)?;
    Ok(dest)
}

fn key(cli: &Cli, home: &Path, command: &KeyCommand) -> Result<()> {
    match command {
        KeyCommand::Add { file } => {
            let key = KeyFile::load(file)?;
            let dest = keep_key(home, &key)?;
            if cli.json {
                print_json(&serde_json::json!({ "node": key.node, "file": dest }));
            } else {
                println!(
                    "Kept the key for `{}` ({}): `wtd call {} MISSION/FUNCTION '[ARGS]'` uses it.",
                    key.node,
                    key.missions.join(", "),
                    key.node
                );
            }
        }
        KeyCommand::New { node, proxy } => {
            wire::check_name("node", node).map_err(|e| Error::Invalid(e.to_string()))?;
            let proxy = default_proxy(home, proxy.as_deref())?;
            let entry = fetch_directory(&proxy)?
                .nodes
                .into_iter()
                .find(|n| n.name == *node)
                .ok_or_else(|| Error::NodeDown {
                    node: node.to_string(),
                })?;
            keys::parse_public_key("the directory's node key", &entry.node_key)?;
            let secret = keys::generate();
            let public = secret.verifying_key().to_bytes();
            let key = KeyFile {
                grantee: node_config(home)
                    .map(|c| c.name)
                    .unwrap_or_else(|_| "me".into()),
                node: node.to_string(),
                node_public_key: entry.node_key.clone(),
                proxy,
                missions: Vec::new(),
                secret_key: keys::secret_hex(&secret),
            };
            let dest = keep_key(home, &key)?;
            let public = hex::encode(public);
            let node_fingerprint = entry.node_key.get(..16).unwrap_or_default();
            if cli.json {
                print_json(&serde_json::json!({
                    "node": node, "public_key": public, "node_key": entry.node_key, "file": dest,
                }));
            } else {
                println!(
                    "Made a key for calling `{node}`, kept in {}.",
                    dest.display()
                );
                println!(
                    "Send this public key to `{node}`'s owner (it is not secret):\n  {public}"
                );
                println!(
                    "They run: wtd grant add {} --public-key {public} --mission MISSION",
                    key.grantee
                );
                println!(
                    "`{node}`'s node key, as the proxy gave it, starts with {node_fingerprint}: check it with its owner."
                );
            }
        }
        KeyCommand::List => {
            let mut rows = Vec::new();
            for (path, key) in held_keys(home) {
                match key {
                    Ok(k) => rows.push(serde_json::json!({
                        "node": k.node, "missions": k.missions, "proxy": k.proxy,
                        "key": k.signing_key().map(|s| keys::fingerprint(&s.verifying_key().to_bytes())).unwrap_or_default(),
                    })),
                    Err(e) => eprintln!("wtd: skipping {}: {e}", path.display()),
                }
            }
            if cli.json {
                print_json(&rows);
            } else if rows.is_empty() {
                println!(
                    "No keys yet: when a friend gives you a key file, run `wtd key add FILE`."
                );
            } else {
                for r in rows {
                    println!(
                        "{}: missions {} via {} (key {})",
                        r["node"].as_str().unwrap_or(""),
                        r["missions"],
                        r["proxy"].as_str().unwrap_or(""),
                        r["key"].as_str().unwrap_or("")
                    );
                }
            }
        }
    }
    Ok(())
}

fn fetch_directory(proxy: &str) -> Result<JsonDirectory> {
    let url = format!("{}/api/directory", proxy.trim_end_matches('/'));
    let unreachable = |e: &dyn std::fmt::Display| Error::ProxyUnreachable {
        url: proxy.to_string(),
        detail: e.to_string(),
    };
    let mut response = transport::agent()
        .get(&url)
        .config()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .call()
        .map_err(|e| unreachable(&e))?;
    let text = response
        .body_mut()
        .with_config()
        .limit(16 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| unreachable(&e))?;
    serde_json::from_str(&text).map_err(|e| Error::Proxy {
        status: 502,
        message: format!("the directory is not valid JSON: {e}"),
    })
}

fn default_proxy(home: &Path, given: Option<&str>) -> Result<String> {
    match given {
        Some(proxy) => check_proxy(proxy).map(|()| proxy.to_string()),
        None => Ok(node_config(home)?.proxy),
    }
}

fn check_proxy(proxy: &str) -> Result<()> {
    if proxy.starts_with("http://") || proxy.starts_with("https://") {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "the proxy URL {proxy:?} must start with http:// (for example http://127.0.0.1:14151)"
        )))
    }
}

/// Names are shown as inert text: anything but the name alphabet is escaped.
fn inert(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() || "_-/:".contains(c) {
                vec![c]
            } else {
                format!("\\u{{{:x}}}", c as u32).chars().collect()
            }
        })
        .collect()
}

fn nodes(cli: &Cli, home: &Path, proxy: Option<&str>) -> Result<()> {
    let proxy = default_proxy(home, proxy)?;
    let directory = fetch_directory(&proxy)?;
    let mine: Vec<(String, String)> = held_keys(home)
        .into_iter()
        .filter_map(|(_, k)| k.ok())
        .filter_map(|k| {
            Some((
                k.node.clone(),
                hex::encode(k.signing_key().ok()?.verifying_key().to_bytes()),
            ))
        })
        .collect();
    let rows: Vec<serde_json::Value> = directory.nodes.iter().map(|n| {
        let accepts_mine = mine.iter().any(|(node, key)| *node == n.name && n.accepts.contains(key));
        serde_json::json!({
            "name": n.name,
            "missions": n.missions.iter().map(|m| serde_json::json!({"mission": m.mission, "functions": m.functions})).collect::<Vec<_>>(),
            "accepts_my_key": accepts_mine,
        })
    }).collect();
    if cli.json {
        print_json(&rows);
        return Ok(());
    }
    if directory.nodes.is_empty() {
        println!("No node is online at {proxy}.");
    }
    for n in &directory.nodes {
        let accepts_mine = mine
            .iter()
            .any(|(node, key)| *node == n.name && n.accepts.contains(key));
        let key_note = if accepts_mine {
            "accepts your key"
        } else {
            "no key of yours"
        };
        println!("{} ({key_note})", inert(&n.name));
        for m in &n.missions {
            let functions: Vec<String> = m.functions.iter().map(|f| inert(f)).collect();
            println!("  {}: {}", inert(&m.mission), functions.join(", "));
        }
    }
    Ok(())
}

/// `mission/module/function`, or `mission/function` resolved through the directory.
fn resolve_path(proxy: &str, node: &str, path: &str) -> Result<(String, String, String)> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        [mission, module, function] => Ok((
            mission.to_string(),
            module.to_string(),
            function.to_string(),
        )),
        [mission, function] => {
            let directory = fetch_directory(proxy)?;
            let offered = directory
                .nodes
                .iter()
                .find(|n| n.name == node)
                .ok_or_else(|| Error::NodeDown {
                    node: node.to_string(),
                })?;
            let matches: Vec<&String> = offered
                .missions
                .iter()
                .filter(|m| m.mission == *mission)
                .flat_map(|m| m.functions.iter())
                .filter(|f| f.rsplit('/').next() == Some(*function))
                .collect();
            match matches.as_slice() {
                [one] => {
                    let (module, function) = one.rsplit_once('/').unwrap_or(("", one));
                    Ok((
                        mission.to_string(),
                        module.to_string(),
                        function.to_string(),
                    ))
                }
                [] => Err(Error::NoSuchFunction {
                    node: node.to_string(),
                    path: path.to_string(),
                }),
                many => Err(Error::Invalid(format!(
                    "`{path}` names several functions on `{node}` ({}): write mission/module/function",
                    many.iter()
                        .map(|f| f.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            }
        }
        _ => Err(Error::Invalid(format!(
            "{path:?} is not a function path: write mission/function or mission/module/function, e.g. demo/add"
        ))),
    }
}

fn call(
    cli: &Cli,
    home: &Path,
    node: &str,
    path: &str,
    args: &str,
    timeout: Duration,
    proxy: Option<&str>,
) -> Result<()> {
    wire::check_name("node", node).map_err(|e| Error::Invalid(e.to_string()))?;
    let parsed =
        serde_json::from_str::<serde_json::Value>(args).map_err(|e| Error::BadArguments {
            node: node.to_string(),
            detail: format!(
                "they are not valid JSON ({e}): write them as a JSON array, e.g. '[2, 3]'"
            ),
        })?;
    if !parsed.is_array() {
        return Err(Error::BadArguments {
            node: node.to_string(),
            detail: "they must be a JSON array, one element per argument, e.g. '[2, 3]' or '[]'"
                .into(),
        });
    }
    let key = held_keys(home)
        .into_iter()
        .filter_map(|(_, k)| k.ok())
        .find(|k| k.node == node)
        .ok_or_else(|| Error::NoKey {
            node: node.to_string(),
        })?;
    let proxy = match proxy {
        Some(proxy) => check_proxy(proxy).map(|()| proxy.to_string())?,
        None => key.proxy.clone(),
    };
    if timeout > Duration::from_millis(wire::MAX_LIFETIME_MS) {
        return Err(Error::Invalid(format!(
            "--timeout can be at most {} s (a call lives at most that long)",
            wire::MAX_LIFETIME_MS / 1000
        )));
    }
    let (mission, module, function) = resolve_path(&proxy, node, path)?;
    let caller = node_config(home)
        .map(|c| c.name)
        .unwrap_or_else(|_| "cli".to_string());
    let spec = CallSpec {
        mission: &mission,
        module: &module,
        function: &function,
        encoding: Encoding::Json,
        args: args.as_bytes().to_vec(),
        want_reply: true,
    };
    let signed = sign_call(&key.signing_key()?, &caller, node, timeout, spec)?;
    let reply = match transport::apply(&proxy, &signed, timeout + Duration::from_secs(2)) {
        Ok(reply) => reply,
        Err(Error::Proxy { status: 503, .. }) => {
            return Err(Error::NodeDown {
                node: node.to_string(),
            });
        }
        Err(Error::Proxy { status: 504, .. }) => {
            return Err(Error::Timeout {
                node: node.to_string(),
                after: timeout,
            });
        }
        Err(e) => return Err(e),
    };
    let result = open_reply(node, &key.node_key()?, &signed, &reply)?;
    let value: serde_json::Value =
        serde_json::from_slice(&result).map_err(|e| Error::BadReply {
            node: node.to_string(),
            detail: e.to_string(),
        })?;
    if cli.json {
        print_json(&value);
    } else {
        println!("{value}");
    }
    Ok(())
}

fn log(cli: &Cli, home: &Path, follow: bool) -> Result<()> {
    let audit = AuditLog::new(home);
    let print = |entries: &[crate::audit::AuditEntry]| {
        let mut out = std::io::stdout().lock();
        for e in entries {
            let line = if cli.json {
                serde_json::to_string(e).unwrap_or_default()
            } else {
                format!(
                    "{}  {:<10} {:<12} {:<28} {:<14} {} ms",
                    e.time,
                    e.grantee
                        .as_deref()
                        .map(inert)
                        .unwrap_or_else(|| "(no grant)".into()),
                    inert(&e.caller),
                    inert(&e.path),
                    match e.skipped {
                        Some(n) => format!(
                            "{} ({n} refusals over {}/s)",
                            e.outcome,
                            crate::audit::REFUSALS_PER_SECOND
                        ),
                        None => e.outcome.clone(),
                    },
                    e.millis
                )
            };
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    };
    if !home.join("node.key").exists() {
        return Err(Error::file(
            home,
            "there is no node home here: run `wtd init` (or pass the right --home)",
        ));
    }
    let mut cursor = audit.end();
    let seen = audit.read();
    if seen.is_empty() && !follow && !cli.json {
        println!("No calls yet ({}).", audit.path().display());
    }
    print(&seen);
    if !follow {
        return Ok(());
    }
    loop {
        std::thread::sleep(Duration::from_millis(500));
        // Reads only what was appended, and finishes the old file after a rotation.
        print(&audit.read_since(&mut cursor));
    }
}
