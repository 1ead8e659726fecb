//! Study 1 (examples/study_init.rs) teaches what it claims, on a batch of 200 samples.

#[allow(dead_code)]
#[path = "../examples/study_init.rs"]
mod study;

use study::{Activation, DEPTH, SchemeReport};

fn scheme<'a>(report: &'a [SchemeReport], name: &str) -> &'a SchemeReport {
    report
        .iter()
        .find(|s| s.scheme.name == name)
        .unwrap_or_else(|| panic!("scheme {name} missing"))
}

/// Activations collapse with σ = 0.01, saturate with σ = 1 and keep a spread with Xavier
/// (tanh); shrink under Xavier and hold under He (ReLU). Zero initialisation never breaks
/// the symmetry of the hidden units, a random one does.
#[test]
fn initialisation_study_shows_the_classic_behaviour() {
    let (report, files) = study::run::<200>(None).expect("the study runs");
    assert!(files.is_empty());
    assert_eq!(report.schemes.len(), 5);
    let last = DEPTH - 1;

    // σ = 0.01: every layer shrinks the spread, the last is practically 0.
    let small = scheme(&report.schemes, "tanh N(0,0.01²)");
    assert!(small.layers.windows(2).all(|w| w[1].std < 0.5 * w[0].std));
    assert!(small.layers[last].std < 1e-3, "{:?}", small.layers[last]);

    // σ = 1: saturated at ±1 in every layer.
    let big = scheme(&report.schemes, "tanh N(0,1)");
    for l in &big.layers {
        assert!(l.std > 0.95 && l.saturated > 0.8, "{l:?}");
    }

    // Xavier: neither collapsed nor saturated, down to the last layer.
    let xavier = scheme(&report.schemes, "tanh Xavier");
    for l in &xavier.layers {
        assert!(l.std > 0.15 && l.std < 0.8 && l.saturated < 0.05, "{l:?}");
    }

    // ReLU: Xavier loses about half the variance per layer, He keeps it.
    let relu_xavier = scheme(&report.schemes, "ReLU Xavier");
    let he = scheme(&report.schemes, "ReLU He");
    assert_eq!(relu_xavier.scheme.activation, Activation::Relu);
    assert!(relu_xavier.layers[last].std < 0.1 * relu_xavier.layers[0].std);
    assert!(he.layers[last].std > 0.5 * he.layers[0].std);
    assert!(he.layers.iter().all(|l| l.std > 0.5));

    // Zero initialisation: every hidden unit identical after training, although the
    // weights moved; Xavier: all units distinct and a much better classifier.
    let [zeros, xavier] = &report.symmetry;
    assert_eq!(zeros.spread, [0.0, 0.0]);
    assert_eq!(zeros.distinct, [1, 1]);
    assert!(zeros.weight_norm.iter().all(|&n| n > 0.1), "{zeros:?}");
    assert_eq!(xavier.distinct, [study::HIDDEN, study::HIDDEN]);
    assert!(xavier.accuracy > 0.9 && xavier.accuracy > zeros.accuracy + 0.3);
}
