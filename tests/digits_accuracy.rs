//! The digits example reaches the accuracy the README promises.

#[allow(dead_code)]
#[path = "../examples/digits.rs"]
mod example;

/// Trains exactly as `cargo run --release --example digits --features std` does and checks
/// the test accuracy (≥ 96 %) and that the confusion matrix accounts for every test image.
#[test]
fn digits_example_reaches_96_percent() {
    let report =
        example::run(example::EPOCHS, example::SEED, false).expect("training stays finite");
    let total: usize = report.confusion.iter().flatten().sum();
    assert_eq!(total, 355);
    assert!(
        report.final_loss < 0.1,
        "training loss {}",
        report.final_loss
    );
    assert!(
        report.accuracy >= 0.96,
        "test accuracy {:.4}",
        report.accuracy
    );
}
