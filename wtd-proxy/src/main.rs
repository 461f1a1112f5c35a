//! The `wtd-proxy` binary: `wtd-proxy --listen 127.0.0.1:14151 --data DIR`, and
//! `wtd-proxy registrations list|approve|reject|remove` and `wtd-proxy release NAME --data DIR`
//! for the operator.

use std::path::PathBuf;

const HELP: &str = "\
The WTD relay and directory: nodes register here, find each other, and exchange signed
calls through it. It cannot forge, alter or replay a call a node accepts.

Usage: wtd-proxy [--listen ADDRESS] [--data FOLDER] [--store redis://HOST:PORT/DB]
                 [--expire-names-after DAYS] [--approve]
                 [--dashboard ADDRESS | --no-dashboard] [--operator ADDRESS] [LIMITS]
       wtd-proxy registrations list|approve NAME|reject NAME|remove NAME [--data FOLDER]
       wtd-proxy release NAME [--data FOLDER | --store redis://HOST:PORT/DB]

Every node must give its owner's email when it registers; only the operator sees it.
The page at http://ADDRESS/ shows the nodes and their traffic live (read-only, no email).

Commands:
  registrations list           every registration: status, email, key, registered, last seen
  registrations approve NAME   let a pending node use this proxy (with --approve)
  registrations reject NAME    refuse it; it is told so, and keeps the name until removed
  registrations remove NAME    forget it: the name is free again
                    These ask the running proxy that uses FOLDER, on its loopback operator
                    address, with the token it wrote to FOLDER/operator.json.
  release NAME      free the node name NAME, whoever registered it, so that another key may
                    take it. Run it while the proxy using FOLDER is stopped (with --store,
                    while the proxies run).

Options:
  --listen ADDRESS  address to listen on [default: 127.0.0.1:14151]
  --data FOLDER     folder for the node registry, created if missing [default: wtd-proxy-data]
  --store redis://HOST:PORT/DB
                    keep the nodes' state on this Redis instead, shared by every proxy given
                    the same one: they serve one cluster together. Turn Redis's append-only
                    file on (appendonly yes), or a Redis restart loses the registrations.
                    FOLDER then holds only the operator's token [default: none, in FOLDER]
  --expire-names-after DAYS
                    a name whose node has been offline this many days is free again
                    [default: 90]
  --approve         a new node waits until the operator approves it (`registrations approve`)
  --dashboard ADDRESS
                    serve the page on this address instead of the relay's
  --no-dashboard    serve no page (`/api/directory` stays)
  --operator ADDRESS
                    loopback address for the operator's commands [default: 127.0.0.1:0, any
                    free port; the commands find it in FOLDER/operator.json]

Limits:
  --new-nodes-per-minute N
                    new node names that may register per minute, all addresses together
                    [default: 6000]
  --new-nodes-per-minute-per-client N
                    new node names one client address may register per minute
                    [default: 60]
  --max-connections N
                    connections held at once (lowered to fit the open-file limit)
                    [default: 4096]

  -h, --help        print this help
  -V, --version     print the version
";

/// What the command line asked for. A few flags do not need an argument-parsing crate,
/// and the proxy stays small on a Pi.
#[derive(Debug)]
struct Args {
    listen: String,
    data: PathBuf,
    expire_days: u64,
    /// `release NAME`: free a name instead of serving.
    release: Option<String>,
    /// `--approve`.
    approve: bool,
    /// `--no-dashboard`.
    no_dashboard: bool,
    /// `--dashboard ADDRESS`.
    dashboard: Option<String>,
    /// `--operator ADDRESS`.
    operator: String,
    /// `registrations WHAT [NAME]`.
    registrations: Option<(String, Option<String>)>,
    /// `--new-nodes-per-minute`, if given.
    new_nodes_per_minute: Option<u32>,
    /// `--new-nodes-per-minute-per-client`, if given.
    new_nodes_per_minute_per_client: Option<u32>,
    /// `--max-connections`, if given.
    max_connections: Option<u32>,
    /// `--store URL`, if given.
    store: Option<String>,
}

/// A whole number above 0 for `flag`, or what to print.
fn positive(flag: &str, value: &str) -> Result<u32, (String, u8)> {
    match value.parse() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err((
            format!("wtd-proxy: {flag} takes a whole number above 0, not {value:?}"),
            2,
        )),
    }
}

/// Reads the flags; `Err` is what to print and the exit code.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, (String, u8)> {
    let mut parsed = Args {
        listen: "127.0.0.1:14151".into(),
        data: PathBuf::from("wtd-proxy-data"),
        expire_days: 90,
        release: None,
        approve: false,
        no_dashboard: false,
        dashboard: None,
        operator: "127.0.0.1:0".into(),
        registrations: None,
        new_nodes_per_minute: None,
        new_nodes_per_minute_per_client: None,
        max_connections: None,
        store: None,
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg, None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| (format!("wtd-proxy: {name} needs a value\n\n{HELP}"), 2))
        };
        match flag.as_str() {
            "--listen" => parsed.listen = value("--listen")?,
            "--data" => parsed.data = PathBuf::from(value("--data")?),
            "--store" => {
                let url = value("--store")?;
                if !url.starts_with("redis://") {
                    return Err((
                        format!(
                            "wtd-proxy: --store takes a Redis URL such as redis://127.0.0.1:6379/0, not {url:?}"
                        ),
                        2,
                    ));
                }
                parsed.store = Some(url);
            }
            "--expire-names-after" => {
                let days = value("--expire-names-after")?;
                parsed.expire_days = match days.parse() {
                    Ok(days) if days > 0 => days,
                    _ => {
                        return Err((
                            format!(
                                "wtd-proxy: --expire-names-after takes a whole number of days above 0, not {days:?}"
                            ),
                            2,
                        ));
                    }
                };
            }
            "--new-nodes-per-minute" => {
                let n = value("--new-nodes-per-minute")?;
                parsed.new_nodes_per_minute = Some(positive("--new-nodes-per-minute", &n)?);
            }
            "--new-nodes-per-minute-per-client" => {
                let flag = "--new-nodes-per-minute-per-client";
                parsed.new_nodes_per_minute_per_client = Some(positive(flag, &value(flag)?)?);
            }
            "--max-connections" => {
                let n = value("--max-connections")?;
                parsed.max_connections = Some(positive("--max-connections", &n)?);
            }
            "release" if parsed.release.is_none() => {
                parsed.release = Some(args.next().ok_or_else(|| {
                    (
                        format!("wtd-proxy: release needs the NAME to free\n\n{HELP}"),
                        2,
                    )
                })?);
            }
            "--approve" => parsed.approve = true,
            "--no-dashboard" => parsed.no_dashboard = true,
            "--dashboard" => parsed.dashboard = Some(value("--dashboard")?),
            "--operator" => parsed.operator = value("--operator")?,
            "registrations" if parsed.registrations.is_none() => {
                let what = args.next().unwrap_or_default();
                let name = match what.as_str() {
                    "list" => None,
                    "approve" | "reject" | "remove" => Some(args.next().ok_or_else(|| {
                        (format!("wtd-proxy: registrations {what} needs the NAME"), 2)
                    })?),
                    _ => {
                        return Err((
                            format!(
                                "wtd-proxy: registrations takes list, approve NAME, reject NAME or remove NAME, not {what:?}\n\n{HELP}"
                            ),
                            2,
                        ));
                    }
                };
                parsed.registrations = Some((what, name));
            }
            "-h" | "--help" => return Err((HELP.to_string(), 0)),
            "-V" | "--version" => {
                return Err((format!("wtd-proxy {}", env!("CARGO_PKG_VERSION")), 0));
            }
            other => {
                return Err((
                    format!("wtd-proxy: unknown argument {other:?}\n\n{HELP}"),
                    2,
                ));
            }
        }
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Log lines go to stderr, in colour only for a person at a terminal: a log file or
    // the journal gets plain text, and NO_COLOR (no-color.org) turns colours off.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err((text, 0)) => {
            println!("{text}");
            return std::process::ExitCode::SUCCESS;
        }
        Err((text, code)) => {
            eprintln!("{text}");
            return std::process::ExitCode::from(code);
        }
    };
    if let Some((what, name)) = &args.registrations {
        return registrations(&args.data, what, name.as_deref());
    }
    let mut config = wtd_proxy::Config::new(&args.data);
    config.name_expiry = std::time::Duration::from_secs(args.expire_days * 24 * 60 * 60);
    // Strangers' nodes register here: their operator must be able to reach them.
    config.require_email = true;
    config.approve = args.approve;
    config.dashboard = !args.no_dashboard && args.dashboard.is_none();
    if let Some(n) = args.new_nodes_per_minute {
        config.new_nodes_per_minute = n;
    }
    if let Some(n) = args.new_nodes_per_minute_per_client {
        config.new_nodes_per_minute_per_client = n;
    }
    if let Some(n) = args.max_connections {
        config.max_connections = n as usize;
    }
    config.store = args.store.clone();
    if let Some(name) = &args.release {
        return match wtd_proxy::release(&config, name).await {
            Ok(true) => {
                println!("released `{name}`: another key may register it now");
                std::process::ExitCode::SUCCESS
            }
            Ok(false) => {
                let place = args
                    .store
                    .clone()
                    .unwrap_or_else(|| args.data.display().to_string());
                eprintln!("wtd-proxy: `{name}` is not registered in {place}");
                std::process::ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("wtd-proxy: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "wtd-proxy: cannot listen on {}: {e} (is another proxy running there?)",
                args.listen
            );
            return std::process::ExitCode::from(2);
        }
    };
    let dashboard = match &args.dashboard {
        Some(address) if !args.no_dashboard => match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => Some(listener),
            Err(e) => {
                eprintln!("wtd-proxy: cannot serve the dashboard on {address}: {e}");
                return std::process::ExitCode::from(2);
            }
        },
        _ => None,
    };
    let operator = match args.operator.parse::<std::net::SocketAddr>() {
        Ok(address) if address.ip().is_loopback() => {
            match tokio::net::TcpListener::bind(address).await {
                Ok(listener) => listener,
                Err(e) => {
                    eprintln!("wtd-proxy: cannot listen for the operator on {address}: {e}");
                    return std::process::ExitCode::from(2);
                }
            }
        }
        _ => {
            eprintln!(
                "wtd-proxy: --operator takes a loopback address such as 127.0.0.1:14152, not {:?}: \
                 the operator's commands are for this machine only",
                args.operator
            );
            return std::process::ExitCode::from(2);
        }
    };
    // The addresses bound, so `--listen 127.0.0.1:0` says which port it got.
    let bound = |l: &tokio::net::TcpListener, asked: &str| {
        l.local_addr().map_or(asked.to_string(), |a| a.to_string())
    };
    let relay = bound(&listener, &args.listen);
    tracing::info!("wtd-proxy listening on http://{relay}");
    match (&dashboard, args.no_dashboard) {
        (_, true) => tracing::info!("no dashboard (--no-dashboard)"),
        (Some(page), _) => tracing::info!("the dashboard is at http://{}/", bound(page, "")),
        (None, _) => tracing::info!("the dashboard is at http://{relay}/"),
    }
    if args.approve {
        tracing::info!(
            "new nodes wait for approval: `wtd-proxy registrations list --data {}`",
            args.data.display()
        );
    }
    // Stop cleanly on Ctrl-C, and on SIGTERM (what systemd and `kill` send).
    let shutdown = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("stopping");
    };
    match wtd_proxy::run_with(listener, dashboard, Some(operator), config, shutdown).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wtd-proxy: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `wtd-proxy registrations …`: asks the running proxy that uses `data`.
fn registrations(data: &std::path::Path, what: &str, name: Option<&str>) -> std::process::ExitCode {
    let (method, path) = match (what, name) {
        ("approve", Some(name)) => ("POST", format!("/registrations/{name}/approve")),
        ("reject", Some(name)) => ("POST", format!("/registrations/{name}/reject")),
        ("remove", Some(name)) => ("DELETE", format!("/registrations/{name}")),
        _ => ("GET", "/registrations".to_string()),
    };
    let (status, body) = match wtd_proxy::operator::request(data, method, &path) {
        Ok(answer) => answer,
        Err(e) => {
            eprintln!("wtd-proxy: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if status != 200 {
        eprintln!("wtd-proxy: {body}");
        return std::process::ExitCode::FAILURE;
    }
    if method != "GET" {
        println!("{body}");
        return std::process::ExitCode::SUCCESS;
    }
    let Ok(all) = serde_json::from_str::<Vec<wtd_proxy::operator::Registration>>(&body) else {
        eprintln!("wtd-proxy: the proxy's answer is not a list of registrations: {body}");
        return std::process::ExitCode::FAILURE;
    };
    if all.is_empty() {
        println!("no registrations yet");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let ago = |ms: u64| format!("{} min ago", now.saturating_sub(ms) / 60_000);
    for r in all {
        println!(
            "{:<20} {:<9} {:<30} key {}…  registered {}  last seen {}",
            r.name,
            r.status,
            r.email,
            r.key,
            ago(r.registered_at_ms),
            ago(r.last_seen_ms)
        );
    }
    std::process::ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, (String, u8)> {
        parse_args(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn flags_take_a_value_after_a_space_or_an_equals_sign() {
        let args = parse(&["--listen", "0.0.0.0:1", "--data=/tmp/x"]).expect("parses");
        assert_eq!(args.listen, "0.0.0.0:1");
        assert_eq!(args.data, PathBuf::from("/tmp/x"));
        let args = parse(&[]).expect("defaults");
        assert_eq!(args.listen, "127.0.0.1:14151");
        assert_eq!((args.expire_days, args.release), (90, None));
    }

    #[test]
    fn release_names_the_name_to_free() {
        let args = parse(&["release", "squatter", "--data", "/tmp/x"]).expect("parses");
        assert_eq!(args.release.as_deref(), Some("squatter"));
        assert_eq!(args.data, PathBuf::from("/tmp/x"));
        let (text, code) = parse(&["release"]).expect_err("no name");
        assert_eq!(code, 2);
        assert!(text.contains("release needs the NAME"), "{text}");
        let args = parse(&["--expire-names-after=30"]).expect("parses");
        assert_eq!(args.expire_days, 30);
        assert_eq!(
            parse(&["--expire-names-after", "0"]).expect_err("zero").1,
            2
        );
    }

    #[test]
    fn registration_limits_and_connections_are_set_on_the_command_line() {
        let args = parse(&[
            "--new-nodes-per-minute=100000",
            "--new-nodes-per-minute-per-client",
            "600",
            "--max-connections=12000",
        ])
        .expect("parses");
        assert_eq!(args.new_nodes_per_minute, Some(100_000));
        assert_eq!(args.new_nodes_per_minute_per_client, Some(600));
        assert_eq!(args.max_connections, Some(12_000));
        let (text, code) = parse(&["--new-nodes-per-minute-per-client", "-1"]).expect_err("bad");
        assert_eq!(code, 2);
        assert!(text.contains("takes a whole number above 0"), "{text}");
    }

    #[test]
    fn the_store_is_a_redis_url_and_none_by_default() {
        assert_eq!(parse(&[]).expect("defaults").store, None);
        let args = parse(&["--store", "redis://127.0.0.1:6379/0"]).expect("parses");
        assert_eq!(args.store.as_deref(), Some("redis://127.0.0.1:6379/0"));
        let (text, code) = parse(&["--store=127.0.0.1:6379"]).expect_err("not a URL");
        assert_eq!(code, 2);
        assert!(text.contains("--store takes a Redis URL"), "{text}");
    }

    #[test]
    fn mistakes_exit_2_with_the_help() {
        let (text, code) = parse(&["--lisen", "x"]).expect_err("unknown");
        assert_eq!(code, 2);
        assert!(
            text.contains("unknown argument \"--lisen\"") && text.contains("Usage"),
            "{text}"
        );
        let (text, code) = parse(&["--data"]).expect_err("no value");
        assert_eq!(code, 2);
        assert!(text.contains("--data needs a value"), "{text}");
        assert_eq!(parse(&["--help"]).expect_err("help").1, 0);
    }
}
