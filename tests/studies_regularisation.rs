//! The regularisation study teaches what it says: on ten images per class with one label in
//! five wrong, the plain network memorises every training label while its validation loss
//! rises again; weight decay, dropout, noise and early stopping each narrow the gap between
//! training and validation accuracy and raise the validation accuracy.

#[allow(dead_code)]
#[path = "../examples/study_regularisation.rs"]
mod study;

/// Mean over the epochs of the seed-averaged gap of `v`.
fn mean_gap(v: &study::Variant) -> f64 {
    let curves = v.mean_curves();
    curves.iter().map(study::Point::gap).sum::<f64>() / curves.len() as f64
}

/// The study as `cargo run --release --example study_regularisation` runs it, shortened to
/// its first seed and 80 epochs so that it fits the test profile's time. The networks are
/// large for the stack of a test thread, so it runs on its own thread with a larger one.
#[test]
fn regularisers_narrow_the_generalisation_gap() {
    let (seeds, epochs) = (&study::SEEDS[..1], 80);
    let (variants, train, val) = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || study::run(epochs, seeds, study::FLIP).map_err(|e| e.to_string()))
        .expect("a thread")
        .join()
        .expect("no panic")
        .expect("the study runs");
    assert!(
        (90..=110).contains(&train) && (280..=320).contains(&val),
        "{train} / {val}"
    );
    let by_name = |prefix: &str| {
        variants
            .iter()
            .find(|v| v.name.starts_with(prefix))
            .expect(prefix)
    };
    let none = by_name("none");

    // The plain network memorises every training label, wrong ones included, and its
    // validation loss rises again after its minimum.
    assert_eq!(none.mean(|r| r.last.train.accuracy), 1.0);
    assert!(none.mean(|r| r.last.train.loss) < 0.01);
    assert!(none.gap() > 0.15, "gap {:.4}", none.gap());
    let val_loss: Vec<f64> = none.mean_curves().iter().map(|p| p.val.loss).collect();
    let lowest = val_loss.iter().copied().fold(f64::INFINITY, f64::min);
    let last = val_loss[val_loss.len() - 1];
    assert!(
        last > 1.2 * lowest,
        "validation loss {last:.4}, lowest {lowest:.4}"
    );

    // Every regulariser ends with a better validation accuracy and a smaller gap; those that
    // train all epochs also keep the gap smaller over training (early stopping's curve is
    // the plain one, cut short).
    for name in ["L2", "dropout", "noise", "early stopping"] {
        let v = by_name(name);
        let val_acc = |v: &study::Variant| v.mean(|r| r.last.val.accuracy);
        assert!(
            val_acc(v) > val_acc(none) + 0.01,
            "{name}: validation accuracy {:.4} vs {:.4}",
            val_acc(v),
            val_acc(none)
        );
        assert!(v.gap() < none.gap() - 0.01, "{name}: gap {:.4}", v.gap());
        assert!(
            name == "early stopping" || mean_gap(v) < mean_gap(none) - 0.05,
            "{name}: mean gap over training {:.4} vs {:.4}",
            mean_gap(v),
            mean_gap(none)
        );
    }
    // Dropout also ends with a lower validation loss; weight decay and this strong noise
    // instead keep the training loss far from zero.
    let dropout = by_name("dropout");
    assert!(dropout.mean(|r| r.last.val.loss) < none.mean(|r| r.last.val.loss) - 0.1);
    assert!(by_name("noise").mean(|r| r.last.train.loss) > 0.3);
    assert!(by_name("L2").mean(|r| r.last.train.loss) > 0.3);

    // Early stopping stopped `PATIENCE` epochs after its best one and restored it; its
    // steps are the plain run's, so the restored network scores what that epoch scored.
    let early = by_name("early stopping");
    for (run, plain) in early.runs.iter().zip(&none.runs) {
        let best = run
            .best_epoch
            .expect("early stopping reports its best epoch");
        assert_eq!(run.curves.len(), best + 1 + study::PATIENCE);
        assert!(run.curves.len() < epochs);
        assert_eq!(run.last.val, plain.curves[best].val);
    }
}
