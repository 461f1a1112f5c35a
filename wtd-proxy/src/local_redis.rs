//! A `redis-server` of this machine's, started on a free loopback port with its files in a
//! folder of the caller's: for the tests that run several proxies on one Redis, and for
//! the example that starts a local cluster. Production proxies are given the address of
//! a Redis their operator runs (`wtd-proxy --store redis://HOST:PORT/DB`).
//!
//! The server is stopped when the [`LocalRedis`] is dropped, and can be killed and
//! started again on the same port and folder (its append-only file on, so a restart loses
//! nothing written before it).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a started server has to answer `PING`.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// A `redis-server` child process on 127.0.0.1.
#[derive(Debug)]
pub struct LocalRedis {
    /// The running server; `None` while killed.
    child: Option<Child>,
    /// Where it listens.
    addr: SocketAddr,
    /// Its working folder (append-only file, logs).
    dir: PathBuf,
}

impl LocalRedis {
    /// Whether `redis-server` can be started on this machine.
    pub fn installed() -> bool {
        Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// For a test that needs Redis: the server, started in `dir`; or, where
    /// `redis-server` is not installed, `None` after saying loudly on stderr that the test
    /// named `test` did not run. With the environment variable `CI` set (`.ci/run`
    /// installs Redis), a missing server is a failure instead.
    ///
    /// # Panics
    ///
    /// When Redis is missing on CI, or is installed but does not start.
    pub fn for_test(test: &str, dir: &Path) -> Option<LocalRedis> {
        if !LocalRedis::installed() {
            let why = format!(
                "NOT RUN: `{test}` needs redis-server, which is not installed here \
                 (Debian: apt-get install redis-server)"
            );
            let in_ci =
                std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
            assert!(!in_ci, "{why}; CI must run it");
            eprintln!("{why}");
            return None;
        }
        match LocalRedis::start(dir) {
            Ok(redis) => Some(redis),
            Err(e) => panic!("redis-server is installed but did not start for `{test}`: {e}"),
        }
    }

    /// Starts `redis-server` on a free loopback port with its files in `dir`, and waits
    /// until it answers.
    pub fn start(dir: &Path) -> std::io::Result<LocalRedis> {
        // A free port: bind to port 0, note the port, let it go. Another process could
        // take it in between; the start then fails and is tried again with a new one.
        let mut last = None;
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let mut redis = LocalRedis {
                child: None,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                dir: dir.to_path_buf(),
            };
            match redis.restart() {
                Ok(()) => return Ok(redis),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no free port")))
    }

    /// Its address, to give a proxy: `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://{}/0", self.addr)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Kills the server at once (`SIGKILL`: what it had not written to its append-only
    /// file is lost, as in a crash; it writes every second).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again (after [`LocalRedis::kill`]) on the same port and folder,
    /// and waits until it answers.
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.kill();
        let log = std::fs::File::create(self.dir.join("redis.log"))?;
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.addr.port().to_string())
            .arg("--dir")
            .arg(&self.dir)
            .args(["--appendonly", "yes", "--appendfsync", "everysec"])
            .args(["--save", "", "--daemonize", "no", "--protected-mode", "yes"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if self.answers() {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
                return Err(std::io::Error::other(format!(
                    "redis-server exited ({status}): {}",
                    log.lines().last().unwrap_or("no log")
                )));
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(std::io::Error::other(format!(
                    "redis-server did not answer on {} within {} s",
                    self.addr,
                    READY_WITHIN.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the server answers `PING` now.
    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200))
        else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        if stream.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut answer = [0u8; 7];
        stream.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_redis_answers_and_comes_back_after_a_kill() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some(mut redis) = LocalRedis::for_test("local_redis", dir.path()) else {
            return;
        };
        assert!(redis.answers());
        redis.kill();
        assert!(!redis.answers());
        redis.restart().expect("starts again");
        assert!(redis.answers());
        assert!(redis.url().starts_with("redis://127.0.0.1:"));
    }
}
