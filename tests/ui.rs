//! What `#[wtd_export]` accepts (`ui/pass`, compiled and run) and the exact errors a
//! beginner sees for each mistake (`ui/fail`, one file per diagnostic).
//!
//! The `.stderr` files are part of the documentation: read them in review. After
//! changing a message, regenerate them with `TRYBUILD=overwrite cargo test --test ui`
//! and read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
