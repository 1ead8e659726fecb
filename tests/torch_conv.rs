//! The convolutional layers against PyTorch: the single-stage cases of
//! `tests/fixtures/torch-conv/` (copied from `../shared/torch-vectors-conv/`; see its
//! README), computed by PyTorch in float64.
//!
//! `network!` does not declare convolutional networks yet, so each case chains the layers by
//! hand through the [`Layer`] trait ([`Stage`]): every layer's parameters and running
//! statistics are loaded from the fixture through its [`Layer::TENSORS`] (which also checks
//! their names, shapes and storage order), then one train-mode forward, the loss and its
//! gradient, backward with the input gradient, and the eval-mode forward (with the running
//! statistics the train-mode forward left behind) are compared with PyTorch's: output, loss,
//! input gradient, every parameter gradient, the running statistics and the eval output.
//! In f64 to 1e-10 and in f32 (weights and inputs rounded) to 1e-5, relative with a floor
//! of 1. Each case also checks that it compared every tensor of the fixture.
//!
//! The `lenet_*` cases (three optimiser steps over a whole network) are left to the tests of
//! the `network!` expansion.

#[allow(dead_code)]
mod common;

use common::{Fixture, FromTarget, batch_rows};
use staticnn::block;
use staticnn::io::Place;
use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
use std::sync::Mutex;

/// Tolerance of the f64 runs.
const F64_TOL: f64 = 1e-10;
/// Tolerance of the f32 runs.
const F32_TOL: f64 = 1e-5;

/// The largest error seen per scalar type, `|a − e| / max(1, |e|)`, printed by each test
/// (`--nocapture`) for the record.
static WORST: Mutex<[f64; 2]> = Mutex::new([0.0; 2]);

/// `fx.assert_close`, recording the largest error.
fn close<T: Scalar>(fx: &Fixture, name: &str, actual: &[f64], tol: f64) {
    let e = &fx.get(name).data;
    let worst = actual
        .iter()
        .zip(e)
        .map(|(a, e)| (a - e).abs() / e.abs().max(1.0))
        .fold(0.0, f64::max);
    let slot = usize::from(core::mem::size_of::<T>() == 4);
    let mut w = WORST.lock().unwrap();
    w[slot] = w[slot].max(worst);
    drop(w);
    fx.assert_close(name, actual, tol);
}

/// One layer of a hand-made chain, with its numbers, its input and output of the last
/// train-mode forward, and its parameter gradients.
struct Stage<T: Scalar, L: Layer<T, I, O>, const I: usize, const O: usize, const B: usize> {
    layer: L,
    key: &'static str,
    params: L::Params,
    state: L::State,
    tape: Box<L::Tape<B>>,
    x: SMatrix<T, I, B>,
    y: SMatrix<T, O, B>,
    grads: L::Params,
}

impl<T: Scalar, L: Layer<T, I, O>, const I: usize, const O: usize, const B: usize>
    Stage<T, L, I, O, B>
{
    /// The layer with its parameters and state read from the fixture's `model.<key>.*`
    /// tensors, as its `TENSORS` describe them; records the names it read in `seen`.
    fn new(layer: L, key: &'static str, fx: &Fixture, seen: &mut Vec<String>) -> Self {
        let mut params: L::Params = bytemuck::Zeroable::zeroed();
        let mut state: L::State = bytemuck::Zeroable::zeroed();
        for t in L::TENSORS {
            let dst: &mut [T] = match t.place {
                Place::Params => block::as_mut_slice(&mut params),
                Place::State => block::as_mut_slice(&mut state),
                _ => continue,
            };
            let name = format!("model.{key}.{}", t.name);
            let src = fx.get(&name);
            assert_eq!(src.shape, t.shape, "{}: `{name}` shape", fx.case());
            for (i, &v) in src.data.iter().enumerate() {
                dst[t.offset + t.storage_index(i)] = T::of(v);
            }
            seen.push(name);
        }
        Stage {
            layer,
            key,
            params,
            state,
            tape: bytemuck::allocation::zeroed_box(),
            x: SMatrix::zeros(),
            y: SMatrix::zeros(),
            grads: bytemuck::Zeroable::zeroed(),
        }
    }

    /// Train-mode forward, keeping the input for backward.
    fn fwd(&mut self, x: &SMatrix<T, I, B>) -> &SMatrix<T, O, B> {
        self.x = *x;
        let mut rng = Xoshiro128PlusPlus::seed_from_u64(0);
        let (p, s, t) = (&self.params, &mut self.state, &mut *self.tape);
        self.layer.forward_train(p, s, x, &mut self.y, t, &mut rng);
        &self.y
    }

    /// Eval-mode forward.
    fn eval(&self, x: &SMatrix<T, I, B>) -> SMatrix<T, O, B> {
        let mut y = SMatrix::zeros();
        self.layer.forward(&self.params, &self.state, x, &mut y);
        y
    }

    /// Backward (gradients written), returning the input gradient.
    fn back(&mut self, dy: &SMatrix<T, O, B>) -> SMatrix<T, I, B> {
        let mut dx = SMatrix::from_element(T::of(f64::NAN));
        let (p, t) = (&self.params, &*self.tape);
        let g = &mut self.grads;
        self.layer
            .backward_overwrite(p, &self.x, &self.y, t, dy, Some(&mut dx), g);
        dx
    }

    /// Compares the parameter gradients with `expected.grad.<key>.*` and the state with
    /// `expected.after.<key>.*`; records the names in `seen`.
    fn compare(&self, fx: &Fixture, tol: f64, seen: &mut Vec<String>) {
        for t in L::TENSORS {
            let (prefix, src): (_, &[T]) = match t.place {
                Place::Params => ("grad", block::as_slice(&self.grads)),
                Place::State => ("after", block::as_slice(&self.state)),
                _ => continue,
            };
            let name = format!("expected.{prefix}.{}.{}", self.key, t.name);
            let values: Vec<f64> = (0..t.len())
                .map(|i| src[t.offset + t.storage_index(i)].as_f64())
                .collect();
            close::<T>(fx, &name, &values, tol);
            seen.push(name);
        }
    }
}

/// A batch from a `[B, …]` tensor, each sample flattened in PyTorch's order.
fn batch<T: Scalar, const N: usize, const B: usize>(fx: &Fixture, name: &str) -> SMatrix<T, N, B> {
    let t = fx.get(name);
    assert_eq!(t.shape[0], B, "{name}: batch");
    assert_eq!(
        t.data.len(),
        N * B,
        "{name}: {:?} is not {B} × {N}",
        t.shape
    );
    SMatrix::from_fn(|n, b| T::of(t.data[b * N + n]))
}

/// Checks the train-mode output and the loss of a chain; returns the loss gradient.
fn check_output<T: Scalar, Lo, const O: usize, const B: usize>(
    fx: &Fixture,
    tol: f64,
    y: &SMatrix<T, O, B>,
) -> SMatrix<T, O, B>
where
    Lo: Loss<T, O> + Default,
    Lo::Target<B>: FromTarget,
{
    close::<T>(fx, "expected.output", &batch_rows(y), tol);
    let target = <Lo::Target<B> as FromTarget>::from_target(fx.get("target"));
    let mut dy = SMatrix::<T, O, B>::zeros();
    let loss = Lo::default().loss_and_grad(y, &target, &mut dy);
    close::<T>(fx, "expected.loss", &[loss.as_f64()], tol);
    dy
}

/// Asserts that `seen` holds every `model.`, `expected.grad.` and `expected.after.` tensor
/// of the fixture.
fn check_all_seen(fx: &Fixture, mut seen: Vec<String>) {
    seen.sort();
    let mut all = fx.names("model.");
    all.extend(fx.names("expected.grad."));
    all.extend(fx.names("expected.after."));
    all.sort();
    assert_eq!(
        seen,
        all,
        "{}: every tensor must be loaded or compared",
        fx.case()
    );
}

/// Declares a case: `name, batch B, loss L, input N: [key: layer => width, …]`, each
/// layer with its `nn.Sequential` index and its output width. Expands to an f64 and an f32
/// test.
macro_rules! conv_case {
    (
        $(#[doc = $doc:literal])*
        $case:ident, batch $b:literal, loss $loss:ty, input $n:literal:
        [$($s:ident $key:literal: $layer:expr => $w:literal),+ $(,)?]
    ) => {
        $(#[doc = $doc])*
        mod $case {
            use super::*;

            fn check<T: Scalar>(tol: f64) {
                const B: usize = $b;
                let fx = Fixture::load_from("torch-conv", stringify!($case));
                let mut seen = Vec::new();
                let x = batch::<T, $n, B>(&fx, "input");
                conv_case!(@stages fx seen B $n; $($s $key $layer => $w),+);
                let y = *conv_case!(@fwd (&x); $($s),+);
                let dy = check_output::<T, $loss, _, B>(&fx, tol, &y);
                let dx: SMatrix<T, $n, B> = conv_case!(@back (&dy); [] $($s),+);
                close::<T>(&fx, "expected.grad_input", &batch_rows(&dx), tol);
                $($s.compare(&fx, tol, &mut seen);)+
                let eval = conv_case!(@eval (&x); $($s),+);
                close::<T>(&fx, "expected.eval_output", &batch_rows(&eval), tol);
                check_all_seen(&fx, seen);
                let [w64, w32] = *WORST.lock().unwrap();
                println!("largest error so far: f64 {w64:.1e}, f32 {w32:.1e}");
            }

            /// In f64, everything matches PyTorch to 1e-10.
            #[test]
            fn f64_matches_torch() {
                check::<f64>(F64_TOL);
            }

            /// In f32, with the weights and inputs rounded to f32, to 1e-5.
            #[test]
            fn f32_matches_torch() {
                check::<f32>(F32_TOL);
            }
        }
    };
    (@stages $fx:ident $seen:ident $b:ident $i:literal; $s:ident $key:literal $layer:expr => $w:literal $(, $rs:ident $rkey:literal $rlayer:expr => $rw:literal)*) => {
        let mut $s = Stage::<T, _, $i, $w, $b>::new($layer, $key, &$fx, &mut $seen);
        conv_case!(@stages $fx $seen $b $w; $($rs $rkey $rlayer => $rw),*);
    };
    (@stages $fx:ident $seen:ident $b:ident $i:literal;) => {};
    (@fwd ($x:expr); $s:ident $(, $rest:ident)*) => { conv_case!(@fwd ($s.fwd($x)); $($rest),*) };
    (@fwd ($x:expr);) => { $x };
    (@eval ($x:expr); $s:ident $(, $rest:ident)*) => { conv_case!(@eval (&$s.eval($x)); $($rest),*) };
    (@eval ($x:expr);) => { *$x };
    // Reverses the list, then applies `back` from the last layer to the first.
    (@back ($dy:expr); [$($r:ident),*] $s:ident $(, $rest:ident)*) => {
        conv_case!(@back ($dy); [$s $(, $r)*] $($rest),*)
    };
    (@back ($dy:expr); [$($r:ident),*]) => { conv_case!(@apply ($dy); $($r),*) };
    (@apply ($dy:expr); $s:ident $(, $rest:ident)*) => { conv_case!(@apply (&$s.back($dy)); $($rest),*) };
    (@apply ($dy:expr);) => { *$dy };
}

conv_case! {
    /// Conv1d 2 → 4, kernel 3, padding 1, with bias.
    conv1d_basic, batch 5, loss SoftmaxCrossEntropy, input 32: [
        c0 "0": Conv1d::<2, 16, 4, 16, 3, 1, 1, 1, 1, 6, 4>::default() => 64,
        c1 "1": ReLU => 64,
        c2 "2": Flatten => 64,
        c3 "3": Linear::default() => 3,
    ]
}

conv_case! {
    /// Conv1d 3 → 5, kernel 5, stride 2, padding 2, dilation 2, no bias; max pooling.
    conv1d_stride_dilation, batch 6, loss SoftmaxCrossEntropy, input 63: [
        c0 "0": Conv1d::<3, 21, 5, 9, 5, 2, 2, 2, 1, 15, 0>::default() => 45,
        c1 "1": Tanh => 45,
        c2 "2": MaxPool1d::<5, 9, 4, 2, 2, 0> => 20,
        c3 "3": Flatten => 20,
        c4 "4": Linear::default() => 4,
    ]
}

conv_case! {
    /// Conv1d 1 → 3, kernel 4, no padding; ELU; average pooling; MSE.
    conv1d_avgpool, batch 4, loss Mse, input 12: [
        c0 "0": Conv1d::<1, 12, 3, 9, 4, 1, 0, 1, 1, 4, 3>::default() => 27,
        c1 "1": ELU::default() => 27,
        c2 "2": AvgPool1d::<3, 9, 3, 3, 3, 0> => 9,
        c3 "3": Flatten => 9,
        c4 "4": Linear::default() => 2,
    ]
}

conv_case! {
    /// Conv1d without bias, batch norm over the channels of a sequence, global pooling.
    conv1d_bn, batch 6, loss SoftmaxCrossEntropy, input 20: [
        c0 "0": Conv1d::<2, 10, 6, 10, 3, 1, 1, 1, 1, 6, 0>::default() => 60,
        c1 "1": SpatialBatchNorm::<6, 10>::default() => 60,
        c2 "2": ReLU => 60,
        c3 "3": GlobalAvgPool::<6, 10> => 6,
        c4 "4": Flatten => 6,
        c5 "5": Linear::default() => 3,
    ]
}

conv_case! {
    /// Conv2d 1 → 4, 3 × 3, padding 1; ReLU; 2 × 2 max pooling.
    conv2d_basic, batch 5, loss SoftmaxCrossEntropy, input 64: [
        c0 "0": Conv2d::<1, 8, 8, 4, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 9, 4>::default() => 256,
        c1 "1": ReLU => 256,
        c2 "2": MaxPool2d::<4, 8, 8, 4, 4, 2, 2, 2, 2, 0, 0> => 64,
        c3 "3": Flatten => 64,
        c4 "4": Linear::default() => 10,
    ]
}

conv_case! {
    /// Conv2d 3 → 6 on 9 × 7, stride 2, padding 1; Tanh; 2 × 2 average pooling, stride 1.
    conv2d_stride_pad, batch 6, loss SoftmaxCrossEntropy, input 189: [
        c0 "0": Conv2d::<3, 9, 7, 6, 5, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 27, 6>::default() => 120,
        c1 "1": Tanh => 120,
        c2 "2": AvgPool2d::<6, 5, 4, 4, 3, 2, 2, 1, 1, 0, 0> => 72,
        c3 "3": Flatten => 72,
        c4 "4": Linear::default() => 5,
    ]
}

conv_case! {
    /// Conv2d 2 → 3, 3 × 5 kernel, stride (1, 2), padding (1, 2), no bias; leaky ReLU;
    /// overlapping padded 3 × 3 max pooling.
    conv2d_rect, batch 4, loss SoftmaxCrossEntropy, input 120: [
        c0 "0": Conv2d::<2, 6, 10, 3, 6, 5, 3, 5, 1, 2, 1, 2, 1, 1, 1, 30, 0>::default() => 90,
        c1 "1": LeakyReLU { slope: 0.1 } => 90,
        c2 "2": MaxPool2d::<3, 6, 5, 3, 3, 3, 3, 2, 2, 1, 1> => 27,
        c3 "3": Flatten => 27,
        c4 "4": Linear::default() => 3,
    ]
}

conv_case! {
    /// Conv2d 2 → 4, 3 × 3, padding 2, dilation 2; sigmoid; MSE.
    conv2d_dilation, batch 3, loss Mse, input 242: [
        c0 "0": Conv2d::<2, 11, 11, 4, 11, 11, 3, 3, 1, 1, 2, 2, 2, 2, 1, 18, 4>::default() => 484,
        c1 "1": Sigmoid => 484,
        c2 "2": Flatten => 484,
        c3 "3": Linear::default() => 3,
    ]
}

conv_case! {
    /// Depthwise 3 × 3 (groups = 4), batch norm, ReLU, pointwise 1 × 1 to 8 channels,
    /// batch norm, ReLU, global average pooling.
    depthwise_separable, batch 7, loss SoftmaxCrossEntropy, input 196: [
        c0 "0": Conv2d::<4, 7, 7, 4, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 4, 9, 0>::default() => 196,
        c1 "1": SpatialBatchNorm::<4, 49>::default() => 196,
        c2 "2": ReLU => 196,
        c3 "3": Conv2d::<4, 7, 7, 8, 7, 7, 1, 1, 1, 1, 0, 0, 1, 1, 1, 4, 0>::default() => 392,
        c4 "4": SpatialBatchNorm::<8, 49>::default() => 392,
        c5 "5": ReLU => 392,
        c6 "6": GlobalAvgPool::<8, 49> => 8,
        c7 "7": Flatten => 8,
        c8 "8": Linear::default() => 5,
    ]
}

conv_case! {
    /// Conv2d 6 → 9 with groups = 3, no padding.
    grouped, batch 5, loss SoftmaxCrossEntropy, input 150: [
        c0 "0": Conv2d::<6, 5, 5, 9, 3, 3, 3, 3, 1, 1, 0, 0, 1, 1, 3, 18, 9>::default() => 81,
        c1 "1": ReLU => 81,
        c2 "2": Flatten => 81,
        c3 "3": Linear::default() => 4,
    ]
}

conv_case! {
    /// Conv2d, batch norm over the channels of an image (train output, running statistics,
    /// eval output), ReLU, max pooling.
    bn2d, batch 9, loss SoftmaxCrossEntropy, input 108: [
        c0 "0": Conv2d::<3, 6, 6, 5, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 27, 5>::default() => 180,
        c1 "1": SpatialBatchNorm::<5, 36>::default() => 180,
        c2 "2": ReLU => 180,
        c3 "3": MaxPool2d::<5, 6, 6, 3, 3, 2, 2, 2, 2, 0, 0> => 45,
        c4 "4": Flatten => 45,
        c5 "5": Linear::default() => 4,
    ]
}

/// `SpatialBatchNorm::fold_into` on the `bn2d` case: the convolution with the batch norm
/// folded in (after the train-mode forward updated the running statistics) gives PyTorch's
/// eval-mode output through the rest of the network.
fn fold_bn2d<T: Scalar>(tol: f64) {
    const B: usize = 9;
    let fx = Fixture::load_from("torch-conv", "bn2d");
    let mut seen = Vec::new();
    type C0 = Conv2d<3, 6, 6, 5, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 27, 5>;
    let mut c0 = Stage::<T, _, 108, 180, B>::new(C0::default(), "0", &fx, &mut seen);
    let mut c1 =
        Stage::<T, _, 180, 180, B>::new(SpatialBatchNorm::<5, 36>::default(), "1", &fx, &mut seen);
    let x = batch::<T, 108, B>(&fx, "input");
    c1.fwd(c0.fwd(&x));
    let mut folded = c0.params;
    c1.layer.fold_into(&mut folded, &c1.params, &c1.state);
    let mut y = SMatrix::<T, 180, B>::zeros();
    Layer::<T, 108, 180>::forward(&c0.layer, &folded, &(), &x, &mut y);
    let c2 = Stage::<T, _, 180, 180, B>::new(ReLU, "2", &fx, &mut seen);
    let c3 = Stage::<T, _, 180, 45, B>::new(
        MaxPool2d::<5, 6, 6, 3, 3, 2, 2, 2, 2, 0, 0>,
        "3",
        &fx,
        &mut seen,
    );
    let c5 = Stage::<T, _, 45, 4, B>::new(Linear::default(), "5", &fx, &mut seen);
    let out = c5.eval(&c3.eval(&c2.eval(&y)));
    close::<T>(&fx, "expected.eval_output", &batch_rows(&out), tol);
}

/// In f64, folding the batch norm into the convolution keeps PyTorch's eval output to 1e-10.
#[test]
fn fold_into_conv_f64() {
    fold_bn2d::<f64>(F64_TOL);
}

/// In f32, to 1e-5.
#[test]
fn fold_into_conv_f32() {
    fold_bn2d::<f32>(F32_TOL);
}
