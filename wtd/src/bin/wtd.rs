//! The `wtd` command: set up a node, grant and revoke keys, list the directory, call
//! functions. Everything is in `wtd::cli`; run `wtd --help`.

fn main() -> std::process::ExitCode {
    wtd::cli::main()
}
