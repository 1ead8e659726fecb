//! The ensembles study teaches what it says: averaging bagged members beats the average
//! member for every K ≥ 2, matches the best member on average from four members on, and
//! lowers the cross-entropy more than it raises the accuracy.

#[allow(dead_code)]
#[path = "../examples/study_ensembles.rs"]
mod study;

/// The study with a smaller pool (its first ten members) and fewer subsets than
/// `cargo run --release --example study_ensembles` (the same members and seeds).
#[test]
fn an_ensemble_beats_its_average_member() {
    let (pool, subsets) = (10, 30);
    let rows = study::run(pool, study::EPOCHS, subsets).expect("the study runs");
    assert_eq!(rows.len(), study::MAX_K);
    for r in &rows {
        eprintln!("{r:?}");
    }

    // One member is its own ensemble.
    let one = &rows[0];
    assert!((one.ensemble - one.mean_member).abs() < 1e-12);
    assert!((one.ensemble - one.best_member).abs() < 1e-12);
    assert_eq!(one.at_least_best, 1.0);
    assert!((one.ensemble_loss - one.member_loss).abs() < 1e-3);

    for r in &rows[1..] {
        assert!(r.ensemble_min <= r.ensemble && r.ensemble <= r.ensemble_max);
        assert!(r.mean_member <= r.best_member);
        // Better than the average member by at least one test image in 355, on average.
        assert!(
            r.ensemble > r.mean_member + 1.0 / 355.0,
            "K = {}: ensemble {:.4} vs mean member {:.4}",
            r.k,
            r.ensemble,
            r.mean_member
        );
        assert!(r.ensemble_loss < r.member_loss, "K = {}", r.k);
    }
    for r in &rows[3..] {
        // From four members on, as accurate as the best member on average (within half a
        // test image), and at least as accurate in a good share of the subsets.
        assert!(
            r.ensemble > r.best_member - 0.5 / 355.0,
            "K = {}: ensemble {:.4} vs best member {:.4}",
            r.k,
            r.ensemble,
            r.best_member
        );
        assert!(
            r.at_least_best >= 0.4,
            "K = {}: {:.2}",
            r.k,
            r.at_least_best
        );
    }
    // More members: a steadier ensemble and a much lower cross-entropy.
    let last = &rows[study::MAX_K - 1];
    assert!(last.ensemble_std < rows[1].ensemble_std);
    assert!(
        last.ensemble_loss < 0.75 * last.member_loss,
        "ensemble loss {:.4} vs mean member loss {:.4}",
        last.ensemble_loss,
        last.member_loss
    );
}
