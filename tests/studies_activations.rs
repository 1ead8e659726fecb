//! Study 2 (examples/study_activations.rs) teaches what it claims, with 20 epochs and two
//! learning rates in the dead-ReLU sweep.

#[allow(dead_code)]
#[path = "../examples/study_activations.rs"]
mod study;

/// Every activation learns the digits; sigmoid is the slowest to bring the training loss
/// down; ReLUs do not die at the normal learning rate, and many die at a high one, taking
/// the accuracy with them.
#[test]
fn activation_study_shows_the_classic_behaviour() {
    const EPOCHS: usize = 20;
    const HIGH: f64 = 0.3;
    let (report, files) = study::run(EPOCHS, &[study::LR, HIGH], None).expect("the study runs");
    assert!(files.is_empty());

    let names: Vec<&str> = report.runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["sigmoid", "tanh", "ReLU", "leaky ReLU", "ELU", "maxout"]
    );
    for r in &report.runs {
        assert_eq!(r.diverged, None, "{}", r.name);
        assert_eq!(r.curves.len(), EPOCHS, "{}", r.name);
        assert!(r.accuracy() > 0.9, "{}: {}", r.name, r.accuracy());
    }
    let sigmoid = report.runs[0].train_loss();
    for r in &report.runs[1..] {
        assert!(
            r.train_loss() < 0.5 * sigmoid,
            "{}: {} against sigmoid {sigmoid}",
            r.name,
            r.train_loss()
        );
    }

    let [normal, high] = &report.sweep[..] else {
        panic!("two learning rates")
    };
    assert_eq!((normal.lr, high.lr), (study::LR, HIGH));
    assert_eq!(normal.before, [0, 0]);
    assert_eq!(high.before, [0, 0]);
    assert_eq!(normal.after, [0, 0]);
    assert!(high.dead_share() > 0.25, "{high:?}");
    assert!(high.run.accuracy() < 0.5 && normal.run.accuracy() > 0.95);
}
