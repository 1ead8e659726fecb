//! Int8 inference with weights in flash: the sine network quantised on the host
//! (`staticnn_sine::TRAINED_INT8`, read at compile time from its blob) evaluated in integers
//! at the test points, which the host quantised. Exits with status 0 when every output is
//! the host's int8 output bit for bit and within `TOLERANCE_I8` output steps of `sin x`
//! (quantised), 6 when an output differs from the host's, 4 when one is too far from `sin x`.
//!
//! No floating point at all: the image links no soft-float routine and no `core::fmt`
//! (`check.sh` checks both with `arm-none-eabi-nm`).
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use staticnn::SMatrix;
use staticnn_firmware::{Status, exit};
use staticnn_sine::{HOST_Y_I8, SineInt8, TEST_X_I8, TEST_Y_I8, TOLERANCE_I8};

/// The int8 network, in flash. Unmangled so that tools find it by name.
#[unsafe(no_mangle)]
pub static SINE_NET_INT8: SineInt8 = staticnn_sine::TRAINED_INT8;

/// The largest distance from `sin x` in output steps, and whether every output is the
/// host's.
#[inline(always)]
fn evaluate(net: &SineInt8) -> (i32, bool) {
    let xs = black_box(&TEST_X_I8);
    let (mut worst, mut same) = (0i32, true);
    for k in 0..xs.len() {
        let y = net.forward_int8(&SMatrix::<i8, 1, 1>::new(xs[k]))[0];
        worst = worst.max((i32::from(y) - i32::from(TEST_Y_I8[k])).abs());
        same &= y == HOST_Y_I8[k];
    }
    (worst, same)
}

#[entry]
fn main() -> ! {
    let net = black_box(&SINE_NET_INT8);
    let (worst, same) = evaluate(net);
    #[cfg(all(feature = "measure", not(feature = "count")))]
    report(worst, same);
    #[cfg(feature = "count")]
    count();
    exit(if !same {
        Status::Mismatch
    } else if worst <= TOLERANCE_I8 {
        Status::Success
    } else {
        Status::Inaccurate
    })
}

/// Prints the worst distance, the sizes, the stack's high-water mark and the instructions of
/// one inference. Never inlined, so that `main`'s frame stays that of the minimal build.
#[cfg(all(feature = "measure", not(feature = "count")))]
#[inline(never)]
fn report(worst: i32, same: bool) {
    use staticnn_firmware::measure::{Line, stack_peak, stack_region};

    let peak = stack_peak();
    Line::new()
        .str("infer_int8: worst |net(x) - sin x| ")
        .dec(worst as u32)
        .str(" output steps (tolerance ")
        .dec(TOLERANCE_I8 as u32)
        .str("); outputs bit-identical to the host's: ")
        .str(if same { "yes" } else { "no" })
        .print();
    Line::new()
        .str("infer_int8: weights ")
        .dec(size_of::<SineInt8>() as u32)
        .str(" B in flash, peak stack ")
        .dec(peak as u32)
        .str(" B of ")
        .dec(stack_region() as u32)
        .print();
}

/// Counts the instructions of one sample through the network and prints them. Never
/// inlined. Only in the counting build (`--features count`), whose frames differ from the
/// minimal build's; the stack is measured in the measurement build.
#[cfg(feature = "count")]
#[inline(never)]
fn count() {
    use staticnn_firmware::measure::{instructions, report_instructions};

    let x = SMatrix::<i8, 1, 1>::new(black_box(TEST_X_I8[0]));
    let (_, n) = instructions(|| black_box(&SINE_NET_INT8).forward_int8(&x));
    report_instructions("infer_int8", n);
}
