//! The README's first command, `cargo run --example quickstart`, as a new user runs it:
//! it must finish on its own, and show every kind of refusal it promises.

use crate::harness::run_example;

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
    let stdout = run_example("quickstart");
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
