//! The catalogue of compile errors of `network!`: one mistake per file under
//! `tests/ui/<topic>/`, with the expected compiler output next to it, and valid but tricky
//! declarations under `tests/ui/pass/`.
//!
//! Regenerate the snapshots with `TRYBUILD=overwrite cargo test --test ui` and read every
//! changed `.stderr` before committing it.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    // With at least one pass case trybuild builds (`cargo build`) rather than checks, so
    // errors raised only after monomorphisation show too.
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/width/*.rs");
    t.compile_fail("tests/ui/dsl/*.rs");
    t.compile_fail("tests/ui/options/*.rs");
    t.compile_fail("tests/ui/loss/*.rs");
    t.compile_fail("tests/ui/data/*.rs");
    t.compile_fail("tests/ui/shape/*.rs");
}
