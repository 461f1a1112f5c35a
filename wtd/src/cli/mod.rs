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
//! * `key_store`: the key files held for calling others, several per node, and the rule
//!   that they all pin the same node key and proxy.
//! * `key_choice`: which held key a call signs with, and which it tries next.
//! * `suggest`: "did you mean": names a small edit away from a typo.
//! * one file per command: `init`, `register`, `grant`, `key`, `nodes`, `call`, `log`.
//!   Each holds its arguments, its work and the rows it prints.
//!
//! `node.toml`, what `wtd register` records, lives in the library
//! ([`crate::node::record`]): a node a program starts records itself the same way.

mod call;
pub mod error;
mod grant;
mod init;
mod key;
mod key_choice;
mod key_store;
mod log;
mod nodes;
mod output;
mod proxy;
mod register;
mod suggest;

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
    /// Print machine-readable JSON instead of text for people. An error is then a JSON
    /// object on stdout too: {"error": KIND, "message": TEXT, "exit": CODE}.
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
    ///
    /// Functions are listed as you type them after MISSION/: `add` when it is written in
    /// a module named like its mission (`demo/add` is `demo/demo/add`), else
    /// `module/add`. The JSON always gives `module/function`.
    Nodes(nodes::NodesArgs),
    /// Call a function on another node with JSON arguments; prints the JSON result.
    ///
    /// Of the keys you hold for NODE, the call uses one whose missions cover the path's
    /// mission (a key the node accepts first, then the newest); if the node refuses that
    /// key (not granted, revoked, another mission), the next is tried. When there was a
    /// choice, a note on stderr says which key was used.
    Call(call::CallArgs),
    /// The audit log: every call this node received, accepted or refused.
    ///
    /// Two columns name who called: GRANTEE is whom the key was granted to, from this
    /// node's grants (`(no grant)`: an unknown key); CALLER is the name the calling node
    /// gave itself (its registered name, or `cli` for a `wtd call` from a home never
    /// registered). They differ when a key is used by someone it was not granted to.
    /// Paths are shown short where the module is the mission (`demo/add` for
    /// `demo/demo/add`); --json prints each entry as stored, with the full path.
    Log(log::LogArgs),
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // `--help` and `--version` also arrive here, on stdout: they are not failures.
            if !e.use_stderr() {
                return ExitCode::SUCCESS;
            }
            // The command line could not be read, so `--json` is looked for as typed.
            if std::env::args_os().any(|a| a == "--json") {
                let rendered = e.to_string();
                let first = rendered.lines().next().unwrap_or_default();
                let message = first.trim_start_matches("error: ").to_string();
                print_json_error("Usage", &message, error::USAGE);
            }
            return ExitCode::from(error::USAGE);
        }
    };
    crate::logging::init("warn");
    let home = cli.home.clone().unwrap_or_else(home::default_home);
    match run(&cli, &home) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // An error may quote what someone else wrote: a proxy's refusal, a callee's
            // panic message, a line of a file. Shown inert, and every line after the
            // first indented, so no line of theirs can pass for one of `wtd`'s.
            let message = output::inert_lines(&e.to_string()).replace('\n', "\n    ");
            eprintln!("wtd: {message}");
            if cli.json {
                print_json_error(e.kind(), &e.to_string(), e.exit_code());
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// With `--json`, an error is also one JSON object on stdout, where a script reads the
/// result: `{"error": KIND, "message": TEXT, "exit": CODE}`. The sentence still goes to
/// stderr for the person watching, and the exit code is the same.
fn print_json_error(kind: &str, message: &str, exit: u8) {
    let error = serde_json::json!({ "error": kind, "message": message, "exit": exit });
    println!(
        "{}",
        output::inert_json(&serde_json::to_string_pretty(&error).unwrap_or_default())
    );
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
