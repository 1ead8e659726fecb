//! Proves that `staticnn` without default features builds, links and trains in a program
//! that has neither the standard library nor a heap.
//!
//! * `#![no_std]`: if any crate in the graph linked `std`, its `panic_impl` lang item would
//!   clash with the `#[panic_handler]` below and the build would fail.
//! * No `#[global_allocator]`: if any crate in the graph linked `alloc`, rustc would refuse to
//!   link the binary ("no global memory allocator found").
//! * `#![no_main]`: the C runtime's start-up code (`_start` in `Scrt1.o`, added by the `cc`
//!   linker driver) calls `__libc_start_main`, which calls the `main` symbol defined here. The
//!   process exit status is `main`'s return value: 0 when every check passed.
#![no_std]
#![no_main]

use core::ffi::{c_char, c_int};
use core::fmt::{self, Write};
use core::panic::PanicInfo;

use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};

// rustc links `no_std` executables with `-nodefaultlibs`, so the C library that provides
// `__libc_start_main` (and `abort`, used by the panic handler) is named here. This is the only
// use of the C library: the network code itself needs nothing from it.
#[link(name = "c")]
unsafe extern "C" {
    fn abort() -> !;
}

/// Any panic (an out-of-bounds index, a failed `assert!`) ends the process with `SIGABRT`.
#[panic_handler]
fn panic(_: &PanicInfo<'_>) -> ! {
    // SAFETY: `abort` takes no arguments and never returns.
    unsafe { abort() }
}

/// The unwinding personality routine that the precompiled `core` refers to.
///
/// Stable Rust ships `core` built with `panic = "unwind"`, so its landing pads name
/// `rust_eh_personality` even when this program aborts on panic; an unoptimised build keeps
/// those references and fails to link without the symbol (release builds usually drop them,
/// but not reliably). Nothing here ever unwinds: a panic aborts in the handler above, and no
/// foreign code throws. So the routine is never called; if it were, it aborts.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() -> ! {
    // SAFETY: as in `panic`.
    unsafe { abort() }
}

network! {
    /// A small classifier for three clusters in four dimensions.
    struct Clusters {
        input: 4,
        Linear(8),
        ReLU,
        Linear(3),
        loss: SoftmaxCrossEntropy,
    }
}

/// Samples per batch.
const B: usize = 12;
/// Training steps.
const STEPS: usize = 200;

/// Why the check failed; the discriminant is the process exit status.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Failure {
    /// `train_step` reported a non-finite loss or gradient.
    Train = 1,
    /// A loss was not finite.
    NonFinite = 2,
    /// Training did not lower the loss.
    NoProgress = 3,
    /// The trained network misclassifies its own training batch.
    Inference = 4,
    /// The layer summary could not be formatted into a fixed buffer.
    Summary = 5,
    /// Quantising to int8 failed, or the int8 network misclassifies the training batch.
    Int8 = 6,
}

/// The exit status of the C `main`.
#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    match run() {
        Ok(()) => 0,
        Err(failure) => failure as c_int,
    }
}

/// Three well-separated clusters, `B / 3` noisy samples each.
fn batch(rng: &mut Xoshiro128PlusPlus) -> (SMatrix<f32, 4, B>, [ClassIndex<3>; B]) {
    const CENTRES: [[f32; 4]; 3] = [
        [2.0, 0.0, 0.0, -1.0],
        [-2.0, 1.0, 0.0, 0.0],
        [0.0, -2.0, 2.0, 1.0],
    ];
    let mut x = SMatrix::<f32, 4, B>::zeros();
    let mut t = [ClassIndex::<3>::default(); B];
    for (b, label) in t.iter_mut().enumerate() {
        let class = b % 3;
        *label = ClassIndex::new(class).unwrap_or_default();
        for (i, &c) in CENTRES[class].iter().enumerate() {
            x[(i, b)] = c + rng.random_range(-0.3f32..0.3);
        }
    }
    (x, t)
}

fn run() -> Result<(), Failure> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(2024);
    let mut net = Clusters::<f32>::new(&mut rng);
    let (x, t) = batch(&mut rng);

    let mut tape = Clusters::<f32>::tape::<B>();
    let mut grads = Clusters::<f32>::gradients();
    let mut sgd = Sgd::new(0.1f32);

    let before = net.loss(&x, &t);
    let mut first_step = None;
    for _ in 0..STEPS {
        let l = net
            .train_step(&x, &t, &mut grads, &mut tape, &mut sgd, &mut rng)
            .map_err(|_| Failure::Train)?;
        first_step.get_or_insert(l);
    }
    let after = net.loss(&x, &t);

    if !(before.is_finite() && after.is_finite()) || first_step.is_none_or(|l| !l.is_finite()) {
        return Err(Failure::NonFinite);
    }
    // The loss `train_step` reports is the one before its update: it must match eval mode
    // here, as this network has no train-only behaviour.
    if first_step.is_none_or(|l| (l - before).abs() > 1e-5) || after >= before * 0.5 {
        return Err(Failure::NoProgress);
    }

    // Inference: a whole batch, and one sample at a time.
    let predicted = net.classify(&x);
    for (b, (p, label)) in predicted.iter().zip(&t).enumerate() {
        let single = net.predict(&x.column(b).into_owned());
        let argmax = single.argmax().0;
        if *p != label.get() || argmax != *p {
            return Err(Failure::Inference);
        }
    }

    // Int8: quantised with the training batch as calibration, integers only, no heap.
    let samples: [[f32; 4]; B] = core::array::from_fn(|b| core::array::from_fn(|i| x[(i, b)]));
    let labels = [(); B];
    let calibration = Dataset::new(&samples, &labels).map_err(|_| Failure::Int8)?;
    let int8 = net.quantize(calibration).map_err(|_| Failure::Int8)?;
    if int8.classify(&x) != predicted {
        return Err(Failure::Int8);
    }

    // The summary implements `Display` without allocating: format it into a fixed buffer.
    let mut text = FixedBuf {
        bytes: [0; 2048],
        len: 0,
    };
    write!(text, "{}", net.summary()).map_err(|_| Failure::Summary)?;
    if !text.as_bytes().starts_with(b"Clusters (f32)") {
        return Err(Failure::Summary);
    }
    Ok(())
}

/// A `fmt::Write` sink on the stack.
struct FixedBuf {
    bytes: [u8; 2048],
    len: usize,
}

impl FixedBuf {
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl Write for FixedBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        self.bytes
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
