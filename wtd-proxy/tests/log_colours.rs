//! The proxy's log is plain text where nobody sees colours: run the real `wtd-proxy` with
//! stderr going to a pipe (as to a log file or the journal) and look for ANSI escape codes
//! in what it logs, and check that a terminal does get colours, unless `NO_COLOR` is set.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Where the proxy's stderr goes.
#[derive(Clone, Copy)]
enum Stderr {
    /// A pipe, as when it is redirected to a log file or the journal.
    Pipe,
    /// A terminal: `script` (util-linux) runs the proxy on a pseudo-terminal.
    Terminal,
}

/// Starts `wtd-proxy` on a free port with `env` set, waits for its "listening" line (at
/// most 20 s), stops it and returns everything it logged until then.
#[track_caller]
fn log_of_a_proxy_start(stderr: Stderr, env: &[(&str, &str)]) -> String {
    let data = tempfile::tempdir().expect("temporary folder");
    let proxy = env!("CARGO_BIN_EXE_wtd-proxy");
    let mut command = match stderr {
        Stderr::Pipe => {
            let mut command = Command::new(proxy);
            command
                .args(["--listen", "127.0.0.1:0", "--data"])
                .arg(data.path())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            command
        }
        Stderr::Terminal => {
            // `script` copies the terminal's output, stderr included, to its stdout.
            let line = format!(
                "exec '{proxy}' --listen 127.0.0.1:0 --data '{}'",
                data.path().display()
            );
            let mut command = Command::new("script");
            command
                .args(["-q", "-e", "-c", &line, "/dev/null"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null());
            command
        }
    };
    command
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command
        .spawn()
        .expect("wtd-proxy starts (the terminal tests need `script`, from util-linux)");
    let output: Box<dyn std::io::Read + Send> = match stderr {
        Stderr::Pipe => Box::new(child.stderr.take().expect("piped stderr")),
        Stderr::Terminal => Box::new(child.stdout.take().expect("piped stdout")),
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    let listening = loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains("listening") {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    // Under `script`, the proxy dies of the hang-up when its terminal goes away.
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        listening,
        "wtd-proxy did not log \"listening\" on stderr within 20 s; it logged:\n{seen}"
    );
    seen
}

#[test]
fn a_log_on_a_pipe_has_no_colour_codes() {
    let log = log_of_a_proxy_start(Stderr::Pipe, &[]);
    assert!(
        !log.contains("\x1b["),
        "ANSI codes in a piped log:\n{log:?}"
    );
}

#[test]
fn a_terminal_gets_colours_unless_no_color_is_set() {
    let log = log_of_a_proxy_start(Stderr::Terminal, &[]);
    assert!(log.contains("\x1b["), "no colours on a terminal:\n{log:?}");
    let log = log_of_a_proxy_start(Stderr::Terminal, &[("NO_COLOR", "1")]);
    assert!(
        !log.contains("\x1b["),
        "ANSI codes despite NO_COLOR=1:\n{log:?}"
    );
    let log = log_of_a_proxy_start(Stderr::Pipe, &[("NO_COLOR", "1")]);
    assert!(
        !log.contains("\x1b["),
        "ANSI codes despite NO_COLOR=1:\n{log:?}"
    );
}
