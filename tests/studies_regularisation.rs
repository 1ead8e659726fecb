//! The regularisation study teaches what it says: the plain network memorises its small
//! training set, dropout and noise narrow the gap to validation, whole-pixel shifts of the
//! centred digits hurt, and early stopping restores its best epoch.

#[allow(dead_code)]
#[path = "../examples/study_regularisation.rs"]
mod study;

/// The whole study, as `cargo run --release --example study_regularisation` runs it.
#[test]
fn regularisers_narrow_the_generalisation_gap() {
    let (runs, train, val) = study::run(study::EPOCHS).expect("the study runs");
    assert!(
        (190..=230).contains(&train) && val > 2 * train - 20,
        "{train} / {val}"
    );
    let by_name = |name: &str| runs.iter().find(|r| r.name == name).expect(name);
    let none = by_name("none");

    // The plain network memorises its training images; validation lags behind.
    assert_eq!(none.last.train.accuracy, 1.0);
    assert!(none.gap() > 0.03, "gap {:.4}", none.gap());
    assert!(none.last.train.loss < 0.01);

    // Dropout and noise narrow the gap and lower the validation loss.
    for name in ["dropout", "noise"] {
        let r = by_name(name);
        assert!(r.gap() < none.gap(), "{name}: gap {:.4}", r.gap());
        assert!(r.last.val.loss < none.last.val.loss, "{name}");
    }
    // Weight decay keeps the training loss away from zero.
    let l2 = by_name("L2");
    assert!(l2.last.train.loss > 10.0 * none.last.train.loss);
    // Moving centred 8×8 digits by a whole pixel teaches the wrong invariance.
    let shifts = by_name("shifts");
    assert!(shifts.last.val.accuracy < none.last.val.accuracy);

    // Early stopping stopped `PATIENCE` epochs after its best one and restored it; its
    // steps are the plain run's, so the restored network scores what that epoch scored.
    let early = by_name("early stopping");
    let best = early
        .best_epoch
        .expect("early stopping reports its best epoch");
    assert_eq!(early.curves.len(), best + 1 + study::PATIENCE);
    assert!(early.curves.len() < study::EPOCHS);
    assert_eq!(early.last.val, none.curves[best].val);
    assert_eq!(early.curves[best].val, none.curves[best].val);
}
