//! The whole-path example (`examples/breast_cancer.rs`) keeps its promises: it trains to a
//! real accuracy, and the network reloaded from its file in another process scores exactly
//! as the deployed form did in the process that trained it.

#[allow(dead_code)]
#[path = "../examples/breast_cancer.rs"]
mod example;

use staticnn::data::{Preprocess, Standardise};
use staticnn::layers::NormalizeState;
use std::path::Path;
use std::process::Command;

/// The environment variable that tells [`child_evaluates_a_file`] which file to evaluate.
const FILE_VAR: &str = "STATICNN_BREAST_CANCER_FILE";

/// The child process of [`whole_path_example_keeps_its_promises`]: this test binary run
/// again with only this test selected, as the example runs itself with `--evaluate`.
#[test]
#[ignore = "the child process of whole_path_example_keeps_its_promises"]
fn child_evaluates_a_file() {
    let file = std::env::var(FILE_VAR).expect("run by the whole-path test, which sets the file");
    example::evaluate_file(Path::new(&file)).expect("the saved file loads and evaluates");
}

/// Runs the example's `run()` (with this binary as the evaluating child) and checks: a
/// test accuracy of at least 95 % for the deployed network (measured: 99.12 %, 112 of 113
/// test rows, with the fixed seed; 95 % leaves room for other kernels' rounding), a
/// confusion matrix that accounts for every test row, learning curves for every epoch
/// run, `Normalize` statistics fitted on the training rows only, and the child's figures
/// equal to the parent's, bit for bit.
#[test]
fn whole_path_example_keeps_its_promises() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("breast_cancer_path");
    let exe = std::env::current_exe().expect("the test binary's path");
    let report = example::run(false, &dir, &|file| {
        let mut c = Command::new(&exe);
        c.args([
            "child_evaluates_a_file",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(FILE_VAR, file);
        c
    })
    .expect("the whole path runs");

    let [train, val, test] = report.sizes;
    assert_eq!(train + val + test, 569);
    assert_eq!(report.deployed.confusion.total(), test as u64);
    assert_eq!(report.deployed.evaluation.samples, test);
    let accuracy = report.deployed.confusion.accuracy();
    assert!(accuracy >= 0.95, "test accuracy {accuracy:.4}");
    assert_eq!(report.deployed.evaluation.accuracy, Some(accuracy));
    assert_eq!(report.curves.len(), report.fit.epochs_run);
    assert!(report.fit.epochs_run <= example::EPOCHS);
    assert!(report.file.is_file());

    // Standardisation was fitted on the training rows only, inside the model.
    let csv = example::load().expect("the CSV file reads");
    let [train_rows, _, _] = example::split_rows(&csv.labels).expect("the split");
    let train = csv.dataset().unwrap().select(&train_rows).unwrap();
    let fitted = Standardise::fit(&train).expect("training rows");
    assert_eq!(report.normalize, NormalizeState::from(fitted));

    // Reloaded in another process: the same figures, exactly.
    assert_eq!(report.reloaded, report.deployed);
}
