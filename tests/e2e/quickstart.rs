//! The README's first command, `cargo run --example quickstart`, as a new user runs it:
//! it must finish on its own, and show every kind of refusal it promises.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What the quickstart promises to show (examples/README.md), and a phrase of each
/// refusal's sentence that only that refusal prints.
const REFUSALS: [(&str, &str); 9] = [
    ("Denied", "does not accept this key"),
    ("WrongMission", "but not for mission `admin`"),
    ("BadArguments", "could not read the arguments"),
    ("RateLimited", "rate limit is used up"),
    ("Timeout", "the outcome is unknown"),
    ("Expired", "the grant has expired"),
    ("Revoked", "revoked this key"),
    ("not reciprocal", "node `bob` does not accept this key"),
    ("NodeDown", "is not connected to the proxy"),
];

#[test]
fn the_quickstart_tells_the_whole_story_and_stops_by_itself() {
    // `cargo test` builds the examples, but `cargo test --test e2e` may not: build it
    // (a no-op when it is up to date).
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(&cargo)
        .args(["build", "--quiet", "--example", "quickstart"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(built.success(), "the quickstart does not build");
    let exe =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug/examples/quickstart");
    let exe = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => std::path::PathBuf::from(dir).join("debug/examples/quickstart"),
        None => exe,
    };

    let mut child = Command::new(&exe)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", exe.display()));
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the quickstart did not finish within 2 minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("gets 5."),
        "the first call works:\n{stdout}"
    );
    assert!(
        stdout.contains("a mission is a named group of functions"),
        "it says what a mission is:\n{stdout}"
    );
    for (kind, phrase) in REFUSALS {
        assert!(
            stdout.contains(phrase),
            "no {kind} refusal ({phrase:?}) in:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains("That was not expected"),
        "a step that should be refused worked:\n{stdout}"
    );
    assert!(stdout.contains("Everything is stopped."), "{stdout}");
}
