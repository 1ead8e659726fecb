//! staticnn against PyTorch: reference numbers computed by PyTorch in float64 (see
//! `tests/fixtures/torch/README.md`) for every activation, every loss, batch normalisation
//! and dropout with `p = 0`.
//!
//! Each case declares the same network as the fixture's `nn.Sequential`, loads its initial
//! weights (and a batch norm's running statistics), runs one train-mode forward on the
//! fixture's batch, takes the loss and its gradient through the [`Loss`] trait, runs backward
//! with the input gradient requested, and compares the output, the loss, every parameter
//! gradient and the input gradient; then the running statistics the forward left behind, and
//! the eval-mode output, which for a network with batch norm uses those updated statistics.
//! Each case runs twice: in f64 to 1e-10, and in f32 (weights and inputs rounded to f32) to
//! 1e-5, both relative with a floor of 1 (`|a − e| ≤ tol · max(1, |e|)`).

mod common;

use common::{Fixture, FromTarget, assert_close, batch_rows, row_major};
use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

/// Tolerance of the f64 runs.
const F64_TOL: f64 = 1e-10;
/// Tolerance of the f32 runs.
const F32_TOL: f64 = 1e-5;

/// Runs the fixture's batch through `net` (whose parameters the caller has loaded) and checks
/// the train-mode output, the loss, the input gradient, and then the eval-mode output and
/// loss. The eval-mode loss is held to the loss of PyTorch's eval-mode output: for a network
/// without batch norm that is the train-mode loss again, with batch norm it is not. Returns
/// the parameter gradients for the caller to compare, as only it knows the layer names; the
/// running statistics are left in `net` for the same reason.
fn run_case<T, Net, const IN: usize, const OUT: usize, const B: usize>(
    fx: &Fixture,
    net: &mut Net,
    tol: f64,
) -> Net::Params
where
    T: Scalar,
    Net: Supervised<T, IN, OUT>,
    <Net::Loss as Loss<T, OUT>>::Target<B>: FromTarget,
{
    let x = fx.batch::<T, IN, B>("input");
    let target =
        <<Net::Loss as Loss<T, OUT>>::Target<B> as FromTarget>::from_target(fx.get("target"));

    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let mut tape = Net::tape::<B>();
    let y = *net.forward_train(&x, &mut tape, &mut rng);
    fx.assert_close("expected.output", &batch_rows(&y), tol);

    let mut dy = SMatrix::<T, OUT, B>::zeros();
    let loss = Net::Loss::default().loss_and_grad(&y, &target, &mut dy);
    fx.assert_close("expected.loss", &[loss.as_f64()], tol);

    let mut grads = Net::gradients();
    let mut dx = SMatrix::<T, IN, B>::zeros();
    net.backward(&x, &mut tape, &dy, &mut grads, Some(&mut dx));
    fx.assert_close("expected.grad_input", &batch_rows(&dx), tol);

    fx.assert_close("expected.eval_output", &batch_rows(&net.forward(&x)), tol);
    let eval_loss =
        Net::Loss::default().loss(&fx.batch::<T, OUT, B>("expected.eval_output"), &target);
    assert_close(
        &format!("{}: eval-mode loss", fx.case()),
        &[1],
        &[net.loss(&x, &target).as_f64()],
        &[eval_loss.as_f64()],
        tol,
    );
    grads
}

/// Declares one reference case: a module named after the fixture holding its network (as
/// `struct Net`) and an f64 and an f32 test.
///
/// `linear [field = "k", …]` lists the `Linear` layers by field name and by their index `k`
/// in the PyTorch `nn.Sequential` (so their tensors are `model.k.weight` and `model.k.bias`);
/// `prelu [field = "k"]` names a PReLU layer, whose one slope is `model.k.weight`;
/// `batch_norm [field = "k", …]` names the `BatchNorm` layers, whose `γ` and `β` are
/// `model.k.weight` and `model.k.bias` and whose running statistics are
/// `model.k.running_mean` and `model.k.running_var` before the forward and
/// `expected.after.k.running_*` after it. The test also checks that these are *all* the
/// fixture's parameters, gradients and running statistics, so none goes unchecked.
/// `inference NetInference` (for networks with batch norm or dropout) also checks that the
/// inference-only form made by `to_inference` gives PyTorch's eval-mode output.
macro_rules! torch_case {
    (
        $(#[doc = $doc:literal])*
        $case:ident, batch $b:literal: { $($net:tt)* },
        linear [$($lin:ident = $lkey:literal),+ $(,)?]
        $(, prelu [$pre:ident = $pkey:literal])?
        $(, batch_norm [$($bn:ident = $bkey:literal),+ $(,)?])?
        $(, inference $inf:ident)? $(,)?
    ) => {
        $(#[doc = $doc])*
        mod $case {
            use super::*;

            network! { struct Net { $($net)* } }

            /// Runs the case in scalar `T` and compares everything to within `tol`.
            fn check<T: Scalar>(tol: f64) {
                let fx = Fixture::load(stringify!($case));
                let mut net = Net::<T>::new(&mut Xoshiro128PlusPlus::seed_from_u64(1));
                let mut loaded: Vec<&str> = Vec::new();
                $(
                    net.params.$lin.weight = fx.matrix(concat!("model.", $lkey, ".weight"));
                    net.params.$lin.bias = fx.matrix(concat!("model.", $lkey, ".bias"));
                    loaded.extend([concat!("model.", $lkey, ".weight"), concat!("model.", $lkey, ".bias")]);
                )+
                $(
                    net.params.$pre.slope = fx.scalar(concat!("model.", $pkey, ".weight"));
                    loaded.push(concat!("model.", $pkey, ".weight"));
                )?
                $($(
                    net.params.$bn.weight = fx.matrix(concat!("model.", $bkey, ".weight"));
                    net.params.$bn.bias = fx.matrix(concat!("model.", $bkey, ".bias"));
                    net.state.$bn.running_mean = fx.matrix(concat!("model.", $bkey, ".running_mean"));
                    net.state.$bn.running_var = fx.matrix(concat!("model.", $bkey, ".running_var"));
                    loaded.extend([
                        concat!("model.", $bkey, ".weight"),
                        concat!("model.", $bkey, ".bias"),
                        concat!("model.", $bkey, ".running_mean"),
                        concat!("model.", $bkey, ".running_var"),
                    ]);
                )+)?
                loaded.sort_unstable();
                assert_eq!(loaded, fx.names("model."), "the case must load every parameter and statistic of the fixture");

                let grads = run_case::<T, Net<T>, _, _, $b>(&fx, &mut net, tol);
                let mut compared: Vec<&str> = Vec::new();
                $(
                    fx.assert_close(concat!("expected.grad.", $lkey, ".weight"), &row_major(&grads.$lin.weight), tol);
                    fx.assert_close(concat!("expected.grad.", $lkey, ".bias"), &row_major(&grads.$lin.bias), tol);
                    compared.extend([concat!("expected.grad.", $lkey, ".weight"), concat!("expected.grad.", $lkey, ".bias")]);
                )+
                $(
                    fx.assert_close(concat!("expected.grad.", $pkey, ".weight"), &[grads.$pre.slope.as_f64()], tol);
                    compared.push(concat!("expected.grad.", $pkey, ".weight"));
                )?
                $($(
                    fx.assert_close(concat!("expected.grad.", $bkey, ".weight"), &row_major(&grads.$bn.weight), tol);
                    fx.assert_close(concat!("expected.grad.", $bkey, ".bias"), &row_major(&grads.$bn.bias), tol);
                    compared.extend([concat!("expected.grad.", $bkey, ".weight"), concat!("expected.grad.", $bkey, ".bias")]);
                )+)?
                compared.sort_unstable();
                assert_eq!(compared, fx.names("expected.grad."), "the case must compare every parameter gradient");

                // The running statistics after the one train-mode forward.
                let mut after: Vec<&str> = Vec::new();
                $($(
                    fx.assert_close(concat!("expected.after.", $bkey, ".running_mean"), &row_major(&net.state.$bn.running_mean), tol);
                    fx.assert_close(concat!("expected.after.", $bkey, ".running_var"), &row_major(&net.state.$bn.running_var), tol);
                    after.extend([concat!("expected.after.", $bkey, ".running_mean"), concat!("expected.after.", $bkey, ".running_var")]);
                )+)?
                after.sort_unstable();
                assert_eq!(after, fx.names("expected.after."), "the case must compare every running statistic");

                $(
                    let inference: $inf<T> = net.to_inference();
                    let x = fx.batch::<T, _, $b>("input");
                    let expected = fx.get("expected.eval_output");
                    assert_close(
                        concat!(stringify!($case), ": to_inference() output against expected.eval_output"),
                        &expected.shape,
                        &batch_rows(&inference.forward(&x)),
                        &expected.data,
                        tol,
                    );
                )?
            }

            /// In f64, output, loss, all gradients and statistics match PyTorch to 1e-10.
            #[test]
            fn f64_matches_torch() {
                check::<f64>(F64_TOL);
            }

            /// In f32, with the weights and inputs rounded to f32, they match to 1e-5.
            #[test]
            fn f32_matches_torch() {
                check::<f32>(F32_TOL);
            }
        }
    };
}

torch_case! {
    /// Sigmoid between two linear layers, softmax cross-entropy.
    act_sigmoid, batch 5: { input: 5, Linear(5 -> 7), Sigmoid, Linear(3), loss: SoftmaxCrossEntropy },
    linear [layer0 = "0", layer2 = "2"],
}

torch_case! {
    /// Tanh between two linear layers, softmax cross-entropy.
    act_tanh, batch 5: { input: 5, Linear(5 -> 7), Tanh, Linear(3), loss: SoftmaxCrossEntropy },
    linear [layer0 = "0", layer2 = "2"],
}

torch_case! {
    /// ReLU between two linear layers, softmax cross-entropy.
    act_relu, batch 5: { input: 5, Linear(5 -> 7), ReLU, Linear(3), loss: SoftmaxCrossEntropy },
    linear [layer0 = "0", layer2 = "2"],
}

torch_case! {
    /// Leaky ReLU with slope 0.1 (`nn.LeakyReLU(0.1)`), softmax cross-entropy.
    act_leaky_relu, batch 5: { input: 5, Linear(5 -> 7), LeakyReLU(slope = 0.1), Linear(3), loss: SoftmaxCrossEntropy },
    linear [layer0 = "0", layer2 = "2"],
}

torch_case! {
    /// ELU with α = 1, softmax cross-entropy.
    act_elu, batch 5: { input: 5, Linear(5 -> 7), ELU, Linear(3), loss: SoftmaxCrossEntropy },
    linear [layer0 = "0", layer2 = "2"],
}

torch_case! {
    /// PReLU with one learned slope, initially 0.25; its gradient is compared too.
    act_prelu, batch 5: { input: 5, Linear(5 -> 7), PReLU, Linear(3), loss: SoftmaxCrossEntropy },
    linear [layer0 = "0", layer2 = "2"],
    prelu [layer1 = "1"],
}

torch_case! {
    /// Multiclass hinge loss (PyTorch's `MultiMarginLoss` times the number of classes).
    loss_hinge, batch 6: { input: 6, Linear(6 -> 9), ReLU, Linear(4), loss: Hinge },
    linear [layer0 = "0", layer2 = "2"],
}

torch_case! {
    /// Binary cross-entropy on logits, 0/1 targets, mean over all outputs.
    loss_bce, batch 6: { input: 6, Linear(6 -> 9), Tanh, Linear(2), loss: BceWithLogits },
    linear [layer0 = "0", layer2 = "2"],
}

torch_case! {
    /// Mean squared error against real-valued targets, mean over all outputs.
    loss_mse, batch 6: { input: 6, Linear(6 -> 9), Sigmoid, Linear(3), loss: Mse },
    linear [layer0 = "0", layer2 = "2"],
}

torch_case! {
    /// Batch norm between a linear layer and ReLU (`nn.BatchNorm1d(8)`, eps 1e-5, momentum
    /// 0.1), with perturbed `γ`, `β` and running statistics.
    bn_relu, batch 9: { input: 6, Linear(6 -> 8), BatchNorm, ReLU, Linear(3), loss: SoftmaxCrossEntropy },
    linear [layer0 = "0", layer3 = "3"],
    batch_norm [layer1 = "1"],
    inference NetInference,
}

torch_case! {
    /// Two batch norms with their widths written out, one before Tanh and one before ReLU.
    bn_two, batch 17: {
        input: 10,
        Linear(10 -> 16),
        BatchNorm(16, eps = 1e-5, momentum = 0.1),
        Tanh,
        Linear(12),
        BatchNorm(12),
        ReLU,
        Linear(5),
        loss: SoftmaxCrossEntropy,
    },
    linear [layer0 = "0", layer3 = "3", layer6 = "6"],
    batch_norm [layer1 = "1", layer4 = "4"],
    inference NetInference,
}

torch_case! {
    /// A deeper network mixing batch norm with leaky ReLU (slope 0.1), ELU (α = 1) and
    /// sigmoid. (The fixture's `expected.step<k>` Adam results are not compared here.)
    deep_mixed, batch 11: {
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
        loss: SoftmaxCrossEntropy,
    },
    linear [layer0 = "0", layer3 = "3", layer5 = "5", layer8 = "8"],
    batch_norm [layer1 = "1", layer6 = "6"],
    inference NetInference,
}

torch_case! {
    /// Dropout with `p = 0` is the identity in train mode, so PyTorch's numbers apply.
    dropout_p0, batch 5: { input: 6, Linear(6 -> 8), ReLU, Dropout(0.0), Linear(3), loss: SoftmaxCrossEntropy },
    linear [layer0 = "0", layer3 = "3"],
    inference NetInference,
}
