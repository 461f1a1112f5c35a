//! What `#[wtd_export]` accepts (`ui/pass`, compiled and run) and the exact errors a
//! beginner sees for each mistake (`ui/fail`, one file per diagnostic).
//!
//! The `.stderr` files are part of the documentation: read them in review. After
//! changing a message, regenerate them with `TRYBUILD=overwrite cargo test --test ui`
//! and read the diff.

use std::io::Write;

#[test]
fn ui() {
    // `cargo test` holds back a passing test's `eprintln!`; writing to stderr itself
    // reaches the person watching, who would otherwise see minutes of nothing explained.
    let _ = writeln!(
        std::io::stderr(),
        "\nui: trybuild compiles each tests/ui/fail/*.rs and compares the compiler's errors \
         with its .stderr file, then builds and runs each tests/ui/pass/*.rs. It builds \
         its own copy of the dependencies in target/tests/trybuild first: about 3 minutes \
         on 2 cores the first time, under a minute after that.\n"
    );
    // One set for all cases, so the dependencies are built once. (Two sets would check
    // the compile-fail cases in one `cargo check`, but build the dependencies twice, in
    // check and in build mode: slower in all.)
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
