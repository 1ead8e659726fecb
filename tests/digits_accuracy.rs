#![cfg(feature = "plot")]
//! The digits example reaches the accuracy the README promises.

#[allow(dead_code)]
#[path = "../examples/digits.rs"]
mod example;

/// Runs the example as `cargo run --release --example digits --features plot` does and
/// checks its promises: ≥ 97.5 % test accuracy for the deployed network, a confusion matrix
/// that accounts for every test image, learning curves for every epoch, and a bagged
/// ensemble that beats its average member, and an int8 form (quantised with 200 training
/// images) that loses at most 0.5 percentage points of test accuracy in under a third of
/// the bytes.
#[test]
fn digits_example_keeps_its_promises() {
    let report = example::run(false).expect("training stays finite");
    assert_eq!(report.confusion.total(), 355);
    assert!(
        report.accuracy >= 0.975,
        "test accuracy {:.4}",
        report.accuracy
    );
    assert!(
        report.int8_accuracy >= report.accuracy - 0.005,
        "int8 {:.4} vs f32 {:.4}",
        report.int8_accuracy,
        report.accuracy
    );
    assert!(3 * report.int8_bytes < report.f32_bytes);
    assert!(!report.curves.is_empty() && report.curves.len() <= example::EPOCHS);
    let last = report.curves.last().expect("at least one epoch");
    assert!(last.val_accuracy.is_some_and(|a| a > 0.9));
    let mean = report.member_accuracy.iter().sum::<f64>() / example::MEMBERS as f64;
    assert!(
        report.ensemble_accuracy > mean,
        "ensemble {:.4} vs mean member {mean:.4}",
        report.ensemble_accuracy
    );
}
