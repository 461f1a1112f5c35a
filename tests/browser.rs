//! The dashboard in a real browser: a real `wtd-proxy`, two nodes, and headless Chromium
//! driven over WebDriver (chromedriver), with the W3C protocol spoken by hand over `ureq`
//! (a handful of JSON requests; no driver crate to build).
//!
//! It checks that both nodes show online with their missions, that calls change the
//! counters and the picture, that a stopped node turns offline without a reload, that
//! hostile text renders as text with no script run, and that no request leaves for
//! another host. It saves `target/dashboard.png`.
//!
//! Without Chromium and chromedriver it says loudly that it did not run, and passes;
//! with `CI` set (`.ci/run` installs both) it fails instead.

#[path = "support/proxy_binary.rs"]
#[allow(dead_code)] // The operator's commands are tested in tests/e2e/operator.rs.
mod proxy_binary;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wtd::{Node, NodeConfig};

use proxy_binary::{ProxyProcess, free_port};
// The `demo` mission the nodes serve.
use wtd_examples as _;

/// The first of `names` found on the PATH.
fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// chromedriver, killed when dropped, and one browser session.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start(chromium: &Path, chromedriver: &Path) -> Browser {
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let profile = tempfile::tempdir().expect("profile dir");
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            agent,
            _profile: profile,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while browser.get("/status")["value"]["ready"] != json!(true) {
            assert!(
                Instant::now() < deadline,
                "chromedriver is not ready after 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1200,1400",
                         "--no-first-run", "--disable-background-networking",
                         format!("--user-data-dir={}", browser._profile.path().display())]
            }
        }}});
        let answer = browser.post("/session", &caps);
        browser.session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {answer}"))
            .to_string();
        browser
    }

    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let answer = match (method, body) {
            ("POST", Some(body)) => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.to_string().as_bytes()),
            ("DELETE", _) => self.agent.delete(&url).call(),
            _ => self.agent.get(&url).call(),
        };
        match answer {
            Ok(mut response) => {
                let text = response.body_mut().read_to_string().unwrap_or_default();
                serde_json::from_str(&text).unwrap_or(Value::Null)
            }
            Err(_) => Value::Null,
        }
    }

    fn get(&self, path: &str) -> Value {
        self.send("GET", path, None)
    }

    fn post(&self, path: &str, body: &Value) -> Value {
        self.send("POST", path, Some(body))
    }

    fn open(&self, url: &str) {
        let s = &self.session;
        self.post(&format!("/session/{s}/url"), &json!({ "url": url }));
    }

    /// Runs `script` (a function body) in the page; its return value.
    fn run(&self, script: &str) -> Value {
        let s = &self.session;
        let answer = self.post(
            &format!("/session/{s}/execute/sync"),
            &json!({"script": script, "args": []}),
        );
        if answer["value"]["error"].is_string() {
            panic!("the script failed: {answer}\n{script}");
        }
        answer["value"].clone()
    }

    /// Waits up to 20 s for `script` to return true; `false` if it never did.
    fn wait_for(&self, script: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.run(script) == json!(true) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }

    fn screenshot(&self, to: &Path) {
        let s = &self.session;
        let answer = self.get(&format!("/session/{s}/screenshot"));
        let png = base64(answer["value"].as_str().expect("a screenshot"));
        std::fs::write(to, png).expect("screenshot written");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let s = self.session.clone();
            self.send("DELETE", &format!("/session/{s}"), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64, as WebDriver sends screenshots.
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let sextets: Vec<u8> = text.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(sextets.len() * 3 / 4);
    for chunk in sextets.chunks(4) {
        let mut n = 0u32;
        for (i, s) in chunk.iter().enumerate() {
            n |= u32::from(*s) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

fn row(name: &str) -> String {
    format!("document.querySelector('#nodes tbody tr[data-node=\"{name}\"]')")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_cluster_live_in_a_real_browser() {
    let chromium = on_path(&["chromium", "chromium-browser", "google-chrome"]);
    let chromedriver = on_path(&["chromedriver"]);
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
        let why = "the dashboard browser test was NOT RUN: chromium and chromedriver are not \
                   on the PATH (Debian: apt-get install chromium chromium-driver)";
        assert!(!in_ci(), "{why}; CI must run it");
        eprintln!("\n!!!!!!!! {why} !!!!!!!!\n");
        return;
    };

    let proxy = ProxyProcess::start(&[]);
    let url = proxy.url.clone();
    let homes = tempfile::tempdir().expect("homes");
    let start = |name: &str| {
        NodeConfig::new(name, &url, homes.path().join(name))
            .email(&format!("{name}@example.org"))
            .serve(&["demo"])
    };
    let alice = Node::start(start("alice")).await.expect("alice starts");
    let bob = Node::start(start("bob")).await.expect("bob starts");
    let key = alice
        .grant("bob")
        .mission("demo")
        .rate("100/s")
        .expect("rate")
        .mint()
        .expect("mint");
    let peer = bob.peer(&key).expect("peer");

    // A hostile name (`<img src=x onerror=alert(1)>`) never gets in: names are checked
    // when a node registers.
    let refused = ureq::put(format!(
        "{url}/nodes/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"
    ))
    .config()
    .http_status_as_error(false)
    .build()
    .send(&b"x"[..])
    .expect("an answer");
    assert!(refused.status().is_client_error(), "{:?}", refused.status());

    let browser = tokio::task::block_in_place(|| Browser::start(&chromium, &chromedriver));
    let page = tokio::task::block_in_place(|| {
        browser.open(&format!("{url}/"));
        browser.run("window.__sameDocument = 1; return true;");
        let both_online = format!(
            "const a = {}, b = {}; return !!a && !!b && a.className === 'online' && \
             b.className === 'online' && a.textContent.includes('demo (') && \
             b.textContent.includes('demo (');",
            row("alice"),
            row("bob")
        );
        assert!(
            browser.wait_for(&both_online),
            "both nodes online with their missions: {}",
            browser.run("return document.body.innerText;")
        );
        browser.run("return document.body.innerText;")
    });
    assert!(page.as_str().is_some_and(|t| t.contains("Live")), "{page}");

    for i in 0..5u64 {
        let sum = peer
            .call_json("demo/demo/add", &format!("[{i}, 1]"))
            .await
            .expect("a call");
        assert_eq!(sum, json!(i + 1));
    }
    tokio::task::block_in_place(|| {
        let counted = format!(
            "const b = {}; return !!b && Number(b.cells[6].textContent) >= 5 && \
             !!document.querySelector('#picture line[data-from=\"bob\"][data-to=\"alice\"]');",
            row("bob")
        );
        assert!(
            browser.wait_for(&counted),
            "bob's calls counted and drawn: {}",
            browser.run("return document.body.innerText;")
        );
        let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        let _ = std::fs::create_dir_all(&target);
        browser.screenshot(&target.join("dashboard.png"));
    });

    alice.stop().await;
    tokio::task::block_in_place(|| {
        let offline = format!(
            "const a = {}; return !!a && a.className === 'offline';",
            row("alice")
        );
        assert!(browser.wait_for(&offline), "alice turns offline");
        assert_eq!(
            browser.run("return window.__sameDocument === 1;"),
            json!(true),
            "without a reload"
        );

        // Hostile text from a node, fed to the page's renderer: shown as text, never run.
        let snapshot = json!({
            "at_ms": 1, "approve": false,
            "total": {"calls": 0, "replies": 0, "bytes": 0, "refused": {}},
            "last": {"at_ms": 1, "calls": 0, "replies": 0, "bytes": 0, "refused": 0,
                     "mailbox_messages": 0, "apply_waiters": 0},
            "nodes": [{"name": "<img src=x onerror=\"window.__pwned=1\">", "key": "00",
                       "online": true, "since_ms": 1, "last_seen_ms": 1,
                       "missions": [{"mission": "<script>window.__pwned=2</script>",
                                     "functions": ["<b>f</b>"], "behaviours": []}],
                       "accepts": [], "sent": {"calls": 0, "replies": 0, "bytes": 0, "refused": {}},
                       "received": {"calls": 0, "replies": 0, "bytes": 0, "refused": {}},
                       "calls_per_s": 0, "mailbox_messages": 0, "apply_waiters": 0}],
            "links": []
        });
        let shown = browser.run(&format!(
            "window.wtdDashboard.render({snapshot}); \
             const cell = document.querySelector('#nodes tbody td'); \
             return [cell.textContent, document.querySelectorAll('main img, main script, main b').length];"
        ));
        assert_eq!(
            shown[0],
            json!("<img src=x onerror=\"window.__pwned=1\">"),
            "{shown}"
        );
        assert_eq!(shown[1], json!(0), "no element made from a node's text");
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(
            browser.run("return window.__pwned === undefined;"),
            json!(true)
        );

        // Every request the page made went to the proxy.
        let elsewhere = browser.run(&format!(
            "return performance.getEntriesByType('resource').map(e => e.name)\
             .filter(n => !n.startsWith('{url}/'));"
        ));
        assert_eq!(elsewhere, json!([]), "requests to another host");
    });
    drop(browser);
    bob.stop().await;
    drop(proxy);
}
