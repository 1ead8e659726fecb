//! The ensembles study teaches what it says: averaging bagged members beats the average
//! member, in accuracy and even more in cross-entropy.

#[allow(dead_code)]
#[path = "../examples/study_ensembles.rs"]
mod study;

/// The whole study, as `cargo run --release --example study_ensembles` runs it.
#[test]
fn an_ensemble_beats_its_average_member() {
    let rows = study::run(study::EPOCHS).expect("the study runs");
    assert_eq!(rows.len(), study::MEMBERS);

    // One member is its own ensemble.
    let one = &rows[0];
    assert_eq!(
        (one.mean, one.min, one.max, one.ensemble),
        (one.max, one.max, one.max, one.max)
    );
    assert!((one.ensemble_loss - one.mean_loss).abs() < 1e-3);

    for r in &rows[1..] {
        assert!(r.min <= r.mean && r.mean <= r.max);
        assert!(
            r.ensemble > r.mean,
            "K = {}: ensemble {:.4} vs mean member {:.4}",
            r.k,
            r.ensemble,
            r.mean
        );
        assert!(r.ensemble_loss < r.mean_loss, "K = {}", r.k);
    }
    let all = &rows[study::MEMBERS - 1];
    assert!(
        all.ensemble_loss < 0.8 * all.mean_loss,
        "ensemble loss {:.4} vs mean member loss {:.4}",
        all.ensemble_loss,
        all.mean_loss
    );
}
