//! Compile-fail tests of this crate's networks: every file under `tests/shapes/` is a program
//! that must not compile, and the compiler's output must be the `.stderr` file next to it.
//!
//! Compilers change the wording and layout of their messages between versions, so the
//! snapshots are checked with one toolchain, the one named in `tests/shapes/TOOLCHAIN`
//! (`major.minor`): on another, this test says so and passes without checking. The
//! environment variable `UI_TESTS` overrides that: `UI_TESTS=1` checks whatever the
//! toolchain (what a CI job on the pinned toolchain sets, so that a skip cannot go
//! unnoticed), `UI_TESTS=0` never checks.
//!
//! After changing a network or upgrading the toolchain: `TRYBUILD=overwrite UI_TESTS=1 cargo
//! test --test shapes`, read every changed `.stderr`, and update `TOOLCHAIN`.

use std::process::Command;

/// Why the snapshots are not checked with this toolchain, or `None` when they are.
fn skip_reason() -> Option<String> {
    match std::env::var("UI_TESTS").as_deref() {
        Ok("1") => return None,
        Ok("0") => return Some("UI_TESTS=0".to_string()),
        _ => {}
    }
    let pinned = include_str!("shapes/TOOLCHAIN").trim();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    // "rustc 1.95.0 (59807616e 2026-04-14)" → "1.95"
    let found = version.split_whitespace().nth(1).unwrap_or("unknown");
    let minor: Vec<&str> = found.split('.').take(2).collect();
    if minor.join(".") == pinned {
        None
    } else {
        Some(format!(
            "the snapshots are for Rust {pinned}, this is {found} (set UI_TESTS=1 to check anyway)"
        ))
    }
}

#[test]
fn shape_errors() {
    if let Some(reason) = skip_reason() {
        eprintln!("tests/shapes: NOT CHECKED: {reason}");
        return;
    }
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/shapes/*.rs");
}
