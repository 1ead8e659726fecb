//! Criterion benchmarks of the workloads of the performance issue (f32, one thread), each
//! next to a baseline measured in the same run, and an FMA peak loop so that every figure
//! can be read as a fraction of the machine's peak.
//!
//! `cargo bench --features std` runs criterion on every case (its report gives the time and,
//! as "thrpt … elem/s", the FLOP rate), then prints a summary table measured by interleaving
//! all cases round by round, so that the ratios between them are taken under the same load.
//! `SUMMARY_ONLY=W3 cargo bench --features std` prints only the summary, of the peak and
//! the cases whose `group/variant` contains `W3` (`SUMMARY_ONLY=` for all of them; a
//! filter ending in `$` keeps those that end with the rest: `SUMMARY_ONLY="SGD/staticnn$"`).
//! `PHASES="W2 64-64-64-10 ReLU B=32/staticnn" cargo bench --features std` times that case
//! call by call, alternating with the peak loop, to show the machine's slow phases.
//!
//! FLOPs are the necessary ones: forward 2·Σ in·out·B, weight gradients 2·Σ in·out·B, input
//! gradients 2·Σ in·out·B for every layer but the first (activations, losses, batch norm and
//! the optimiser are not counted).

include!("common/mod.rs");
include!("common/mlps.rs");

use staticnn::__private::kernels::Path;
use staticnn::optim::AdamConfig;

// W3 and W4, declared once with the tests that measure their memory and allocations (W1 and
// W2 are declared in `common/mod.rs`, with `benches/small.rs`).
#[path = "../tests/common/workloads.rs"]
mod workloads;
use workloads::{W3, W4};

network! {
    /// W5: a wider training step.
    struct Wide {
        input: 784,
        fc1: Linear(512),
        ReLU,
        fc2: Linear(512),
        ReLU,
        fc3: Linear(10),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// The digits MLP of `examples/digits.rs` (64-128-64-10, batch norms and dropout, which
    /// its inference form folds and removes), for the int8 comparison.
    struct Digits {
        input: 64,
        fc1: Linear(128, init = he_normal, bias = zeros),
        bn1: BatchNorm,
        act1: ReLU,
        drop1: Dropout(0.2),
        fc2: Linear(64, init = he_normal, bias = zeros),
        bn2: BatchNorm,
        act2: ReLU,
        out: Linear(10),
    }
}

/// Calibration samples of the int8 cases (uniform in `[0, 1)`, as their inputs).
fn calibration<const N: usize>(rng: &mut Xoshiro128PlusPlus) -> Vec<[f32; N]> {
    (0..200)
        .map(|_| core::array::from_fn(|_| rng.random::<f32>()))
        .collect()
}

/// Int8 inference (`forward_int8`, integers only) next to the `f32` inference form of the
/// same network, on the same batch: W2 at B = 32 in W2's group (`int8` against
/// `staticnn`), and the digits MLP at B = 32 in a group of its own. The int8 FLOPs are the
/// same multiply-adds, counted as the float ones.
fn int8_cases(rng: &mut Xoshiro128PlusPlus) -> Vec<Case> {
    use staticnn::data::Dataset;
    const B: usize = 32;
    let mut cases = Vec::new();

    let net = Box::new(W2::<f32>::new(rng));
    let calib = calibration::<64>(rng);
    let labels = vec![(); calib.len()];
    let q = Box::new(
        net.quantize(Dataset::new(&calib, &labels).unwrap())
            .unwrap(),
    );
    let x = random_box::<64, B>(rng);
    let xq = Box::new(q.quantize_input(&x));
    cases.push(Case::new(
        "W2 64-64-64-10 ReLU B=32",
        "int8",
        inference_flops(&[64, 64, 64, 10], B),
        Some("staticnn"),
        move || {
            black_box(q.forward_int8(black_box(&*xq)));
        },
    ));

    let group = "D digits 64-128-64-10 ReLU B=32";
    let flops = inference_flops(&[64, 128, 64, 10], B);
    let net = Box::new(Digits::<f32>::new(rng).to_inference());
    let calib = calibration::<64>(rng);
    let labels = vec![(); calib.len()];
    let q = Box::new(
        Digits::<f32>::new(rng)
            .quantize(Dataset::new(&calib, &labels).unwrap())
            .unwrap(),
    );
    let x = random_box::<64, B>(rng);
    let xq = Box::new(q.quantize_input(&x));
    let x2 = x.clone();
    cases.push(Case::new(group, "f32", flops, None, move || {
        black_box(net.forward(black_box(&*x2)));
    }));
    cases.push(Case::new(group, "int8", flops, Some("f32"), move || {
        black_box(q.forward_int8(black_box(&*xq)));
    }));
    cases
}

/// Learning rate of every training benchmark. Thousands of steps run on one fixed batch; at
/// this rate the parameters barely move, so every step computes on the same kind of numbers
/// (a network that memorised the batch would drive the loss gradient towards subnormal
/// numbers, whose arithmetic is slow).
const LR: f32 = 1e-5;

/// Necessary FLOPs of a training step (forward, weight gradients, input gradients of every
/// layer but the first).
fn train_flops(dims: &[usize], b: usize) -> u64 {
    let macs: usize = dims.windows(2).map(|w| w[0] * w[1]).sum();
    let first = dims[0] * dims[1];
    (2 * (3 * macs - first) * b) as u64
}

/// Runs `run` on the kernels' path `path` (capped by the CPU), then restores the path in
/// use: a variant of a case on a narrower path, in the same run.
fn on_path(path: Path, mut run: impl FnMut()) -> impl FnMut() {
    use staticnn::__private::kernels::{path as current, set_path};
    move || {
        let before = current();
        set_path(Some(path));
        run();
        set_path(Some(before));
    }
}

// ---------------------------------------------------------------------------------------
// matrixmultiply: a blocked, packed sgemm (it allocates its packing buffers on every call).

/// `C = A · B + beta · C` for column-major `f32` matrices through `matrixmultiply::sgemm`:
/// `A` is `m × k`, `B` is `k × n`; `ta`/`tb` read `A`/`B` as the transposes of the
/// column-major matrices stored in `a`/`b` (a transposed view costs nothing: only strides).
#[allow(clippy::too_many_arguments)]
fn sgemm(
    (m, k, n): (usize, usize, usize),
    a: &[f32],
    ta: bool,
    b: &[f32],
    tb: bool,
    beta: f32,
    c: &mut [f32],
) {
    assert!(a.len() == m * k && b.len() == k * n && c.len() == m * n);
    // Strides (row, column) of a column-major `r × c` matrix, or of the transpose of one.
    let strides = |rows: usize, t: bool| -> (isize, isize) {
        if t {
            (rows as isize, 1)
        } else {
            (1, rows as isize)
        }
    };
    let (rsa, csa) = strides(if ta { k } else { m }, ta);
    let (rsb, csb) = strides(if tb { n } else { k }, tb);
    // SAFETY: the strides address `m × k`, `k × n` and `m × n` elements inside the slices,
    // whose lengths are asserted above; `c` does not alias `a` or `b` (a `&mut` borrow).
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            1,
            m as isize,
        );
    }
}

/// Which product the nalgebra baseline uses.
#[derive(Clone, Copy, PartialEq)]
enum Products {
    /// nalgebra's own static product (`mul_to`, `tr_mul_to`, with explicit transposes).
    Nalgebra,
    /// `matrixmultiply::sgemm` on the same matrices (transposes as strides).
    Matrixmultiply,
}

/// `y = relu?(W x + b)` with matrixmultiply's product: `y` starts as the bias.
fn mm_affine<const I: usize, const O: usize, const B: usize>(
    w: &SMatrix<f32, O, I>,
    b: &SVector<f32, O>,
    x: &SMatrix<f32, I, B>,
    y: &mut SMatrix<f32, O, B>,
    relu: bool,
) {
    for mut col in y.column_iter_mut() {
        col.copy_from(b);
    }
    sgemm(
        (O, I, B),
        w.as_slice(),
        false,
        x.as_slice(),
        false,
        1.0,
        y.as_mut_slice(),
    );
    if relu {
        y.apply(|v| *v = v.max(0.0));
    }
}

/// A hand-written three-layer ReLU MLP on nalgebra static matrices (on the heap), trained
/// with softmax cross-entropy and plain SGD, its products by nalgebra or by matrixmultiply.
struct NaMlp<const I: usize, const H1: usize, const H2: usize, const O: usize, const B: usize> {
    products: Products,
    w1: Box<SMatrix<f32, H1, I>>,
    b1: SVector<f32, H1>,
    w2: Box<SMatrix<f32, H2, H1>>,
    b2: SVector<f32, H2>,
    w3: Box<SMatrix<f32, O, H2>>,
    b3: SVector<f32, O>,
    a1: Box<SMatrix<f32, H1, B>>,
    a2: Box<SMatrix<f32, H2, B>>,
    z3: Box<SMatrix<f32, O, B>>,
    d1: Box<SMatrix<f32, H1, B>>,
    d2: Box<SMatrix<f32, H2, B>>,
    d3: Box<SMatrix<f32, O, B>>,
    xt: Box<SMatrix<f32, B, I>>,
    a1t: Box<SMatrix<f32, B, H1>>,
    a2t: Box<SMatrix<f32, B, H2>>,
    dw1: Box<SMatrix<f32, H1, I>>,
    dw2: Box<SMatrix<f32, H2, H1>>,
    dw3: Box<SMatrix<f32, O, H2>>,
}

impl<const I: usize, const H1: usize, const H2: usize, const O: usize, const B: usize>
    NaMlp<I, H1, H2, O, B>
{
    fn new(rng: &mut Xoshiro128PlusPlus, products: Products) -> Self {
        fn filled<const R: usize, const C: usize>(
            rng: &mut Xoshiro128PlusPlus,
        ) -> Box<SMatrix<f32, R, C>> {
            let bound = 1.0 / (C as f32).sqrt();
            let mut m = zeroed_box::<SMatrix<f32, R, C>>();
            m.iter_mut()
                .for_each(|v| *v = (rng.random::<f32>() * 2.0 - 1.0) * bound);
            m
        }
        NaMlp {
            products,
            w1: filled(rng),
            b1: *filled::<H1, 1>(rng),
            w2: filled(rng),
            b2: *filled::<H2, 1>(rng),
            w3: filled(rng),
            b3: *filled::<O, 1>(rng),
            a1: zeroed_box(),
            a2: zeroed_box(),
            z3: zeroed_box(),
            d1: zeroed_box(),
            d2: zeroed_box(),
            d3: zeroed_box(),
            xt: zeroed_box(),
            a1t: zeroed_box(),
            a2t: zeroed_box(),
            dw1: zeroed_box(),
            dw2: zeroed_box(),
            dw3: zeroed_box(),
        }
    }

    /// Takes the weights and biases of `other`.
    fn copy_weights_from(&mut self, other: &Self) {
        self.w1.copy_from(&other.w1);
        self.b1 = other.b1;
        self.w2.copy_from(&other.w2);
        self.b2 = other.b2;
        self.w3.copy_from(&other.w3);
        self.b3 = other.b3;
    }

    /// Forward, softmax cross-entropy, backward and an SGD step; returns the mean loss.
    fn step(&mut self, x: &SMatrix<f32, I, B>, t: &[usize; B], lr: f32) -> f32 {
        let mm = self.products == Products::Matrixmultiply;
        if mm {
            mm_affine(&self.w1, &self.b1, x, &mut self.a1, true);
            mm_affine(&self.w2, &self.b2, &self.a1, &mut self.a2, true);
            mm_affine(&self.w3, &self.b3, &self.a2, &mut self.z3, false);
        } else {
            na_affine(&self.w1, &self.b1, x, &mut self.a1, true);
            na_affine(&self.w2, &self.b2, &self.a1, &mut self.a2, true);
            na_affine(&self.w3, &self.b3, &self.a2, &mut self.z3, false);
        }

        let mut loss = 0.0;
        let scale = 1.0 / B as f32;
        for (b, (z, mut d)) in self
            .z3
            .column_iter()
            .zip(self.d3.column_iter_mut())
            .enumerate()
        {
            let m = z.max();
            let mut sum = 0.0;
            for (dv, zv) in d.iter_mut().zip(z.iter()) {
                *dv = libm::expf(zv - m);
                sum += *dv;
            }
            loss += libm::logf(sum) + m - z[t[b]];
            d.iter_mut().for_each(|v| *v *= scale / sum);
            d[t[b]] -= scale;
        }

        if mm {
            // dW3 = d3 · a2ᵀ, d2 = W3ᵀ · d3.
            let (d3, a2) = (self.d3.as_slice(), self.a2.as_slice());
            sgemm(
                (O, B, H2),
                d3,
                false,
                a2,
                true,
                0.0,
                self.dw3.as_mut_slice(),
            );
            sgemm(
                (H2, O, B),
                self.w3.as_slice(),
                true,
                d3,
                false,
                0.0,
                self.d2.as_mut_slice(),
            );
        } else {
            self.a2.transpose_to(&mut *self.a2t);
            self.d3.mul_to(&*self.a2t, &mut *self.dw3);
            self.w3.tr_mul_to(&*self.d3, &mut *self.d2);
        }
        let db3 = self.d3.column_sum();
        self.d2.zip_apply(&*self.a2, |d, a| {
            if a <= 0.0 {
                *d = 0.0;
            }
        });

        if mm {
            let (d2, a1) = (self.d2.as_slice(), self.a1.as_slice());
            sgemm(
                (H2, B, H1),
                d2,
                false,
                a1,
                true,
                0.0,
                self.dw2.as_mut_slice(),
            );
            sgemm(
                (H1, H2, B),
                self.w2.as_slice(),
                true,
                d2,
                false,
                0.0,
                self.d1.as_mut_slice(),
            );
        } else {
            self.a1.transpose_to(&mut *self.a1t);
            self.d2.mul_to(&*self.a1t, &mut *self.dw2);
            self.w2.tr_mul_to(&*self.d2, &mut *self.d1);
        }
        let db2 = self.d2.column_sum();
        self.d1.zip_apply(&*self.a1, |d, a| {
            if a <= 0.0 {
                *d = 0.0;
            }
        });

        if mm {
            let (d1, x) = (self.d1.as_slice(), x.as_slice());
            sgemm((H1, B, I), d1, false, x, true, 0.0, self.dw1.as_mut_slice());
        } else {
            x.transpose_to(&mut *self.xt);
            self.d1.mul_to(&*self.xt, &mut *self.dw1);
        }
        let db1 = self.d1.column_sum();

        self.w1.zip_apply(&*self.dw1, |p, g| *p -= lr * g);
        self.b1.zip_apply(&db1, |p, g| *p -= lr * g);
        self.w2.zip_apply(&*self.dw2, |p, g| *p -= lr * g);
        self.b2.zip_apply(&db2, |p, g| *p -= lr * g);
        self.w3.zip_apply(&*self.dw3, |p, g| *p -= lr * g);
        self.b3.zip_apply(&db3, |p, g| *p -= lr * g);
        loss * scale
    }
}

/// The products of a training step of an `I-H1-H2-O` network at batch `B` and nothing else,
/// by matrixmultiply: what a blocked sgemm reaches on exactly these shapes (the forward
/// `W · X` of three layers, `dY · Xᵀ` of three, `Wᵀ · dY` of the last two).
fn sgemm_products_case<
    const I: usize,
    const H1: usize,
    const H2: usize,
    const O: usize,
    const B: usize,
>(
    group: &'static str,
    rng: &mut Xoshiro128PlusPlus,
) -> Case {
    let dims = [I, H1, H2, O];
    let x = random_box::<I, B>(rng);
    let a1 = random_box::<H1, B>(rng);
    let a2 = random_box::<H2, B>(rng);
    let (w1, w2, w3) = (
        random_box::<H1, I>(rng),
        random_box::<H2, H1>(rng),
        random_box::<O, H2>(rng),
    );
    let (d1, d2, d3) = (
        random_box::<H1, B>(rng),
        random_box::<H2, B>(rng),
        random_box::<O, B>(rng),
    );
    let mut y = vec![0.0f32; H1.max(H2).max(O) * B];
    let (mut g1, mut g2, mut g3) = (
        zeroed_box::<SMatrix<f32, H1, I>>(),
        zeroed_box::<SMatrix<f32, H2, H1>>(),
        zeroed_box::<SMatrix<f32, O, H2>>(),
    );
    Case::new(
        group,
        "sgemm only",
        train_flops(&dims, B),
        Some("staticnn"),
        move || {
            let (x, a1, a2) = (x.as_slice(), a1.as_slice(), a2.as_slice());
            let (d1, d2, d3) = (d1.as_slice(), d2.as_slice(), d3.as_slice());
            let (w1, w2, w3) = (w1.as_slice(), w2.as_slice(), w3.as_slice());
            sgemm((H1, I, B), w1, false, x, false, 0.0, &mut y[..H1 * B]);
            sgemm((H2, H1, B), w2, false, a1, false, 0.0, &mut y[..H2 * B]);
            sgemm((O, H2, B), w3, false, a2, false, 0.0, &mut y[..O * B]);
            sgemm((O, B, H2), d3, false, a2, true, 0.0, g3.as_mut_slice());
            sgemm((H2, O, B), w3, true, d3, false, 0.0, &mut y[..H2 * B]);
            sgemm((H2, B, H1), d2, false, a1, true, 0.0, g2.as_mut_slice());
            sgemm((H1, H2, B), w2, true, d2, false, 0.0, &mut y[..H1 * B]);
            sgemm((H1, B, I), d1, false, x, true, 0.0, g1.as_mut_slice());
            black_box((&y, &g1, &g2, &g3));
        },
    )
}

/// One dense product of a workload, by staticnn's kernel and by matrixmultiply, as two cases
/// of the group `K <what> <shape>` (`SUMMARY_ONLY=K` selects them all).
#[derive(Clone, Copy)]
enum Product {
    /// `Y = b + W · X`: `W` is `o × i`, `X` is `i × n`.
    Forward,
    /// `dW += dY · Xᵀ` (and the bias gradient).
    WeightGrad,
    /// `dX = Wᵀ · dY`.
    InputGrad,
}

fn product_cases(
    what: &str,
    product: Product,
    (o, i, n): (usize, usize, usize),
    rng: &mut Xoshiro128PlusPlus,
) -> Vec<Case> {
    use staticnn::__private::kernels;
    let mut random = |len: usize| -> Vec<f32> { (0..len).map(|_| rng.random::<f32>()).collect() };
    let (w, x, dy, bias) = (random(o * i), random(i * n), random(o * n), random(o));
    let (w2, x2, dy2) = (w.clone(), x.clone(), dy.clone());
    let (mut out, mut out2) = (
        vec![0.0f32; (o * i).max(o * n).max(i * n)],
        vec![0.0f32; (o * i).max(o * n).max(i * n)],
    );
    let mut db = vec![0.0f32; o];
    let name = match product {
        Product::Forward => "W·X",
        Product::WeightGrad => "dY·Xᵀ",
        Product::InputGrad => "Wᵀ·dY",
    };
    let group: &'static str =
        Box::leak(format!("K {what} {name} o={o} i={i} n={n}").into_boxed_str());
    let flops = (2 * o * i * n) as u64;
    // The library's product, on whatever path is in use.
    let ours = move |(w, x, dy, bias): (&[f32], &[f32], &[f32], &[f32]),
                     out: &mut [f32],
                     db: &mut [f32]| match product {
        Product::Forward => kernels::affine(w, bias, x, &mut out[..o * n], i, o),
        Product::WeightGrad => kernels::affine_grads(&mut out[..o * i], db, x, dy, i, o),
        Product::InputGrad => kernels::affine_input_grad(w, dy, &mut out[..i * n], i, o),
    };
    let mut cases = Vec::new();
    if kernels::cpu_path() > Path::Avx2 {
        // The same product on the AVX2 kernels, in the same rounds.
        let (w, x, dy, bias) = (w.clone(), x.clone(), dy.clone(), bias.clone());
        let (mut out, mut db) = (out.clone(), db.clone());
        cases.push(Case::new(
            group,
            "staticnn avx2",
            flops,
            Some("staticnn"),
            on_path(Path::Avx2, move || {
                ours((&w, &x, &dy, &bias), &mut out, &mut db)
            }),
        ));
    }
    cases.splice(
        0..0,
        [
            Case::new(group, "staticnn", flops, Some("sgemm"), move || {
                ours((&w, &x, &dy, &bias), &mut out, &mut db)
            }),
            Case::new(group, "sgemm", flops, None, move || match product {
                Product::Forward => {
                    sgemm((o, i, n), &w2, false, &x2, false, 0.0, &mut out2[..o * n])
                }
                Product::WeightGrad => {
                    sgemm((o, n, i), &dy2, false, &x2, true, 1.0, &mut out2[..o * i])
                }
                Product::InputGrad => {
                    sgemm((i, o, n), &w2, true, &dy2, false, 0.0, &mut out2[..i * n])
                }
            }),
        ],
    );
    cases
}

/// The products of W2 at batch 32, of W3, W5's two wide layers and W6's Linear layers, one
/// by one.
fn all_product_cases(rng: &mut Xoshiro128PlusPlus) -> Vec<Case> {
    let mut cases = Vec::new();
    for shape in [(64, 64, 32), (10, 64, 32)] {
        cases.extend(product_cases("W2", Product::Forward, shape, rng));
    }
    for shape in [(128, 784, 64), (64, 128, 64), (10, 64, 64)] {
        cases.extend(product_cases("W3", Product::Forward, shape, rng));
        cases.extend(product_cases("W3", Product::WeightGrad, shape, rng));
    }
    for shape in [(64, 128, 64), (10, 64, 64)] {
        cases.extend(product_cases("W3", Product::InputGrad, shape, rng));
    }
    for shape in [(512, 784, 128), (512, 512, 128)] {
        cases.extend(product_cases("W5", Product::Forward, shape, rng));
        cases.extend(product_cases("W5", Product::WeightGrad, shape, rng));
    }
    // W6's (LeNet-5's) three Linear layers at batch 32: rows not a multiple of 16.
    for shape in [(120, 400, 32), (84, 120, 32), (10, 84, 32)] {
        cases.extend(product_cases("W6", Product::Forward, shape, rng));
        cases.extend(product_cases("W6", Product::WeightGrad, shape, rng));
        cases.extend(product_cases("W6", Product::InputGrad, shape, rng));
    }
    cases
}

// ---------------------------------------------------------------------------------------
// The cases.

fn labels<const N: usize, const B: usize>() -> [ClassIndex<N>; B] {
    std::array::from_fn(|b| ClassIndex::new((b * 7 + 3) % N).expect("below N"))
}

/// A training case for a three-layer network `N` (`IN-H1-H2-OUT`) with a nalgebra twin.
macro_rules! train_cases {
    ($group:expr, $net:ident, $i:literal, $h1:literal, $h2:literal, $o:literal, $b:literal, $rng:expr) => {{
        let rng: &mut Xoshiro128PlusPlus = $rng;
        let flops = train_flops(&[$i, $h1, $h2, $o], $b);
        let mut net = $net::<f32>::new_boxed(rng);
        let mut grads = zeroed_box::<<$net<f32> as Network<f32, $i, $o>>::Params>();
        let mut tape = zeroed_box::<<$net<f32> as Network<f32, $i, $o>>::Tape<$b>>();
        let x = random_box::<$i, $b>(rng);
        let t = labels::<$o, $b>();
        let mut sgd = Sgd::new(LR);
        let mut step_rng = Xoshiro128PlusPlus::seed_from_u64(99);
        let mut na = NaMlp::<$i, $h1, $h2, $o, $b>::new(rng, Products::Nalgebra);
        let mut mm = NaMlp::<$i, $h1, $h2, $o, $b>::new(rng, Products::Matrixmultiply);
        let xn = x.clone();
        let xm = x.clone();
        let tn: [usize; $b] = std::array::from_fn(|b| t[b].get());
        // The two baselines compute the same step: same loss from the same weights.
        mm.copy_weights_from(&na);
        let (ln, lm) = (na.step(&xn, &tn, 0.0), mm.step(&xm, &tn, 0.0));
        assert!(
            (ln - lm).abs() <= 1e-4 * ln.abs(),
            "{}: {ln} vs {lm}",
            $group
        );
        // The step again on the AVX2 kernels, on a twin of the network (same weights,
        // same batch), in the same rounds, when the CPU has wider ones.
        let mut twin = $net::<f32>::new_boxed(rng);
        staticnn::block::as_mut_slice::<f32, _>(&mut twin.params)
            .copy_from_slice(staticnn::block::as_slice::<f32, _>(&net.params));
        let mut grads2 = zeroed_box::<<$net<f32> as Network<f32, $i, $o>>::Params>();
        let mut tape2 = zeroed_box::<<$net<f32> as Network<f32, $i, $o>>::Tape<$b>>();
        let (x2, t2, mut sgd2) = (x.clone(), t, Sgd::new(LR));
        let mut step_rng2 = Xoshiro128PlusPlus::seed_from_u64(99);
        let mut cases = vec![
            Case::new($group, "staticnn", flops, Some("nalgebra"), move || {
                let r = net.train_step(
                    black_box(&*x),
                    &t,
                    &mut grads,
                    &mut tape,
                    &mut sgd,
                    &mut step_rng,
                );
                black_box(r.ok());
            }),
            Case::new($group, "nalgebra", flops, None, move || {
                black_box(na.step(black_box(&*xn), &tn, LR));
            }),
            Case::new($group, "nalgebra+mm", flops, Some("staticnn"), move || {
                black_box(mm.step(black_box(&*xm), &tn, LR));
            }),
        ];
        if staticnn::__private::kernels::cpu_path() > Path::Avx2 {
            let run = move || {
                let r = twin.train_step(
                    black_box(&*x2),
                    &t2,
                    &mut grads2,
                    &mut tape2,
                    &mut sgd2,
                    &mut step_rng2,
                );
                black_box(r.ok());
            };
            let avx2 = Case::new(
                $group,
                "staticnn avx2",
                flops,
                Some("staticnn"),
                on_path(Path::Avx2, run),
            );
            cases.insert(1, avx2);
        }
        cases
    }};
}

const W3_GROUP: &str = "W3 784-128-64-10 B=64 SGD";

fn w4_case(rng: &mut Xoshiro128PlusPlus) -> Case {
    type Params = <W4<f32> as Network<f32, 784, 10>>::Params;
    let flops = train_flops(&[784, 128, 64, 10], 64);
    let mut net = W4::<f32>::new_boxed(rng);
    let mut grads = zeroed_box::<Params>();
    let mut tape = zeroed_box::<<W4<f32> as Network<f32, 784, 10>>::Tape<64>>();
    let mut adam = Adam::<f32, Params>::boxed(LR, AdamConfig::default());
    let x = random_box::<784, 64>(rng);
    let t = labels::<10, 64>();
    let mut step_rng = Xoshiro128PlusPlus::seed_from_u64(98);
    let reference: &'static str = Box::leak(format!("{W3_GROUP}/staticnn").into_boxed_str());
    Case::new(
        "W4 784-128(BN,ReLU,drop)-64(BN,ReLU)-10 B=64 Adam",
        "staticnn",
        flops,
        Some(reference),
        move || {
            let r = net.train_step(
                black_box(&*x),
                &t,
                &mut grads,
                &mut tape,
                &mut *adam,
                &mut step_rng,
            );
            black_box(r.ok());
        },
    )
}

fn cases() -> Vec<Case> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(2026);
    let mut cases = peak_cases();
    cases.extend(w1_cases(&mut rng));
    cases.extend(w1_train_cases::<1>("W1 forward_train B=1"));
    cases.extend(w1_train_cases::<8>("W1 forward_train B=8"));
    cases.extend(w2_cases::<1>("W2 64-64-64-10 ReLU B=1", &mut rng));
    cases.extend(w2_cases::<32>("W2 64-64-64-10 ReLU B=32", &mut rng));
    cases.extend(int8_cases(&mut rng));
    cases.extend(train_cases!(W3_GROUP, W3, 784, 128, 64, 10, 64, &mut rng));
    cases.push(sgemm_products_case::<784, 128, 64, 10, 64>(
        W3_GROUP, &mut rng,
    ));
    cases.push(w4_case(&mut rng));
    cases.extend(train_cases!(
        "W5 784-512-512-10 B=128 SGD",
        Wide,
        784,
        512,
        512,
        10,
        128,
        &mut rng
    ));
    cases.extend(all_product_cases(&mut rng));
    cases
}

fn main() {
    bench_main(cases());
}
