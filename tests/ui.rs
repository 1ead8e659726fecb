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

/// Longest a single compile error of the catalogue may be, in lines: the literal-width
/// mismatches take 5; no message of `network!` or of the traits it implements should need
/// more than twice that.
const MAX_ERROR_LINES: usize = 10;

/// Snapshots allowed to be longer, with their length: post-monomorphisation errors (a
/// train-mode batch of one through a batch norm, and the others below), to which rustc adds two notes no stable
/// attribute removes ("erroneous constant encountered" and the instantiation). The test
/// fails if one of them changes length, so that this list stays true.
const POST_MONOMORPHISATION: &[(&str, usize)] = &[
    ("data/batch-norm-train-batch-of-one.stderr", 17),
    ("data/batch-norm-train-step-batch-of-one.stderr", 17),
    // A blob that does not fit `network_from_blob!`: a panic in `const` evaluation, with
    // rustc's "erroneous constant encountered" note.
    ("data/blob-for-another-architecture.stderr", 15),
    // The same for `int8_network_from_blob!`: another architecture, a float network's blob,
    // and a blob whose checksums match but whose values the forward pass cannot use.
    ("data/int8-blob-for-another-architecture.stderr", 15),
    ("data/int8-blob-of-a-float-network.stderr", 15),
    ("data/int8-blob-with-a-bad-shift.stderr", 15),
    // `fit_normalize` on a network that does not start with `Normalize`.
    ("data/fit-normalize-without-normalize.stderr", 21),
];

/// Every `.stderr` snapshot under `tests/ui/` holds errors of at most [`MAX_ERROR_LINES`]
/// lines each (but those of [`POST_MONOMORPHISATION`]). A snapshot is split into errors at
/// every line that starts with `error`, so a file that reports several mistakes together
/// (`dsl/several-mistakes-reported-together`) is held to the limit error by error, not as a
/// whole; the blank line between two errors is not counted.
#[test]
fn every_error_is_short() {
    let mut long = Vec::new();
    let mut stack = vec![std::path::PathBuf::from("tests/ui")];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("tests/ui is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "stderr") {
                seen += 1;
                let text = std::fs::read_to_string(&path).expect("a snapshot is text");
                let name = path.strip_prefix("tests/ui").expect("under tests/ui");
                let name = name.to_string_lossy().replace('\\', "/");
                let limit = POST_MONOMORPHISATION
                    .iter()
                    .find(|(file, _)| *file == name)
                    .map(|&(_, lines)| {
                        let counts = errors(&text);
                        assert_eq!(
                            counts,
                            [lines],
                            "{name} changed length: update POST_MONOMORPHISATION"
                        );
                        lines
                    });
                for (i, lines) in errors(&text).iter().enumerate() {
                    if *lines > limit.unwrap_or(MAX_ERROR_LINES) {
                        long.push(format!(
                            "{}: error {} has {lines} lines",
                            path.display(),
                            i + 1
                        ));
                    }
                }
            }
        }
    }
    assert!(seen > 0, "no snapshots found under tests/ui");
    long.sort();
    assert!(
        long.is_empty(),
        "errors longer than {MAX_ERROR_LINES} lines:\n{}",
        long.join("\n")
    );
}

/// The number of lines of each error in a snapshot: from a line starting with `error` to
/// the next, without trailing blank lines.
fn errors(text: &str) -> Vec<usize> {
    let mut counts: Vec<usize> = Vec::new();
    let mut blank_run = 0;
    for line in text.lines() {
        if line.starts_with("error") {
            if let Some(last) = counts.last_mut() {
                *last -= blank_run;
            }
            counts.push(0);
            blank_run = 0;
        }
        if let Some(last) = counts.last_mut() {
            *last += 1;
            blank_run = if line.trim().is_empty() {
                blank_run + 1
            } else {
                0
            };
        }
    }
    if let Some(last) = counts.last_mut() {
        *last -= blank_run;
    }
    counts
}

#[test]
fn errors_are_split_and_counted() {
    let text = "error: a\n --> f.rs:1:1\n  |\n\nerror[E0277]: b\n  |\n  = note: c\n\n";
    assert_eq!(errors(text), [3, 3]);
    assert_eq!(errors(""), Vec::<usize>::new());
}
