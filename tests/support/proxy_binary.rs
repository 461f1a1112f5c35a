//! The real `wtd-proxy` binary as a child process, on a free port with its own data
//! folder, killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Builds `wtd-proxy` (a no-op when it is up to date) and returns its path.
pub fn binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(&cargo)
        .args(["build", "--quiet", "-p", "wtd-proxy", "--bin", "wtd-proxy"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(built.success(), "wtd-proxy does not build");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("debug/wtd-proxy")
}

/// A port free right now on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running `wtd-proxy`.
pub struct ProxyProcess {
    child: Child,
    /// Holds the data folder (and the log).
    pub dir: TempDir,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl ProxyProcess {
    /// Starts `wtd-proxy --listen 127.0.0.1:PORT --data DIR` with `extra` flags, and waits
    /// (up to 30 s) until it answers and its operator endpoint is written.
    pub fn start(extra: &[&str]) -> ProxyProcess {
        let exe = binary();
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("proxy.log")).expect("log file");
        let child = Command::new(&exe)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(dir.path().join("data"))
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", exe.display()));
        let proxy = ProxyProcess {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(proxy.data().join("operator.json").exists()
            && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok())
        {
            assert!(
                Instant::now() < deadline,
                "the proxy did not start within 30 s:\n{}",
                proxy.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        proxy
    }

    /// Its data folder.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("proxy.log")).unwrap_or_default()
    }

    /// Runs `wtd-proxy ARGS --data DIR` (an operator's command) to its end.
    pub fn command(&self, args: &[&str]) -> Output {
        Command::new(binary())
            .args(args)
            .arg("--data")
            .arg(self.data())
            .stdin(Stdio::null())
            .output()
            .expect("wtd-proxy runs")
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
