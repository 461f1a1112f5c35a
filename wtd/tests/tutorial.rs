//! The tutorial, run literally: every command of section 1 of `docs/TUTORIAL.md` ("Three
//! terminals on one machine"), read from the document at test time, so the tutorial
//! cannot drift from the code.
//!
//! The proxy and Alice's node run in-process (`cargo run …` lines), every `wtd …` line
//! runs the built `wtd` binary. The tutorial's fixed values (the proxy's URL, `/tmp/…`
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

/// The proxy URL the tutorial types.
const TUTORIAL_URL: &str = "http://127.0.0.1:14151";
/// Where the tutorial keeps its folders and files.
const TUTORIAL_TMP: &str = "/tmp/";
/// The placeholder the tutorial uses for the public key `wtd key new` prints.
const PUBLIC_KEY_PLACEHOLDER: &str = "PUBLIC_KEY_FROM_BOB";
/// The placeholder for the proof `wtd key new` prints next to the public key.
const PROOF_PLACEHOLDER: &str = "PROOF_FROM_BOB";
/// How long a node may take to show in the directory, or a grant to reach it.
const SETTLE_LIMIT: Duration = Duration::from_secs(5);

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

/// The `sh` lines of section 1, in order, with their line numbers in the document.
fn tutorial_lines() -> Vec<(usize, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/TUTORIAL.md");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let mut lines = Vec::new();
    let mut in_section = false;
    let mut in_sh = false;
    let mut in_other_block = false;
    for (number, line) in text.lines().enumerate() {
        let number = number + 1;
        if !in_sh && !in_other_block {
            if line.starts_with("## 1.") {
                in_section = true;
                continue;
            }
            if line.starts_with("## 2.") {
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
        "a code block in section 1 of {path} is not closed"
    );
    assert!(
        !lines.is_empty(),
        "no ```sh lines found in section 1 (\"## 1.\" to \"## 2.\") of {path}"
    );
    lines
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_section_1_runs_as_written() {
    let lines = tutorial_lines();

    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().to_path_buf();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let proxy = Proxy::start(listener, Config::new(dir.join("wtd-proxy")))
        .await
        .expect("proxy starts");
    let url = proxy.url();

    // The tutorial's values, mapped to this test's.
    let map = |word: &str| -> String {
        let word = word.replace(TUTORIAL_URL, &url);
        match word.strip_prefix(TUTORIAL_TMP) {
            Some(rest) => dir.join(rest).display().to_string(),
            None => word,
        }
    };

    let mut nodes: Vec<Node> = Vec::new();
    let mut public_key: Option<String> = None;
    let mut proof: Option<String> = None;
    let mut calls_checked = 0;

    for (number, line) in &lines {
        let at = format!("docs/TUTORIAL.md line {number}: `{line}`");
        eprintln!("tutorial: {at}");
        let (words, comment) = split_line(line);
        let words: Vec<String> = words.iter().map(|w| map(w)).collect();
        let words_str: Vec<&str> = words.iter().map(String::as_str).collect();

        match words_str.as_slice() {
            ["cargo", "run", "-p", "wtd-proxy", ..] => {
                // The proxy already runs in-process; check the line still asks for the
                // tutorial's address, which the other lines use.
                assert!(
                    line.contains(TUTORIAL_URL.trim_start_matches("http://")),
                    "{at}: the proxy line does not listen where the other lines connect"
                );
            }
            ["cargo", "install", "--path", "wtd"] => {}
            ["cargo", "run", "--example", "node", "--", rest @ ..] => {
                let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
                let name = flag(&rest, "--name").unwrap_or_else(|| panic!("{at}: no --name"));
                let proxy_url =
                    flag(&rest, "--proxy").unwrap_or_else(|| panic!("{at}: no --proxy"));
                let home = flag(&rest, "--home").unwrap_or_else(|| panic!("{at}: no --home"));
                assert_eq!(proxy_url, url, "{at}: the node talks to another proxy");
                let node = Node::start(NodeConfig::new(name, proxy_url, home).serve(&["demo"]))
                    .await
                    .unwrap_or_else(|e| panic!("{at}: the node does not start: {e}"));
                nodes.push(node);
                // Wait until the directory lists it.
                let deadline = Instant::now() + SETTLE_LIMIT;
                loop {
                    let args = vec![
                        "--json".to_string(),
                        "--home".to_string(),
                        home.to_string(),
                        "nodes".to_string(),
                    ];
                    let run = wtd(&dir, args).await;
                    let listed = run.code == Some(0)
                        && serde_json::from_str::<serde_json::Value>(&run.stdout)
                            .ok()
                            .and_then(|v| v.as_array().map(|a| a.iter().any(|n| n["name"] == name)))
                            .unwrap_or(false);
                    if listed {
                        break;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "{at}: node `{name}` is not in the directory after {SETTLE_LIMIT:?}: {run:#?}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            ["wtd", ..] => {
                let expect = expected_exit(comment.as_deref());
                let mut args: Vec<String> = words[1..].to_vec();
                if let Some(w) = args.iter_mut().find(|w| *w == PUBLIC_KEY_PLACEHOLDER) {
                    *w = public_key.clone().unwrap_or_else(|| {
                        panic!("{at}: {PUBLIC_KEY_PLACEHOLDER} before any `wtd key new`")
                    });
                }
                if let Some(w) = args.iter_mut().find(|w| *w == PROOF_PLACEHOLDER) {
                    *w = proof.clone().unwrap_or_else(|| {
                        panic!("{at}: {PROOF_PLACEHOLDER} before any `wtd key new`")
                    });
                }
                let is_key_new = args.windows(2).any(|w| w[0] == "key" && w[1] == "new");
                let is_nodes = args.last().is_some_and(|w| w == "nodes");
                let is_add_2_3 = args
                    .windows(3)
                    .any(|w| w[0] == "call" && w[1] == "alice" && w[2] == "demo/add")
                    && args.last().is_some_and(|w| w == "[2, 3]");
                if is_key_new {
                    args.insert(0, "--json".to_string());
                }

                let run = if is_nodes {
                    // A new grant reaches the directory with the node's next ping.
                    let deadline = Instant::now() + SETTLE_LIMIT;
                    loop {
                        let run = wtd(&dir, args.clone()).await;
                        if run.code != Some(0)
                            || run.stdout.contains("accepts your key")
                            || Instant::now() >= deadline
                        {
                            break run;
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                } else {
                    wtd(&dir, args.clone()).await
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
                if is_add_2_3 && expect == 0 {
                    assert_eq!(run.stdout.trim(), "5", "{at}: the call should print 5");
                    calls_checked += 1;
                }
                if is_key_new {
                    let json: serde_json::Value = serde_json::from_str(&run.stdout)
                        .unwrap_or_else(|e| panic!("{at}: `key new --json` ({e}): {run:#?}"));
                    let key = json["public_key"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{at}: no public_key in {json:#}"));
                    public_key = Some(key.to_string());
                    let made = json["proof"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{at}: no proof in {json:#}"));
                    proof = Some(made.to_string());
                }
            }
            _ => panic!(
                "{at}: the tutorial has a command this test does not know; teach \
                 wtd/tests/tutorial.rs to run it"
            ),
        }
    }

    assert!(
        !nodes.is_empty(),
        "the tutorial starts no node (`cargo run --example node …`)"
    );
    assert!(
        calls_checked >= 1,
        "the tutorial never calls `demo/add '[2, 3]'` successfully"
    );

    for node in nodes {
        node.stop().await;
    }
    proxy.stop().await;
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
