//! The `wtd-proxy` binary: `wtd-proxy --listen 127.0.0.1:14151 --data DIR`.

use std::path::PathBuf;

use clap::Parser;

/// The WTD relay and directory: nodes register here, find each other, and exchange
/// signed calls through it. It cannot forge, alter or replay a call a node accepts.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:14151")]
    listen: String,
    /// Folder for the node registry (created if missing).
    #[arg(long, default_value = "wtd-proxy-data")]
    data: PathBuf,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
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
    tracing::info!("wtd-proxy listening on http://{}", args.listen);
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
    match wtd_proxy::run(listener, wtd_proxy::Config::new(args.data), shutdown).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wtd-proxy: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
