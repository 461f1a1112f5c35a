//! The tutorial, run literally: every command of `docs/TUTORIAL.md`, read from the
//! document at test time, so the tutorial cannot drift from the code.
//!
//! Sections 1, 3 and 4 run in one folder, one after the other, as a reader does them;
//! sections 2 ("two machines") and 5 (supervision and failover) run on their own. Proxies
//! and the example node run in-process (their `cargo run …` lines), the programs of
//! sections 3 and 4 (`garden`, `guestbook`) run as built by cargo, every `wtd …` line runs
//! the built `wtd` binary. Examples that end by themselves (`cargo run --example NAME`) run
//! to their end as built by cargo, and what they print must contain the `text` block the
//! tutorial shows after the command. The tutorial's fixed values (the proxies' URLs, `~/…`
//! paths) are mapped to this test's proxy and temp folder. A command this test does not
//! know fails the test, so a new command in the tutorial gets covered here.

#![allow(dead_code)]

#[path = "cli_support/mod.rs"]
mod cli_support;

use std::path::Path;
use std::time::{Duration, Instant};

use wtd::prelude::*;
use wtd_proxy::{Config, Proxy};

use cli_support::{Run, wtd_blocking};

/// The proxy URLs the tutorial types (on one machine, and across the internet).
const TUTORIAL_URLS: [&str; 2] = ["http://127.0.0.1:14151", "http://proxy.example.org:14151"];
/// Where the tutorial keeps its folders and files: the reader's own folder.
const TUTORIAL_HOME: &str = "~/";
/// The placeholder the tutorial uses for the public key `wtd key new` prints.
const PUBLIC_KEY_PLACEHOLDER: &str = "PUBLIC_KEY_FROM_BOB";
/// The placeholder for the proof `wtd key new` prints next to the public key.
const PROOF_PLACEHOLDER: &str = "PROOF_FROM_BOB";
/// How long a node may take to show in the directory, or a grant to reach it.
const SETTLE_LIMIT: Duration = Duration::from_secs(5);
/// How long an example that ends by itself (`cargo run --example failover`) may run.
const EXAMPLE_LIMIT: Duration = Duration::from_secs(60);

/// Adds two numbers (`demo/tutorial/add`).
#[wtd_export(demo)]
pub fn add(a: i64, b: i64) -> i64 {
    a.wrapping_add(b)
}

/// Returns its argument (`demo/tutorial/echo`).
#[wtd_export(demo)]
pub fn echo(text: String) -> String {
    text
}

/// The tutorial's text.
fn tutorial_text() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/TUTORIAL.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// The text of section `section`, from its heading to the next one.
fn section_text(section: u32) -> String {
    let text = tutorial_text();
    let heading = format!("## {section}.");
    let start = text
        .find(&heading)
        .unwrap_or_else(|| panic!("no section {section} in docs/TUTORIAL.md"));
    let rest = &text[start + heading.len()..];
    let end = rest.find("\n## ").map_or(rest.len(), |end| end + 1);
    rest[..end].to_string()
}

/// The `sh` lines of section `section`, in order, with their line numbers in the document.
fn tutorial_lines(section: u32) -> Vec<(usize, String)> {
    let path = "docs/TUTORIAL.md";
    let text = tutorial_text();
    let mut lines = Vec::new();
    let mut in_section = false;
    let mut in_sh = false;
    let mut in_other_block = false;
    for (number, line) in text.lines().enumerate() {
        let number = number + 1;
        if !in_sh && !in_other_block {
            if line.starts_with(&format!("## {section}.")) {
                in_section = true;
                continue;
            }
            if in_section && line.starts_with("## ") {
                break;
            }
        }
        if !in_section {
            continue;
        }
        let trimmed = line.trim();
        if in_sh {
            if trimmed.starts_with("```") {
                in_sh = false;
            } else if !trimmed.is_empty() {
                lines.push((number, trimmed.to_string()));
            }
        } else if in_other_block {
            if trimmed.starts_with("```") {
                in_other_block = false;
            }
        } else if trimmed == "```sh" {
            in_sh = true;
        } else if trimmed.starts_with("```") {
            in_other_block = true;
        }
    }
    assert!(
        !in_sh && !in_other_block,
        "a code block in section {section} of {path} is not closed"
    );
    assert!(
        !lines.is_empty(),
        "no ```sh lines found in section {section} of {path}"
    );
    lines
}

/// The lines of the `text` block that follows the `sh` block holding line `number` of the
/// document: what the tutorial says the command prints.
fn shown_output(number: usize) -> Vec<String> {
    let text = tutorial_text();
    let mut rest = text.lines().skip(number);
    let sh_end = rest
        .by_ref()
        .position(|line| line.trim().starts_with("```"));
    assert!(
        sh_end.is_some(),
        "docs/TUTORIAL.md line {number}: its sh block is not closed"
    );
    let next_fence = rest.by_ref().find(|line| line.trim().starts_with("```"));
    assert_eq!(
        next_fence.map(str::trim),
        Some("```text"),
        "docs/TUTORIAL.md line {number}: the next code block after this command should be a \
         ```text block showing what it prints"
    );
    rest.take_while(|line| !line.trim().starts_with("```"))
        .map(str::to_string)
        .collect()
}

/// A line of output as compared: words separated by single spaces, and a number of
/// seconds (`1.0 s`) as `N.N s`, since a gap is measured anew on every run.
fn comparable(line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut out = Vec::with_capacity(words.len());
    for (at, word) in words.iter().enumerate() {
        let seconds =
            words.get(at + 1) == Some(&"s") && word.contains('.') && word.parse::<f64>().is_ok();
        out.push(if seconds { "N.N" } else { word });
    }
    out.join(" ")
}

/// Checks that `printed` shows the lines of `shown` (a tutorial `text` block), in order:
/// lines next to each other in the block are next to each other in the output (blank lines
/// aside); a line `...` stands for any number of lines; a line ending in ` ...` for any
/// line that begins like it.
fn assert_shows(at: &str, shown: &[String], printed: &str) {
    let printed: Vec<String> = printed
        .lines()
        .map(comparable)
        .filter(|line| !line.is_empty())
        .collect();
    let mut from = 0;
    let mut runs: Vec<Vec<String>> = vec![Vec::new()];
    for line in shown.iter().map(|line| comparable(line)) {
        if line == "..." {
            runs.push(Vec::new());
        } else if !line.is_empty() {
            runs.last_mut().expect("a run").push(line);
        }
    }
    let fits = |expected: &String, line: &String| match expected.strip_suffix(" ...") {
        Some(start) => line.starts_with(start),
        None => line == expected,
    };
    for run in runs.iter().filter(|run| !run.is_empty()) {
        let found = (from..=printed.len().saturating_sub(run.len())).find(|&start| {
            run.iter()
                .zip(&printed[start..])
                .all(|(expected, line)| fits(expected, line))
                && printed.len() >= start + run.len()
        });
        let start = found.unwrap_or_else(|| {
            panic!(
                "{at}: the tutorial says it prints\n  {}\nbut after line {from} of its output it \
                 printed\n  {}",
                run.join("\n  "),
                printed[from..].join("\n  ")
            )
        });
        from = start + run.len();
    }
}

/// Splits a shell line into words (single and double quotes; no escapes, no expansion),
/// and returns the trailing `# comment`, if any.
fn split_line(line: &str) -> (Vec<String>, Option<String>) {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for (at, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => word.push(c),
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    in_word = true;
                }
                '#' if !in_word => {
                    return (words, Some(line[at + 1..].trim().to_string()));
                }
                c if c.is_whitespace() => {
                    if in_word {
                        words.push(std::mem::take(&mut word));
                        in_word = false;
                    }
                }
                c => {
                    word.push(c);
                    in_word = true;
                }
            },
        }
    }
    assert!(quote.is_none(), "unclosed quote in tutorial line: {line}");
    if in_word {
        words.push(word);
    }
    (words, None)
}

/// The exit code a `# exit N: …` comment expects (0 without one).
fn expected_exit(comment: Option<&str>) -> i32 {
    comment
        .and_then(|c| c.strip_prefix("exit "))
        .map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits
                .parse()
                .unwrap_or_else(|_| panic!("bad `# exit N` comment: {rest}"))
        })
        .unwrap_or(0)
}

/// The value after `--flag` in `words`.
fn flag<'a>(words: &'a [String], name: &str) -> Option<&'a str> {
    words
        .iter()
        .position(|w| w == name)
        .and_then(|at| words.get(at + 1))
        .map(String::as_str)
}

/// Runs `wtd ARGS…` (blocking, time-limited) without holding up the runtime.
async fn wtd(dir: &Path, args: Vec<String>) -> Run {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || wtd_blocking(&dir, &args))
        .await
        .expect("the command thread")
}

/// A reader working through the tutorial in one folder, with one proxy.
struct Reader {
    /// The reader's own folder (`~`), removed when the test ends.
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    /// The proxy every section's URL is mapped to.
    proxy: Proxy,
    /// Nodes started by `cargo run --example node`, with their homes.
    nodes: Vec<(String, Node)>,
    /// The example programs started by `cargo run --example NAME -- HOME`, running.
    programs: Vec<Program>,
    /// The text of the section being run: what it says the programs print.
    prose: String,
    /// What `wtd key new` printed, for the `grant add` line: the public key and the
    /// proof that its holder has the private one.
    public_key: Option<String>,
    proof: Option<String>,
    /// `wtd call` lines whose output was checked.
    calls_checked: usize,
    /// The examples run to their end (`cargo run --example NAME`), in order.
    examples_run: Vec<String>,
}

/// An example program as cargo built it, running on a home; killed when dropped, as the
/// reader's Ctrl-C stops it.
struct Program {
    /// The example's name (`garden`).
    example: String,
    /// The home it serves from.
    home: String,
    child: std::process::Child,
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Reader {
    async fn new() -> Reader {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let proxy = Proxy::start(listener, Config::new(dir.join("proxy-data")))
            .await
            .expect("proxy starts");
        Reader {
            _tmp: tmp,
            dir,
            proxy,
            nodes: Vec::new(),
            programs: Vec::new(),
            prose: String::new(),
            public_key: None,
            proof: None,
            calls_checked: 0,
            examples_run: Vec::new(),
        }
    }

    /// The tutorial's values, mapped to this test's.
    fn map(&self, word: &str) -> String {
        let mut word = word.to_string();
        for url in TUTORIAL_URLS {
            word = word.replace(url, &self.proxy.url());
        }
        match word.strip_prefix(TUTORIAL_HOME) {
            Some(rest) => self.dir.join(rest).display().to_string(),
            None => word,
        }
    }

    /// Runs every `sh` line of `section`, as written.
    async fn section(&mut self, section: u32) {
        self.prose = section_text(section);
        for (number, line) in tutorial_lines(section) {
            let at = format!("docs/TUTORIAL.md line {number}: `{line}`");
            eprintln!("tutorial: {at}");
            self.line(number, &at, &line).await;
        }
    }

    async fn line(&mut self, number: usize, at: &str, line: &str) {
        let (words, comment) = split_line(line);
        let words: Vec<String> = words.iter().map(|w| self.map(w)).collect();
        let words_str: Vec<&str> = words.iter().map(String::as_str).collect();
        match words_str.as_slice() {
            ["cargo", "run", "-p", "wtd-proxy", ..] | ["wtd-proxy", ..] => {
                // The proxy already runs in-process; check the line still asks for the
                // port the other lines connect to.
                assert!(line.contains(":14151"), "{at}: the proxy listens elsewhere");
            }
            [
                "cargo",
                "install",
                "--path",
                "wtd" | "wtd-proxy",
                "--locked",
            ] => {}
            ["cargo", "run", "--example", "node", "--", rest @ ..] => {
                let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
                let name = flag(&rest, "--name").unwrap_or_else(|| panic!("{at}: no --name"));
                let proxy_url =
                    flag(&rest, "--proxy").unwrap_or_else(|| panic!("{at}: no --proxy"));
                let home = flag(&rest, "--home").unwrap_or_else(|| panic!("{at}: no --home"));
                assert_eq!(proxy_url, self.proxy.url(), "{at}: another proxy");
                let node = Node::start(NodeConfig::new(name, proxy_url, home).serve(&["demo"]))
                    .await
                    .unwrap_or_else(|e| panic!("{at}: the node does not start: {e}"));
                self.nodes.push((home.to_string(), node));
                self.wait_listed(at, home, name).await;
            }
            ["cargo", "run", "--example", example, "--", home] => {
                // The reader stops what held this home (Ctrl-C) first.
                let (held, others): (Vec<_>, Vec<_>) = std::mem::take(&mut self.nodes)
                    .into_iter()
                    .partition(|(h, _)| h == home);
                self.nodes = others;
                for (_, node) in held {
                    node.stop().await;
                }
                self.programs.retain(|program| program.home != *home);
                let (program, first) = start_example(at, example, home).await;
                let said = format!("It prints `{first}`");
                assert!(
                    self.prose.contains(&said),
                    "{at}: the program's first line is `{first}`; the tutorial should say \
                     so, as \"{said}\""
                );
                self.programs.push(program);
                let name = wtd::node::record::NodeRecord::read(Path::new(home))
                    .unwrap_or_else(|e| panic!("{at}: {e}"))
                    .name;
                self.wait_listed(at, home, &name).await;
            }
            ["cargo", "run", "--example", example] => {
                let run = run_example(at, example).await;
                assert_shows(at, &shown_output(number), &run.stdout);
                match *example {
                    "supervision" => assert!(
                        run.stderr.contains("panicked at src/lib.rs"),
                        "{at}: the tutorial says each panic of the worker is printed on \
                         stderr: {}",
                        run.stderr
                    ),
                    // The gap is measured anew on every run (its length depends on the
                    // machine's load, so it is shown, not asserted): it must be printed.
                    "failover" => assert!(
                        failover_gap(&run.stdout).is_some_and(|gap| gap >= 0.0),
                        "{at}: the example prints no gap: {}",
                        run.stdout
                    ),
                    _ => {}
                }
                self.examples_run.push(example.to_string());
            }
            ["wtd", ..] => self.wtd_line(at, &words, comment.as_deref()).await,
            _ => panic!(
                "{at}: the tutorial has a command this test does not know; teach \
                 wtd/tests/tutorial.rs to run it"
            ),
        }
    }

    /// Waits until the directory lists node `name` (asked with the home `home`).
    async fn wait_listed(&self, at: &str, home: &str, name: &str) {
        let deadline = Instant::now() + SETTLE_LIMIT;
        loop {
            let args = vec![
                "--json".to_string(),
                "--home".to_string(),
                home.to_string(),
                "nodes".to_string(),
            ];
            let run = wtd(&self.dir, args).await;
            let listed = run.code == Some(0)
                && serde_json::from_str::<serde_json::Value>(&run.stdout)
                    .ok()
                    .and_then(|v| v.as_array().map(|a| a.iter().any(|n| n["name"] == name)))
                    .unwrap_or(false);
            if listed {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{at}: node `{name}` is not in the directory after {SETTLE_LIMIT:?}: {run:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wtd_line(&mut self, at: &str, words: &[String], comment: Option<&str>) {
        let expect = expected_exit(comment);
        let mut args: Vec<String> = words[1..].to_vec();
        if let Some(w) = args.iter_mut().find(|w| *w == PUBLIC_KEY_PLACEHOLDER) {
            *w = self.public_key.clone().unwrap_or_else(|| {
                panic!("{at}: {PUBLIC_KEY_PLACEHOLDER} before any `wtd key new`")
            });
        }
        if let Some(w) = args.iter_mut().find(|w| *w == PROOF_PLACEHOLDER) {
            *w = self
                .proof
                .clone()
                .unwrap_or_else(|| panic!("{at}: {PROOF_PLACEHOLDER} before any `wtd key new`"));
        }
        let is_key_new = args.windows(2).any(|w| w[0] == "key" && w[1] == "new");
        let is_nodes = args.last().is_some_and(|w| w == "nodes");
        let call = args
            .iter()
            .position(|w| w == "call")
            .map(|at| args[at + 1..].to_vec());
        if is_key_new {
            args.insert(0, "--json".to_string());
        }

        let run = if is_nodes {
            // A new grant reaches the directory with the node's next ping.
            let deadline = Instant::now() + SETTLE_LIMIT;
            loop {
                let run = wtd(&self.dir, args.clone()).await;
                if run.code != Some(0)
                    || run.stdout.contains("accepts your key")
                    || Instant::now() >= deadline
                {
                    break run;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        } else {
            wtd(&self.dir, args.clone()).await
        };

        assert_eq!(
            run.code,
            Some(expect),
            "{at}: expected exit {expect} (ran `wtd {}`): {run:#?}",
            args.join(" ")
        );
        if is_nodes {
            assert!(
                run.stdout.contains("alice (accepts your key)"),
                "{at}: `wtd nodes` should show `alice (accepts your key)` within {SETTLE_LIMIT:?}: {run:#?}"
            );
        }
        if let (Some(call), 0) = (call, expect) {
            // What the tutorial says each successful call prints.
            let printed = match call.iter().map(String::as_str).collect::<Vec<_>>()[..] {
                ["alice", "demo/add", "[2, 3]"] => Some("5"),
                ["alice", "garden/moisture", "[]"] => Some("42"),
                ["alice", "garden/water", "[5]"] => Some("\"watered for 5 s\""),
                ["alice", "guests/guestbook@book", r#"{"Sign": "bob"}"#] => {
                    Some("\"welcome, bob: you are guest 1\"")
                }
                ["alice", "guests/guestbook@book", r#""Last""#] => Some("\"bob\""),
                _ => None,
            };
            if let Some(printed) = printed {
                assert_eq!(
                    run.stdout.trim(),
                    printed,
                    "{at}: the call prints {printed}"
                );
                self.calls_checked += 1;
            }
        }
        if is_key_new {
            let json: serde_json::Value = serde_json::from_str(&run.stdout)
                .unwrap_or_else(|e| panic!("{at}: `key new --json` ({e}): {run:#?}"));
            let key = json["public_key"]
                .as_str()
                .unwrap_or_else(|| panic!("{at}: no public_key in {json:#}"));
            self.public_key = Some(key.to_string());
            let made = json["proof"]
                .as_str()
                .unwrap_or_else(|| panic!("{at}: no proof in {json:#}"));
            self.proof = Some(made.to_string());
        }
    }

    /// The examples running, by name.
    fn running(&self) -> Vec<&str> {
        self.programs.iter().map(|p| p.example.as_str()).collect()
    }

    async fn finish(self) {
        drop(self.programs);
        for (_, node) in self.nodes {
            node.stop().await;
        }
        self.proxy.stop().await;
    }
}

/// Builds example `example` as a reader's `cargo run` would, starts it on `home`, and
/// returns it with the first line it prints (that it serves).
async fn start_example(at: &str, example: &str, home: &str) -> (Program, String) {
    let mut child = std::process::Command::new(build_example(at, example))
        .arg(home)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{at}: the {example} program does not start: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let program = Program {
        example: example.to_string(),
        home: home.to_string(),
        child,
    };
    let first = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).map(|_| line)
    });
    let first = tokio::time::timeout(Duration::from_secs(30), first)
        .await
        .unwrap_or_else(|_| panic!("{at}: the {example} program said nothing in 30 s"))
        .expect("joined")
        .expect("read");
    (program, first.trim().to_string())
}

/// Builds example `example` as a reader's `cargo run` would; returns its program's path.
fn build_example(at: &str, example: &str) -> std::path::PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = std::process::Command::new(&cargo)
        .args(["build", "--quiet", "--example", example])
        .current_dir(workspace)
        .status()
        .expect("cargo runs");
    assert!(
        built.success(),
        "{at}: the {example} example does not build"
    );
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    target.join("debug/examples").join(example)
}

/// What an example that ends by itself printed.
struct Finished {
    stdout: String,
    stderr: String,
}

/// Builds example `example` and runs it to its end (at most [`EXAMPLE_LIMIT`]), as
/// `cargo run --example NAME` does; it must succeed.
async fn run_example(at: &str, example: &str) -> Finished {
    let program = build_example(at, example);
    let at = at.to_string();
    tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new(&program)
            .env_remove("RUST_BACKTRACE")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{at}: {} does not start: {e}", program.display()));
        let read = |mut pipe: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        };
        let stdout = read(Box::new(child.stdout.take().expect("stdout")));
        let stderr = read(Box::new(child.stderr.take().expect("stderr")));
        let deadline = Instant::now() + EXAMPLE_LIMIT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{at}: the example did not end within {EXAMPLE_LIMIT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let finished = Finished {
            stdout: stdout.join().expect("stdout read"),
            stderr: stderr.join().expect("stderr read"),
        };
        assert!(
            status.success(),
            "{at}: the example failed ({status}):\n{}\n{}",
            finished.stdout,
            finished.stderr
        );
        finished
    })
    .await
    .expect("the example thread")
}

/// The gap `examples/failover.rs` measured: the seconds in "answered again 1.0 s after".
fn failover_gap(stdout: &str) -> Option<f64> {
    let after = stdout.split("answered again ").nth(1)?;
    after.split_whitespace().next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_sections_1_3_and_4_run_as_written() {
    let mut reader = Reader::new().await;
    reader.section(1).await;
    assert!(
        !reader.nodes.is_empty(),
        "section 1 starts no node (`cargo run --example node …`)"
    );
    assert!(
        reader.calls_checked >= 1,
        "section 1 never calls `demo/add '[2, 3]'`"
    );
    let before = reader.calls_checked;
    reader.section(3).await;
    assert_eq!(
        reader.running(),
        ["garden"],
        "section 3 runs the garden program, in place of section 1's node"
    );
    assert!(reader.nodes.is_empty(), "section 1's node was stopped");
    assert!(
        reader.calls_checked >= before + 2,
        "section 3 calls both garden functions"
    );
    let before = reader.calls_checked;
    reader.section(4).await;
    assert_eq!(
        reader.running(),
        ["guestbook"],
        "section 4 runs the guestbook program, in place of section 3's"
    );
    assert!(
        reader.calls_checked >= before + 2,
        "section 4 signs the guestbook and reads who signed last"
    );
    reader.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_section_2_runs_as_written() {
    let mut reader = Reader::new().await;
    reader.section(2).await;
    assert_eq!(
        reader.calls_checked, 1,
        "section 2 calls `demo/add '[2, 3]'` once"
    );
    reader.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_section_5_runs_as_written() {
    let mut reader = Reader::new().await;
    reader.section(5).await;
    assert_eq!(
        reader.examples_run,
        ["supervision", "failover"],
        "section 5 runs the supervision example, then the failover one"
    );
    reader.finish().await;
}

/// The `rust` blocks of section `section`, in order.
fn rust_blocks(section: u32) -> Vec<String> {
    let text = section_text(section);
    let mut blocks = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("```rust\n") {
        let block = &rest[start + "```rust\n".len()..];
        let end = block.find("```").expect("closed");
        blocks.push(block[..end].to_string());
        rest = &block[end + 3..];
    }
    blocks
}

/// The first `rust` block of section `section`.
fn rust_block(section: u32) -> String {
    rust_blocks(section).remove(0)
}

/// `block` with every non-empty line indented by `spaces` more.
fn indented(block: &str, spaces: usize) -> String {
    block
        .lines()
        .map(|line| match line {
            "" => "\n".to_string(),
            line => format!("{:spaces$}{line}\n", ""),
        })
        .collect()
}

#[test]
fn the_garden_program_in_the_tutorial_is_examples_garden_rs() {
    assert_eq!(
        rust_block(3),
        include_str!("../../examples/garden.rs"),
        "docs/TUTORIAL.md section 3 shows examples/garden.rs whole: paste the file again"
    );
}

#[test]
fn the_guestbook_program_in_the_tutorial_is_examples_guestbook_rs() {
    assert_eq!(
        rust_block(4),
        include_str!("../../examples/guestbook.rs"),
        "docs/TUTORIAL.md section 4 shows examples/guestbook.rs whole: paste the file again"
    );
}

#[test]
fn the_code_in_section_5_is_the_code_of_src() {
    let sources = [
        ("src/lib.rs", include_str!("../../src/lib.rs")),
        ("src/failover.rs", include_str!("../../src/failover.rs")),
    ];
    let blocks = rust_blocks(5);
    assert!(!blocks.is_empty(), "section 5 shows no code");
    for block in blocks {
        let found = sources.iter().any(|(_, source)| {
            (0..=8)
                .step_by(4)
                .any(|spaces| source.contains(&indented(&block, spaces)))
        });
        assert!(
            found,
            "docs/TUTORIAL.md section 5 shows code that is in none of {:?} (paste it again \
             from there):\n{block}",
            sources.map(|(path, _)| path)
        );
    }
}

#[test]
fn shown_output_matches_in_order_with_gaps() {
    let printed = "a\n  b 1.0 s later\n\nc <x.2>\nd\ne: long tail\n";
    let shown = |lines: &[&str]| lines.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    assert_shows(
        "t",
        &shown(&["b 2.5 s later", "c <x.2>", "...", "e: ..."]),
        printed,
    );
    assert_shows("t", &shown(&["a", "..."]), printed);
    for wrong in [
        &["a", "c <x.2>"][..],
        &["c <x.3>"],
        &["d", "a"],
        &["e: short ..."],
    ] {
        let shown = shown(wrong);
        let failed = std::panic::catch_unwind(|| assert_shows("t", &shown, printed)).is_err();
        assert!(failed, "{wrong:?} should not match");
    }
}

#[test]
fn split_line_handles_quotes_and_comments() {
    let (words, comment) =
        split_line(r#"wtd --home /tmp/bob call alice demo/add '["two", 3]'   # exit 7: no fit"#);
    assert_eq!(
        words,
        [
            "wtd",
            "--home",
            "/tmp/bob",
            "call",
            "alice",
            "demo/add",
            r#"["two", 3]"#
        ]
    );
    assert_eq!(comment.as_deref(), Some("exit 7: no fit"));
    assert_eq!(expected_exit(comment.as_deref()), 7);
    assert_eq!(expected_exit(Some("bob, demo, 10/s")), 0);
    assert_eq!(expected_exit(None), 0);
}
