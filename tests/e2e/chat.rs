//! `cargo run --example chat`, as a new user runs it: it must finish on its own and tell
//! each step of the chat room's story (examples/chat.rs).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Each step of the story, and a phrase only that step prints.
const STEPS: [(&str, &str); 9] = [
    (
        "Bob joins with his Pid",
        "bob joined; the room holds a billet for <bob.",
    ),
    (
        "Carol joins with her Pid",
        "carol joined; the room holds a billet for <carol.",
    ),
    (
        "Bob's post reaches Carol's process",
        "[carol's process, on node carol] received \"bob: hello, Carol!\"",
    ),
    (
        "Carol's post reaches Bob's process",
        "[bob's process, on node bob] received \"carol: hi Bob\"",
    ),
    (
        "Mallory is refused",
        "Mallory, with a key Alice never granted, posts: refused.",
    ),
    (
        "the room hands out names only",
        "names only, never the Pids it holds",
    ),
    (
        "Carol cannot message Bob's process",
        "it never gave out this Pid",
    ),
    (
        "Bob's process exits and the room drops him",
        "bob dropped from the room, because: node `bob` refused the message to its process: the process has ended",
    ),
    ("it stops", "Everything is stopped."),
];

#[test]
fn the_chat_example_tells_each_step_and_stops_by_itself() {
    // `cargo test` builds the examples, but `cargo test --test e2e` may not: build it
    // (a no-op when it is up to date).
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(&cargo)
        .args(["build", "--quiet", "--example", "chat"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(built.success(), "the chat example does not build");
    let exe = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug/examples/chat");
    let exe = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => std::path::PathBuf::from(dir).join("debug/examples/chat"),
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
            panic!("the chat example did not finish within 2 minutes");
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
    for (step, phrase) in STEPS {
        assert!(
            stdout.contains(phrase),
            "no {step} ({phrase:?}) in:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains("That was not expected"),
        "a step that should be refused worked:\n{stdout}"
    );
}
