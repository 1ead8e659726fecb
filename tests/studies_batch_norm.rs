//! The batch-norm study teaches what it says: batch norm keeps training at learning rates
//! where the same network without it diverges.

#[allow(dead_code)]
#[path = "../examples/study_batch_norm.rs"]
mod study;

/// Two learning rates of the study's sweep, all 30 epochs each: at 0.1 both networks reach the
/// target; at 1.0 the plain network blows up in its first epoch while the normalised one
/// reaches the target within a few epochs and ends above 95 % test accuracy.
#[test]
fn batch_norm_trains_at_a_learning_rate_that_breaks_the_plain_network() {
    let (results, train, val) = study::run(&[0.1, 1.0], study::EPOCHS).expect("the study runs");
    assert_eq!(train + val, 1442);
    let (moderate, high) = (&results[0], &results[1]);

    assert!(moderate.plain.diverged_at.is_none() && moderate.normed.diverged_at.is_none());
    assert!(moderate.plain.epochs_to_target.is_some_and(|e| e <= 10));
    assert!(moderate.normed.epochs_to_target.is_some_and(|e| e <= 10));

    assert_eq!(high.plain.epochs_to_target, None, "plain network at lr 1.0");
    assert!(
        high.plain.diverged_at.is_some(),
        "plain network at lr 1.0 should diverge"
    );
    assert!(high.plain.test_accuracy < 0.5);
    assert_eq!(high.normed.diverged_at, None);
    assert!(
        high.normed.epochs_to_target.is_some_and(|e| e <= 4),
        "BN at lr 1.0: {:?}",
        high.normed.epochs_to_target
    );
    assert!(
        high.normed.test_accuracy > 0.95,
        "{}",
        high.normed.test_accuracy
    );
    assert_eq!(high.normed.curves.len(), study::EPOCHS);
    assert!(high.normed.curves.iter().all(|s| s.train_loss.is_finite()));
}
