//! Convolutional networks against PyTorch: the 13 reference cases of
//! `tests/fixtures/torch-conv/` (see its README), each declared with `network!` exactly as
//! the fixture's `nn.Sequential`.
//!
//! Each case loads PyTorch's initial `state_dict` through `io::load_safetensors` (strict:
//! every tensor of the network must be in the file, with PyTorch's shape), runs one
//! train-mode forward on the fixture's batch, and compares the output, the loss, the input
//! gradient and every parameter gradient (saved through `io::save_safetensors`, so they are
//! compared under PyTorch's names and shapes), the running statistics after the forward and
//! the eval-mode output, of both the network and its inference form. The two LeNet cases
//! then take three optimiser steps (Adam; SGD with momentum and weight decay) from the
//! initial weights and compare the parameters after each. Every case runs in f64 to 1e-10 and
//! in f32 to 1e-5 (relative, with a floor of 1).

#[allow(dead_code)]
mod common;

use common::{Fixture, FromTarget, assert_close};
use safetensors::SafeTensors;
use staticnn::io::{LoadOptions, Naming, load_safetensors, save_safetensors};
use staticnn::optim::{Decay, SgdConfig};
use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

const F64_TOL: f64 = 1e-10;
const F32_TOL: f64 = 1e-5;
const DIR: &str = "torch-conv";

/// The fixture's `[B, C, …]` tensor `name` as a batch matrix, one sample per column.
fn batch<T: Scalar, const N: usize, const B: usize>(fx: &Fixture, name: &str) -> SMatrix<T, N, B> {
    let t = fx.get(name);
    assert_eq!(t.shape[0], B, "{}: `{name}` holds {:?}", fx.case(), t.shape);
    assert_eq!(
        t.data.len(),
        N * B,
        "{}: `{name}` holds {:?}",
        fx.case(),
        t.shape
    );
    SMatrix::from_column_slice(&t.data.iter().map(|&v| T::of(v)).collect::<Vec<_>>())
}

/// The values of a batch matrix in PyTorch's `[B, …]` order.
fn values<T: Scalar, const N: usize, const B: usize>(m: &SMatrix<T, N, B>) -> Vec<f64> {
    m.as_slice().iter().map(|v| v.as_f64()).collect()
}

/// Compares every tensor of `net` (saved as PyTorch would key and shape it) whose key has an
/// `expected.<what>.<key>` counterpart, and checks that every such counterpart was compared.
/// The tensors named in `loose` are held to `loose_tol` instead (see [`noise`]).
fn compare_tensors<T: Scalar, Net: Network<T, IN, OUT>, const IN: usize, const OUT: usize>(
    fx: &Fixture,
    net: &Net,
    what: &str,
    tol: f64,
    loose: &[String],
    loose_tol: f64,
) {
    let bytes = save_safetensors::<T, Net, IN, OUT>(net, Naming::Sequential);
    let file = SafeTensors::deserialize(&bytes).expect("a file staticnn wrote");
    let prefix = format!("expected.{what}.");
    let expected = fx.names(&prefix);
    assert!(
        !expected.is_empty(),
        "{}: no `{prefix}*` tensors",
        fx.case()
    );
    for name in &expected {
        let key = &name[prefix.len()..];
        let view = file
            .tensor(key)
            .unwrap_or_else(|_| panic!("{}: the network has no tensor `{key}`", fx.case()));
        let t = fx.get(name);
        assert_eq!(
            view.shape(),
            &t.shape[..],
            "{}: shape of `{key}`",
            fx.case()
        );
        let actual: Vec<f64> = match view.dtype() {
            safetensors::Dtype::F64 => view
                .data()
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
                .collect(),
            _ => view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
                .collect(),
        };
        let tol = if loose.iter().any(|l| l == key) {
            loose_tol
        } else {
            tol
        };
        assert_close(
            &format!("{}: {name}", fx.case()),
            &t.shape,
            &actual,
            &t.data,
            tol,
        );
    }
}

/// The parameters whose gradient is zero in exact arithmetic and only rounding noise in
/// PyTorch's float64 (below 1e-12 everywhere): the bias of a convolution followed by a batch
/// norm, which the normalisation cancels. Adam divides such a gradient by its own magnitude
/// plus `ε = 1e-8`, so its step is `lr` times noise over `ε`: whatever PyTorch's noise and
/// ours happen to be. In f32, where the noise is about `ε` itself, the step is up to `lr`
/// and cannot match PyTorch's float64 to 1e-5 (PyTorch's own float32 cannot either); in
/// f64 the steps differ by about 1e-10, at the edge of the 1e-10 tolerance. These tensors
/// are held to Adam's bound on the distance travelled from noise of their size
/// (`steps · lr · min(1, noise / ε)`); every other tensor to the usual tolerance.
fn noise(fx: &Fixture) -> Vec<String> {
    fx.names("expected.grad.")
        .into_iter()
        .filter(|n| fx.get(n).data.iter().all(|g| g.abs() < 1e-12))
        .map(|n| n["expected.grad.".len()..].to_string())
        .collect()
}

/// One train-mode forward and backward, the statistics it leaves, and the eval outputs.
fn check_step<T, Net, const IN: usize, const OUT: usize, const B: usize>(
    fx: &Fixture,
    tol: f64,
) -> Net
where
    T: Scalar,
    Net: Supervised<T, IN, OUT>,
    <Net::Loss as Loss<T, OUT>>::Target<B>: FromTarget,
{
    let mut net = Net::zeroed();
    let bytes = std::fs::read(fx.path()).expect("the fixture");
    let options = LoadOptions::new().prefix("model.");
    load_safetensors::<T, Net, IN, OUT>(&mut net, &bytes, &options)
        .unwrap_or_else(|e| panic!("{}: {e}", fx.case()));
    let initial = net;
    let x = batch::<T, IN, B>(fx, "input");
    let target =
        <<Net::Loss as Loss<T, OUT>>::Target<B> as FromTarget>::from_target(fx.get("target"));
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
    let mut tape = Net::tape::<B>();
    let y = *net.forward_train(&x, &mut tape, &mut rng);
    fx.assert_close("expected.output", &values(&y), tol);
    let mut dy = SMatrix::<T, OUT, B>::zeros();
    let loss = Net::Loss::default().loss_and_grad(&y, &target, &mut dy);
    fx.assert_close("expected.loss", &[loss.as_f64()], tol);
    let mut grads = Net::zeroed();
    let mut dx = SMatrix::<T, IN, B>::zeros();
    net.backward_overwrite(&x, &mut tape, &dy, grads.params_mut(), Some(&mut dx));
    fx.assert_close("expected.grad_input", &values(&dx), tol);
    compare_tensors::<T, Net, IN, OUT>(fx, &grads, "grad", tol, &[], tol);
    if !fx.names("expected.after.").is_empty() {
        compare_tensors::<T, Net, IN, OUT>(fx, &net, "after", tol, &[], tol);
    }
    fx.assert_close("expected.eval_output", &values(&net.forward(&x)), tol);
    initial
}

/// Declares one case: a module with the network and an f64 and an f32 test; `inference`
/// also checks the inference form's eval output, `steps` the parameters after three steps of
/// the given optimiser (`adam` when it divides by the gradient's magnitude; see [`noise`]).
macro_rules! conv_case {
    (
        $case:ident, batch $b:literal: { $($net:tt)* }
        $(, inference $inf:ident)?
        $(, steps $opt:expr, adam $adam:literal)? $(,)?
    ) => {
        mod $case {
            use super::*;

            network! { struct Net { $($net)* } }

            fn check<T: Scalar>(tol: f64) {
                let fx = Fixture::load_from(DIR, stringify!($case));
                let net = check_step::<T, Net<T>, { Net::<f64>::INPUT }, { Net::<f64>::OUTPUT }, $b>(&fx, tol);
                $(
                    // The inference form (batch norms folded) after the same forward.
                    let mut trained = net;
                    let x = batch::<T, { Net::<f64>::INPUT }, $b>(&fx, "input");
                    let mut tape = Net::<T>::tape::<$b>();
                    trained.forward_train(&x, &mut tape, &mut Xoshiro128PlusPlus::seed_from_u64(0));
                    let folded: $inf<T> = trained.to_inference();
                    fx.assert_close("expected.eval_output", &values(&folded.forward(&x)), 100.0 * tol);
                )?
                $(
                    let mut net = net;
                    let make: fn() -> _ = $opt;
                    let mut opt = make();
                    let x = batch::<T, { Net::<f64>::INPUT }, $b>(&fx, "input");
                    let target = <[ClassIndex<{ Net::<f64>::OUTPUT }>; $b]>::from_target(fx.get("target"));
                    let mut tape = Net::<T>::tape::<$b>();
                    let mut grads = Net::<T>::gradients();
                    let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
                    let loose = if $adam { noise(&fx) } else { Vec::new() };
                    // Adam moves a parameter by at most `lr · |g| / ε` per step (and never
                    // more than about `lr`): our rounding noise is below 1e-12 in f64 and
                    // about ε = 1e-8 in f32.
                    let noise_bound: f64 = if tol > F64_TOL { 1.0 } else { 1e-12 / 1e-8 };
                    for s in 1..=3 {
                        net.train_step(&x, &target, &mut grads, &mut tape, &mut opt, &mut rng)
                            .unwrap_or_else(|e| panic!("step {s}: {e}"));
                        let lr = staticnn::LearningRate::lr(&opt).as_f64();
                        compare_tensors::<T, Net<T>, { Net::<f64>::INPUT }, { Net::<f64>::OUTPUT }>(
                            &fx, &net, &format!("step{s}"), tol, &loose, s as f64 * lr * noise_bound,
                        );
                    }
                )?
                let _ = net;
            }

            #[test]
            fn f64() {
                check::<f64>(F64_TOL);
            }

            #[test]
            fn f32() {
                check::<f32>(F32_TOL);
            }
        }
    };
}

conv_case!(conv1d_basic, batch 5: {
    input: [2, 16],
    Conv1d(4, kernel = 3, padding = 1), ReLU, Flatten, Linear(64 -> 3),
    loss: SoftmaxCrossEntropy,
});

conv_case!(conv1d_stride_dilation, batch 6: {
    input: [3, 21],
    Conv1d(5, kernel = 5, stride = 2, padding = 2, dilation = 2, bias = false), Tanh,
    MaxPool1d(2), Flatten, Linear(20 -> 4),
    loss: SoftmaxCrossEntropy,
});

conv_case!(conv1d_avgpool, batch 4: {
    input: [1, 12],
    Conv1d(3, kernel = 4), ELU, AvgPool1d(3), Flatten, Linear(9 -> 2),
    loss: Mse,
});

conv_case!(conv1d_bn, batch 6: {
    input: [2, 10],
    Conv1d(6, kernel = 3, padding = 1, bias = false), BatchNorm(6), ReLU,
    GlobalAvgPool, Flatten, Linear(6 -> 3),
    loss: SoftmaxCrossEntropy,
}, inference NetInference);

conv_case!(conv2d_basic, batch 5: {
    input: [1, 8, 8],
    Conv2d(4, kernel = 3, padding = 1), ReLU, MaxPool2d(2), Flatten, Linear(64 -> 10),
    loss: SoftmaxCrossEntropy,
});

conv_case!(conv2d_stride_pad, batch 6: {
    input: [3, 9, 7],
    Conv2d(6, kernel = 3, stride = 2, padding = 1), Tanh,
    AvgPool2d(kernel = 2, stride = 1), Flatten, Linear(72 -> 5),
    loss: SoftmaxCrossEntropy,
});

conv_case!(conv2d_rect, batch 4: {
    input: [2, 6, 10],
    Conv2d(3, kernel = (3, 5), stride = (1, 2), padding = (1, 2), bias = false),
    LeakyReLU(slope = 0.1),
    MaxPool2d(kernel = 3, stride = 2, padding = 1), Flatten, Linear(27 -> 3),
    loss: SoftmaxCrossEntropy,
});

conv_case!(conv2d_dilation, batch 3: {
    input: [2, 11, 11],
    Conv2d(4, kernel = 3, padding = 2, dilation = 2), Sigmoid, Flatten, Linear(484 -> 3),
    loss: Mse,
});

conv_case!(depthwise_separable, batch 7: {
    input: [4, 7, 7],
    Conv2d(4, kernel = 3, padding = 1, groups = 4, bias = false), BatchNorm, ReLU,
    Conv2d(8, kernel = 1, bias = false), BatchNorm, ReLU,
    GlobalAvgPool, Flatten, Linear(8 -> 5),
    loss: SoftmaxCrossEntropy,
}, inference NetInference);

conv_case!(grouped, batch 5: {
    input: [6, 5, 5],
    Conv2d(9, kernel = 3, groups = 3), ReLU, Flatten, Linear(81 -> 4),
    loss: SoftmaxCrossEntropy,
});

conv_case!(bn2d, batch 9: {
    input: [3, 6, 6],
    Conv2d(5, kernel = 3, padding = 1), BatchNorm(5), ReLU, MaxPool2d(2),
    Flatten, Linear(45 -> 4),
    loss: SoftmaxCrossEntropy,
}, inference NetInference);

conv_case!(lenet_adam, batch 9: {
    input: [1, 8, 8],
    Conv2d(6, kernel = 3, padding = 1), ReLU, MaxPool2d(2),
    Conv2d(8, kernel = 3), BatchNorm, ReLU,
    Flatten, Linear(32 -> 16), ReLU, Linear(10),
    loss: SoftmaxCrossEntropy,
}, inference NetInference, steps || Adam::new(T::of(0.01)), adam true);

conv_case!(lenet_sgd_momentum, batch 9: {
    input: [1, 8, 8],
    Conv2d(6, kernel = 3, padding = 1), ReLU, MaxPool2d(2),
    Conv2d(8, kernel = 3), BatchNorm, ReLU,
    Flatten, Linear(32 -> 16), ReLU, Linear(10),
    loss: SoftmaxCrossEntropy,
}, inference NetInference, steps || Sgd::with(
    T::of(0.05),
    SgdConfig { momentum: 0.9, weight_decay: Decay::all(0.001), ..Default::default() },
), adam false);
