//! `cargo run --example chat`, as a new user runs it: it must finish on its own and tell
//! each step of the chat room's story (examples/chat.rs).

use crate::harness::run_example;

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
    let stdout = run_example("chat");
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
