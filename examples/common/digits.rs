//! The UCI 8x8 handwritten digits, embedded in the example binary.
//!
//! The data is `data/digits/digits.csv` (see the README beside it for its
//! provenance and licence): 1797 rows of 64 pixel values in `0..=16` and a
//! class label in `0..=9`. It is compiled in with `include_str!`, so the
//! examples run from any working directory and need no files at run time.
//!
//! Include it from an example with
//! `#[path = "common/digits.rs"] mod digits;` and call [`load`].

/// Inputs per sample: one per pixel of the 8x8 image.
pub const FEATURES: usize = 64;

/// Number of classes: the digits 0 to 9.
pub const CLASSES: usize = 10;

/// The CSV file, embedded at compile time.
const CSV: &str = include_str!("../../data/digits/digits.csv");

/// Largest pixel value in the file; pixels are divided by it.
const MAX_PIXEL: f32 = 16.0;

/// Rows in the file.
const ROWS: usize = 1797;

/// Rows that go to the test set under the split rule.
const TEST_ROWS: usize = 355;

/// The digits, split into a training and a test set.
///
/// Stratified and fixed: counting the samples of each class in file order
/// from 0, the `k`-th sample of a class is a test sample when `k % 5 == 4`
/// and a training sample otherwise; rows keep their file order in each set.
/// Pixels are scaled to `[0, 1]`.
pub struct Digits {
    /// Training images, 1442 of them, each 64 pixels in row-major order.
    pub train_x: Vec<[f32; FEATURES]>,
    /// Training labels in `0..CLASSES`, one per training image.
    pub train_y: Vec<usize>,
    /// Test images, 355 of them, each 64 pixels in row-major order.
    pub test_x: Vec<[f32; FEATURES]>,
    /// Test labels in `0..CLASSES`, one per test image.
    pub test_y: Vec<usize>,
}

/// Parses the embedded CSV and returns the fixed train/test split.
///
/// # Panics
///
/// Panics with the line number if a row of the embedded file is malformed.
pub fn load() -> Digits {
    let mut digits = Digits {
        train_x: Vec::with_capacity(ROWS - TEST_ROWS),
        train_y: Vec::with_capacity(ROWS - TEST_ROWS),
        test_x: Vec::with_capacity(TEST_ROWS),
        test_y: Vec::with_capacity(TEST_ROWS),
    };

    let mut rows = 0;
    let mut seen = [0usize; CLASSES];
    for (i, line) in CSV.lines().enumerate() {
        let (x, y) = parse_row(line, i + 1);
        assert!(
            y < CLASSES,
            "digits.csv line {}: label {y} out of range",
            i + 1
        );
        let k = seen[y];
        seen[y] += 1;
        if k % 5 == 4 {
            digits.test_x.push(x);
            digits.test_y.push(y);
        } else {
            digits.train_x.push(x);
            digits.train_y.push(y);
        }
        rows += 1;
    }

    debug_assert_eq!(rows, ROWS, "digits.csv: unexpected row count");
    debug_assert_eq!(digits.train_x.len(), ROWS - TEST_ROWS);
    debug_assert_eq!(digits.train_y.len(), ROWS - TEST_ROWS);
    debug_assert_eq!(digits.test_x.len(), TEST_ROWS);
    debug_assert_eq!(digits.test_y.len(), TEST_ROWS);
    debug_assert!(
        digits
            .train_y
            .iter()
            .chain(&digits.test_y)
            .all(|&y| y < CLASSES),
        "digits.csv: label out of range"
    );
    digits
}

/// Parses one CSV row (`line_no` is 1-based, for messages) into scaled
/// pixels and a label.
fn parse_row(line: &str, line_no: usize) -> ([f32; FEATURES], usize) {
    let mut fields = line.split(',').map(|field| {
        field
            .trim()
            .parse::<u8>()
            .unwrap_or_else(|err| panic!("digits.csv line {line_no}: bad value {field:?}: {err}"))
    });
    let mut next = || {
        fields.next().unwrap_or_else(|| {
            panic!(
                "digits.csv line {line_no}: expected {} values",
                FEATURES + 1
            )
        })
    };

    let mut x = [0.0; FEATURES];
    for pixel in &mut x {
        let value = next();
        debug_assert!(
            f32::from(value) <= MAX_PIXEL,
            "digits.csv line {line_no}: pixel {value} out of range"
        );
        *pixel = f32::from(value) / MAX_PIXEL;
    }
    let label = usize::from(next());

    assert!(
        fields.next().is_none(),
        "digits.csv line {line_no}: more than {} values",
        FEATURES + 1
    );
    (x, label)
}

/// [`load`], with every image standardised by the training images' per-pixel statistics
/// (`staticnn::data::Standardise` fitted on the training set only).
#[allow(dead_code)] // not every program that includes this module standardises
pub fn load_standardised() -> Result<Digits, Box<dyn std::error::Error>> {
    use staticnn::data::{Dataset, Preprocess, Standardise};
    let mut d = load();
    let norm = Standardise::fit(&Dataset::new(&d.train_x, &d.train_y)?)?;
    norm.apply_all(&mut d.train_x);
    norm.apply_all(&mut d.test_x);
    Ok(d)
}
