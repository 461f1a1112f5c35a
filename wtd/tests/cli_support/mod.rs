//! A cluster for one command-line test: a proxy on a free port with its own data folder,
//! people with their own home folders who type `wtd …` commands, and serving nodes
//! started in-process on those homes. Everything is torn down at the end.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use wtd::{Node, NodeConfig};
use wtd_proxy::{Config, Proxy};

/// The longest any one `wtd` command may take before the test kills it and fails.
const COMMAND_LIMIT: Duration = Duration::from_secs(20);

/// What a `wtd` command did.
#[derive(Debug)]
pub struct Run {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts exit 0 and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "expected success: {self:#?}");
        &self.stdout
    }

    /// Asserts exit 0 and parses stdout as one JSON value.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        let text = self.ok();
        serde_json::from_str(text).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    /// Asserts the exit code and that stderr says `hint` (case-insensitive); returns stderr.
    #[track_caller]
    pub fn fails(&self, code: i32, hint: &str) -> &str {
        assert_eq!(self.code, Some(code), "expected exit {code}: {self:#?}");
        assert!(
            self.stderr.to_lowercase().contains(&hint.to_lowercase()),
            "stderr should mention {hint:?}: {self:#?}"
        );
        &self.stderr
    }
}

/// `wtd ARGS…` in `dir`, with nothing from the developer's environment that changes its
/// behaviour, no input, and its output captured.
fn wtd_command(dir: &Path, args: &[String]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wtd"));
    command.args(args);
    isolated(command, dir)
}

/// `command` run in `dir`, without `WTD_HOME` or `RUST_LOG`, no input, output captured.
fn isolated(mut command: Command, dir: &Path) -> Command {
    command
        .current_dir(dir)
        .env_remove("WTD_HOME")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs the `wtd` binary with `args` in `dir`, blocking, for at most [`COMMAND_LIMIT`].
pub fn wtd_blocking(dir: &Path, args: &[String]) -> Run {
    run_blocking(wtd_command(dir, args), args)
}

/// [`wtd_blocking`] on a disk that is full: the shell limits the size of any file the
/// command writes to 0 bytes (`ulimit -f 0`), so every write of a byte fails (with
/// EFBIG, as a full disk fails with ENOSPC), even for root, who ignores permissions.
pub fn wtd_blocking_disk_full(dir: &Path, args: &[String]) -> Run {
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        // Ignore SIGXFSZ (inherited through exec) so the write fails instead of killing.
        .arg("trap '' XFSZ; ulimit -f 0 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_wtd"))
        .args(args);
    run_blocking(isolated(shell, dir), args)
}

/// Why this machine cannot make a folder read-only for root, or `Ok`: a read-only bind
/// mount in a private mount namespace (`unshare -m`, util-linux) needs root (or user
/// namespaces). Root ignores file permissions, but not a read-only mount.
pub fn read_only_mounts() -> Result<(), String> {
    let probe = tempfile::tempdir().map_err(|e| format!("no temporary folder: {e}"))?;
    let output = Command::new("unshare")
        .args(["-m", "sh", "-c", READ_ONLY_THEN])
        .arg(probe.path())
        .args(["sh", "-c", "! touch \"$0\"/probe"])
        .arg(probe.path())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("`unshare` cannot run: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`unshare -m` and a read-only bind mount failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// A shell script for `unshare -m sh -c`: makes folder `$1` read-only in this private
/// mount namespace (nothing outside it sees the change), then runs `$2…`.
const READ_ONLY_THEN: &str = "mount --make-rprivate / && mount --bind \"$0\" \"$0\" && \
     mount -o remount,bind,ro \"$0\" && exec \"$@\"";

/// [`wtd_blocking`] with `home` read-only for real (see [`read_only_mounts`]).
pub fn wtd_blocking_read_only(dir: &Path, home: &Path, args: &[String]) -> Run {
    let mut unshare = Command::new("unshare");
    unshare
        .args(["-m", "sh", "-c", READ_ONLY_THEN])
        .arg(home)
        .arg(env!("CARGO_BIN_EXE_wtd"))
        .args(args);
    run_blocking(isolated(unshare, dir), args)
}

fn run_blocking(mut command: Command, args: &[String]) -> Run {
    let mut child = command.spawn().expect("the wtd binary starts");
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + COMMAND_LIMIT;
    let status = loop {
        match child.try_wait().expect("wait for wtd") {
            Some(status) => break status,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "`wtd {}` did not finish in {COMMAND_LIMIT:?}",
                    args.join(" ")
                );
            }
        }
    };
    Run {
        code: status.code(),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// A `wtd` command that runs until it is stopped (`wtd log --follow`): its stdout lines
/// arrive on a channel. Dropping it kills the process and waits for it.
pub struct Running {
    child: Child,
    lines: Receiver<String>,
}

impl Running {
    /// Starts `wtd ARGS…` in `dir`.
    pub fn spawn(dir: &Path, args: &[String]) -> Running {
        let mut child = wtd_command(dir, args)
            .stderr(Stdio::null())
            .spawn()
            .expect("the wtd binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (send, lines) = std::sync::mpsc::channel();
        // Ends when the process does (its stdout closes).
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Running { child, lines }
    }

    /// The next line the command prints, waiting at most `limit`.
    pub async fn next_line(&self, limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        loop {
            match self.lines.try_recv() {
                Ok(line) => return Some(line),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) if Instant::now() >= deadline => return None,
                Err(TryRecvError::Empty) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Someone at a terminal: a home folder, and the node name they register.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub home: PathBuf,
    /// Where commands run (so a default output file lands in the test's folder).
    dir: PathBuf,
}

impl User {
    fn args(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec!["--home".to_string(), self.home.display().to_string()];
        all.extend(args.iter().map(|a| a.to_string()));
        all
    }

    /// Runs `wtd --home HOME ARGS…` without holding up the runtime's worker threads.
    pub async fn wtd(&self, args: &[&str]) -> Run {
        let all = self.args(args);
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || wtd_blocking(&dir, &all))
            .await
            .expect("the command thread")
    }

    /// [`User::wtd`] with a full disk: every file write fails.
    pub async fn wtd_disk_full(&self, args: &[&str]) -> Run {
        let all = self.args(args);
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || wtd_blocking_disk_full(&dir, &all))
            .await
            .expect("the command thread")
    }

    /// [`User::wtd`] with the home read-only for real: a read-only bind mount, seen only
    /// by this command. Check [`read_only_mounts`] first.
    pub async fn wtd_read_only(&self, args: &[&str]) -> Run {
        let all = self.args(args);
        let (dir, home) = (self.dir.clone(), self.home.clone());
        tokio::task::spawn_blocking(move || wtd_blocking_read_only(&dir, &home, &all))
            .await
            .expect("the command thread")
    }

    /// Starts `wtd --home HOME ARGS…` and leaves it running until the result is dropped.
    pub fn start(&self, args: &[&str]) -> Running {
        Running::spawn(&self.dir, &self.args(args))
    }
}

pub struct Cluster {
    pub dir: TempDir,
    proxy: Option<Proxy>,
    url: String,
    nodes: Vec<Node>,
}

impl Cluster {
    /// A proxy on 127.0.0.1, on a port the OS picks, with its own data folder.
    pub async fn start() -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let proxy = Proxy::start(listener, Config::new(dir.path().join("proxy")))
            .await
            .expect("proxy starts");
        let url = proxy.url();
        Cluster {
            dir,
            proxy: Some(proxy),
            url,
            nodes: Vec::new(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Someone with a home folder of their own, who has typed nothing yet.
    pub fn user(&self, name: &str) -> User {
        User {
            name: name.to_string(),
            home: self.dir.path().join(format!("home-{name}")),
            dir: self.dir.path().to_path_buf(),
        }
    }

    /// `wtd init`, then `wtd register` under `name` with this proxy.
    pub async fn joined(&self, name: &str) -> User {
        let user = self.user(name);
        let init = user.wtd(&["init"]).await;
        assert!(init.ok().contains("Node public key"), "{init:#?}");
        user.wtd(&[
            "register",
            "--proxy",
            self.url(),
            "--name",
            name,
            "--email",
            &format!("{name}@example.org"),
        ])
        .await
        .ok();
        user
    }

    /// Someone who joined with the CLI and then started a node serving `missions` on the
    /// same home folder (so the node key, and the name it registers, are the same).
    pub async fn serving(&mut self, name: &str, missions: &[&str]) -> User {
        let user = self.joined(name).await;
        let node = Node::start(NodeConfig::new(name, self.url(), &user.home).serve(missions))
            .await
            .expect("node starts");
        self.nodes.push(node);
        user
    }

    /// Someone who never typed a `wtd` command: a program started a node serving
    /// `missions` on a home of its own, and nothing else made the home.
    pub async fn started_by_a_program(&mut self, name: &str, missions: &[&str]) -> User {
        let user = self.user(name);
        let node = Node::start(NodeConfig::new(name, self.url(), &user.home).serve(missions))
            .await
            .expect("node starts");
        self.nodes.push(node);
        user
    }

    /// The running node serving as `name` (to start named servers on it).
    pub fn node(&self, name: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.name() == name)
            .unwrap_or_else(|| panic!("no node serves as {name}"))
    }

    /// Stops the node serving as `name`; it says goodbye to the proxy on the way out.
    pub async fn stop_node(&mut self, name: &str) {
        let at = self
            .nodes
            .iter()
            .position(|n| n.name() == name)
            .unwrap_or_else(|| panic!("no node `{name}` runs"));
        self.nodes.remove(at).stop().await;
    }

    /// `wtd grant new GRANTEE ARGS… --out FILE` in `owner`'s home; returns the file.
    pub async fn grant(&self, owner: &User, grantee: &str, args: &[&str]) -> String {
        let out = self
            .dir
            .path()
            .join(format!("{grantee}-for-{}.wtdkey", owner.name))
            .display()
            .to_string();
        let mut all = vec!["grant", "new", grantee, "--out", &out];
        all.extend_from_slice(args);
        let run = owner.wtd(&all).await;
        assert!(run.ok().contains("wtd key add"), "{run:#?}");
        out
    }

    /// Stops the proxy alone: its nodes stay up, and move to a fallback proxy if they have one.
    pub async fn stop_proxy(&mut self) {
        if let Some(proxy) = self.proxy.take() {
            proxy.stop().await;
        }
    }

    /// Stops every node, then the proxy.
    pub async fn stop(mut self) {
        for node in self.nodes.drain(..) {
            node.stop().await;
        }
        if let Some(proxy) = self.proxy.take() {
            proxy.stop().await;
        }
    }
}

/// Retries `attempt` every 100 ms until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut attempt: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = attempt().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A fake proxy that answers one request with `status` (e.g. `200 OK`) and `body`, then is
/// gone: for what a real proxy never says. Returns its URL and the thread to join.
pub fn answer_once(status: &str, body: String) -> (String, std::thread::JoinHandle<()>) {
    answer_once_as(status, "", body)
}

/// [`answer_once`], naming the refusal in the `wtd-error` header as a real proxy does
/// (`code` empty: no header).
pub fn answer_once_as(
    status: &str,
    code: &str,
    body: String,
) -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let status = status.to_string();
    let header = if code.is_empty() {
        String::new()
    } else {
        format!("wtd-error: {code}\r\n")
    };
    let server = std::thread::spawn(move || {
        use std::io::Write;
        let (mut tcp, _) = listener.accept().expect("wtd connects");
        tcp.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let mut request = [0u8; 4096];
        let _ = tcp.read(&mut request);
        let answer = format!(
            "HTTP/1.1 {status}\r\n{header}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        tcp.write_all(answer.as_bytes()).expect("answer");
    });
    (url, server)
}
