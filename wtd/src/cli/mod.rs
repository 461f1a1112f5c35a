//! The `wtd` command: a node's home folder, its grants and keys, the directory, and calls
//! from the command line.
//!
//! Calls from the command line go through the proxy's `/apply` route, signed with a key
//! file held in the home folder: no node needs to run on this machine to call another.
//!
//! # Layout
//!
//! * this file: the command line as clap reads it, and which command runs.
//! * [`error`]: [`CliError`], every way a command fails, and the exit code of each class.
//! * `output`: a command's result printed as text for people or as JSON (`--json`)
//!   from the same typed value, and `inert` for text that came from someone else.
//! * `proxy`: the command's own client of the proxy: the directory, registration and
//!   `/apply`, with each refusal typed.
//! * `node_config`: `node.toml`, what `wtd register` remembers for later commands.
//! * one file per command: `init`, `register`, `grant`, `key`, `nodes`, `call`, `log`.
//!   Each holds its arguments, its work and the rows it prints.

mod call;
pub mod error;
mod grant;
mod init;
mod key;
mod log;
mod node_config;
mod nodes;
mod output;
mod proxy;
mod register;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use error::CliError;

use crate::{home, wire};
use output::Output;

/// WTD: call functions on your friends' machines, with keys they can revoke.
#[derive(Parser, Debug)]
#[command(version, after_help = error::EXIT_CODES)]
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
    Register(register::RegisterArgs),
    /// Grant keys to others, list grants, revoke them.
    #[command(subcommand)]
    Grant(grant::GrantCommand),
    /// Keys this node holds for calling others.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// The directory: nodes online, their missions and functions, which of my keys each accepts.
    Nodes(nodes::NodesArgs),
    /// Call a function on another node with JSON arguments; prints the JSON result.
    Call(call::CallArgs),
    /// The audit log: every call this node received, accepted or refused.
    Log(log::LogArgs),
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // `--help` and `--version` also arrive here, on stdout: they are not failures.
            return if e.use_stderr() {
                ExitCode::from(error::USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    crate::logging::init("warn");
    let home = cli.home.clone().unwrap_or_else(home::default_home);
    match run(&cli, &home) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wtd: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: &Cli, home: &Path) -> Result<(), CliError> {
    let out = Output::new(cli.json);
    match &cli.command {
        Command::Init => init::run(&out, home, cli.home.as_deref()),
        Command::Register(args) => register::run(&out, home, args),
        Command::Grant(command) => grant::run(&out, home, command),
        Command::Key(command) => key::run(&out, home, command),
        Command::Nodes(args) => nodes::run(&out, home, args),
        Command::Call(args) => call::run(&out, home, args),
        Command::Log(args) => log::run(&out, home, args),
    }
}

/// A node name typed on the command line, checked before anything is read or sent.
fn check_node_name(node: &str) -> Result<(), CliError> {
    wire::check_name("node", node).map_err(|e| CliError::Usage(e.to_string()))
}
