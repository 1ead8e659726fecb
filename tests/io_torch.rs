//! Every PyTorch fixture in `tests/fixtures/torch/` loads through `staticnn::io::load_safetensors`
//! (its `model.*` tensors, read with the prefix option) into the matching `network!`
//! declaration, which then reproduces PyTorch's outputs: the train-mode output of one
//! forward, and the eval-mode output after it (with the running statistics that forward
//! updated). In f64 to 1e-10, in f32 (the F64 file rounded on load) to 1e-5, relative with a
//! floor of 1, as in `tests/torch_vectors.rs`.
//!
//! Saving the loaded f64 network gives back the fixture's tensors bit for bit, under the
//! same keys, so the layouts agree in both directions.
#![cfg(feature = "safetensors")]

#[allow(dead_code)]
mod common;

use std::path::PathBuf;

use common::{Fixture, batch_rows};
use safetensors::SafeTensors;
use staticnn::io::{LoadError, LoadOptions, Naming, load_safetensors, save_safetensors};
use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

/// Tolerance of the f64 runs.
const F64_TOL: f64 = 1e-10;
/// Tolerance of the f32 runs.
const F32_TOL: f64 = 1e-5;

fn path(case: &str) -> PathBuf {
    [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "fixtures",
        "torch",
        &format!("{case}.safetensors"),
    ]
    .iter()
    .collect()
}

fn read(case: &str) -> Vec<u8> {
    std::fs::read(path(case)).unwrap_or_else(|e| panic!("{case}: {e}"))
}

/// Loads the case's `model.*` tensors into an `N` and compares its outputs with
/// PyTorch's.
fn check<T, N, const IN: usize, const OUT: usize, const B: usize>(case: &str, tol: f64)
where
    T: Scalar,
    N: Network<T, IN, OUT>,
{
    let bytes = read(case);
    let fx = Fixture::load(case);
    let mut net = N::new(&mut Xoshiro128PlusPlus::seed_from_u64(1));
    let options = LoadOptions::new().prefix("model.").reject_non_finite(true);
    load_safetensors(&mut net, &bytes, &options).unwrap_or_else(|e| panic!("{case}: {e}"));

    let x = fx.batch::<T, IN, B>("input");
    let mut tape = N::tape::<B>();
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let y = *net.forward_train(&x, &mut tape, &mut rng);
    fx.assert_close("expected.output", &batch_rows(&y), tol);
    fx.assert_close("expected.eval_output", &batch_rows(&net.forward(&x)), tol);
}

/// Saves the f64 network loaded from the case and compares every tensor of the new file
/// with the fixture's `model.<key>`, byte for byte. Batch norm's `num_batches_tracked`,
/// which the fixtures do not hold, is written as an I64 zero.
fn check_save<N, const IN: usize, const OUT: usize>(case: &str)
where
    N: Network<f64, IN, OUT>,
{
    let bytes = read(case);
    let mut net = N::new(&mut Xoshiro128PlusPlus::seed_from_u64(1));
    load_safetensors(&mut net, &bytes, &LoadOptions::new().prefix("model.")).unwrap();
    let saved = save_safetensors(&net, Naming::Sequential);
    let fixture = SafeTensors::deserialize(&bytes).unwrap();
    let ours = SafeTensors::deserialize(&saved).unwrap();
    let mut names: Vec<&str> = ours.names().into_iter().collect();
    names.sort_unstable();
    let mut expected: Vec<String> = fixture
        .names()
        .into_iter()
        .filter_map(|n| n.strip_prefix("model.").map(String::from))
        .collect();
    for name in &names {
        let t = ours.tensor(name).unwrap();
        if name.ends_with(".num_batches_tracked") {
            assert_eq!(t.dtype(), safetensors::Dtype::I64);
            assert_eq!(t.shape(), &[] as &[usize]);
            assert_eq!(t.data(), &[0u8; 8]);
            expected.push(name.to_string());
            continue;
        }
        let f = fixture.tensor(&format!("model.{name}")).unwrap();
        assert_eq!(t.dtype(), f.dtype(), "{case}: {name}");
        assert_eq!(t.shape(), f.shape(), "{case}: {name}");
        assert!(t.data() == f.data(), "{case}: {name} differs");
    }
    expected.sort_unstable();
    assert_eq!(names, expected, "{case}: saved keys");
}

/// One fixture: its network, and f64, f32 and save tests.
macro_rules! case {
    ($(#[doc = $doc:literal])* $case:ident, batch $b:literal: { $($net:tt)* }) => {
        $(#[doc = $doc])*
        mod $case {
            use super::*;

            network! { struct Net { $($net)* } }

            #[test]
            fn f64_loads_and_matches_torch() {
                check::<f64, Net<f64>, _, _, $b>(stringify!($case), F64_TOL);
            }

            #[test]
            fn f32_loads_and_matches_torch() {
                check::<f32, Net<f32>, _, _, $b>(stringify!($case), F32_TOL);
            }

            #[test]
            fn saves_the_fixture_tensors_back() {
                check_save::<Net<f64>, _, _>(stringify!($case));
            }
        }
    };
}

case!(act_sigmoid, batch 5: { input: 5, Linear(5 -> 7), Sigmoid, Linear(3) });
case!(act_tanh, batch 5: { input: 5, Linear(5 -> 7), Tanh, Linear(3) });
case!(act_relu, batch 5: { input: 5, Linear(5 -> 7), ReLU, Linear(3) });
case!(act_leaky_relu, batch 5: { input: 5, Linear(5 -> 7), LeakyReLU(slope = 0.1), Linear(3) });
case!(act_elu, batch 5: { input: 5, Linear(5 -> 7), ELU, Linear(3) });
case!(act_prelu, batch 5: { input: 5, Linear(5 -> 7), PReLU, Linear(3) });
case!(loss_hinge, batch 6: { input: 6, Linear(6 -> 9), ReLU, Linear(4) });
case!(loss_bce, batch 6: { input: 6, Linear(6 -> 9), Tanh, Linear(2) });
case!(loss_mse, batch 6: { input: 6, Linear(6 -> 9), Sigmoid, Linear(3) });
case!(bn_relu, batch 9: { input: 6, Linear(6 -> 8), BatchNorm, ReLU, Linear(3) });
case!(bn_two, batch 17: {
    input: 10,
    Linear(10 -> 16),
    BatchNorm(16, eps = 1e-5, momentum = 0.1),
    Tanh,
    Linear(12),
    BatchNorm(12),
    ReLU,
    Linear(5),
});
case!(deep_mixed, batch 11: {
    input: 12,
    Linear(12 -> 20),
    BatchNorm,
    LeakyReLU(slope = 0.1),
    Linear(20),
    ELU(alpha = 1.0),
    Linear(16),
    BatchNorm(16),
    Sigmoid,
    Linear(6),
});
case!(dropout_p0, batch 5: { input: 6, Linear(6 -> 8), ReLU, Dropout(0.0), Linear(3) });
case!(opt_sgd, batch 7: { input: 5, Linear(5 -> 7), Tanh, Linear(3) });
case!(opt_sgd_momentum, batch 7: { input: 5, Linear(5 -> 7), Tanh, Linear(3) });
case!(opt_sgd_nesterov_wd, batch 7: { input: 5, Linear(5 -> 7), Tanh, Linear(3) });
case!(opt_adam, batch 7: { input: 5, Linear(5 -> 7), Tanh, Linear(3) });
case!(opt_adamw, batch 7: { input: 5, Linear(5 -> 7), Tanh, Linear(3) });
case!(opt_rmsprop, batch 7: { input: 5, Linear(5 -> 7), Tanh, Linear(3) });
case!(opt_rmsprop_momentum, batch 7: { input: 5, Linear(5 -> 7), Tanh, Linear(3) });

/// Every fixture file has a case above.
#[test]
fn every_fixture_has_a_case() {
    const CASES: &[&str] = &[
        "act_sigmoid",
        "act_tanh",
        "act_relu",
        "act_leaky_relu",
        "act_elu",
        "act_prelu",
        "loss_hinge",
        "loss_bce",
        "loss_mse",
        "bn_relu",
        "bn_two",
        "deep_mixed",
        "dropout_p0",
        "opt_sgd",
        "opt_sgd_momentum",
        "opt_sgd_nesterov_wd",
        "opt_adam",
        "opt_adamw",
        "opt_rmsprop",
        "opt_rmsprop_momentum",
    ];
    let dir = path("x").parent().unwrap().to_path_buf();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(case) = name.strip_suffix(".safetensors")
            && !CASES.contains(&case)
        {
            missing.push(case.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "fixtures without a case in tests/io_torch.rs: {missing:?}"
    );
}

/// Without the prefix, the network's keys are not in the file: the first is reported, and
/// the network is left as it was.
#[test]
fn without_the_prefix_the_keys_are_missing() {
    network! { struct Net { input: 5, Linear(5 -> 7), Tanh, Linear(3) } }
    let mut net = Net::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(1));
    let before = net;
    let err = load_safetensors(&mut net, &read("act_tanh"), &LoadOptions::new()).unwrap_err();
    assert_eq!(
        err,
        LoadError::MissingTensor {
            name: "0.weight".into()
        }
    );
    assert_eq!(net, before);
}

/// A fixture loaded into a network of other widths names the first tensor whose shape
/// differs, with both shapes.
#[test]
fn a_fixture_for_other_widths_is_refused_with_both_shapes() {
    network! { struct Wide { input: 5, Linear(5 -> 8), Tanh, Linear(3) } }
    let mut net = Wide::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(1));
    let options = LoadOptions::new().prefix("model.");
    let err = load_safetensors(&mut net, &read("act_tanh"), &options).unwrap_err();
    assert_eq!(
        err,
        LoadError::WrongShape {
            name: "model.0.weight".into(),
            expected: &[8, 5],
            found: vec![7, 5],
        }
    );
    assert_eq!(
        err.to_string(),
        "tensor `model.0.weight` has shape [7, 5] in the file, but [8, 5] in the network"
    );
}
