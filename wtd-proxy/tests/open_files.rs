//! The open-file limit: a desktop often starts programs with a soft limit of 1,024 open
//! files and a hard limit far above it. Run the real `wtd-proxy` under a soft limit of 256
//! (`ulimit -Sn 256`) and check that it raised its soft limit to the hard one, so it can
//! hold its 4,096 connections as it does on a server.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The soft and hard "Max open files" of process `pid`, from `/proc/PID/limits`.
fn open_file_limits(pid: u32) -> Option<(String, String)> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut fields = line["Max open files".len()..].split_whitespace();
    Some((fields.next()?.to_string(), fields.next()?.to_string()))
}

#[test]
fn a_proxy_started_with_a_low_soft_limit_raises_it_to_the_hard_limit() {
    if !std::path::Path::new("/proc/self/limits").exists() {
        eprintln!("NOT RUN: no /proc/self/limits to read the limits from (not Linux)");
        return;
    }
    let data = tempfile::tempdir().expect("temporary folder");
    let proxy = env!("CARGO_BIN_EXE_wtd-proxy");
    let line = format!(
        "ulimit -Sn 256 && exec '{proxy}' --listen 127.0.0.1:0 --data '{}'",
        data.path().display()
    );
    let mut child = Command::new("sh")
        .args(["-c", &line])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh starts wtd-proxy");
    let pid = child.id();
    let (_, hard) = open_file_limits(pid).expect("the child's limits");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    // The proxy raises the limit as it starts serving: look for at most 20 s.
    let until = Instant::now() + Duration::from_secs(20);
    let mut log = String::new();
    let mut soft = String::new();
    while Instant::now() < until {
        while let Ok(line) = rx.try_recv() {
            log.push_str(&line);
            log.push('\n');
        }
        soft = open_file_limits(pid)
            .map(|(soft, _)| soft)
            .unwrap_or_default();
        if soft != "256" && log.contains("listening") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    while let Ok(line) = rx.try_recv() {
        log.push_str(&line);
        log.push('\n');
    }
    let _ = child.kill();
    let _ = child.wait();

    let expected = match hard.parse::<u64>() {
        Ok(hard) => hard.min(1 << 20).to_string(),
        Err(_) => (1u64 << 20).to_string(), // "unlimited"
    };
    assert_eq!(
        soft, expected,
        "the soft limit was 256 and the hard limit {hard}; the proxy logged:\n{log}"
    );
    if expected.parse::<u64>().is_ok_and(|n| n >= 4096 + 64) {
        assert!(
            !log.contains("serving at most"),
            "the proxy lowered its connection bound although it could raise its limit:\n{log}"
        );
    }
}
