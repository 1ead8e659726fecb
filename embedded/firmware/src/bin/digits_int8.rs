//! Int8 convolutional inference with weights in flash: the digits CNN quantised on the host
//! (`staticnn_digits::TRAINED_INT8`, read at compile time from its blob, calibrated on 200
//! training images) classifies the shipped test digits in integers. Each raw pixel becomes
//! the network's int8 input through a per-pixel table (`INPUT_I8`: the standardisation and
//! the input's quantisation, computed on the host). Exits with status 0 when every output is
//! the host int8 twin's bit for bit (so every class is the host's), 6 otherwise.
//!
//! No floating point at all: the image links no soft-float routine and no `core::fmt`
//! (`check.sh` checks both with `arm-none-eabi-nm`).
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use staticnn_digits::{DeployedInt8, HOST_CLASSES_I8, HOST_OUTPUTS_I8, PIXELS, TESTS};
use staticnn_firmware::{Status, exit};

/// The int8 network, in flash. Unmangled so that tools find it by name.
#[unsafe(no_mangle)]
pub static DIGITS_NET_INT8: DeployedInt8 = staticnn_digits::TRAINED_INT8;

#[entry]
fn main() -> ! {
    let net = black_box(&DIGITS_NET_INT8);
    let pixels = black_box(&PIXELS);
    let mut same = 0u32;
    #[cfg(all(feature = "measure", not(feature = "count")))]
    let mut correct = 0u32;
    for (i, image) in pixels.iter().enumerate() {
        let y = staticnn_digits::forward_int8(net, image);
        let mut class = 0;
        for k in 1..y.len() {
            if y[k] > y[class] {
                class = k;
            }
        }
        let bits = y.iter().zip(&HOST_OUTPUTS_I8[i]).all(|(a, b)| a == b);
        same += u32::from(bits && class == usize::from(HOST_CLASSES_I8[i]));
        #[cfg(all(feature = "measure", not(feature = "count")))]
        {
            correct += u32::from(class == usize::from(staticnn_digits::LABELS[i]));
        }
    }
    #[cfg(all(feature = "measure", not(feature = "count")))]
    report(same, correct);
    #[cfg(feature = "count")]
    count();
    exit(if same == TESTS as u32 {
        Status::Success
    } else {
        Status::Mismatch
    })
}

/// Prints how many outputs equal the host's and how many classes the labels, the sizes, the
/// stack's high-water mark and the instructions of one inference. Never inlined, so that
/// `main`'s frame stays that of the minimal build.
#[cfg(all(feature = "measure", not(feature = "count")))]
#[inline(never)]
fn report(same: u32, correct: u32) {
    use staticnn_firmware::measure::{Line, stack_peak, stack_region};

    let peak = stack_peak();
    Line::new()
        .str("digits_int8: ")
        .dec(same)
        .str(" of ")
        .dec(TESTS as u32)
        .str(" outputs bit-identical to the host int8 twin's, ")
        .dec(correct)
        .str(" of ")
        .dec(TESTS as u32)
        .str(" labels correct")
        .print();
    Line::new()
        .str("digits_int8: weights ")
        .dec(size_of::<DeployedInt8>() as u32)
        .str(" B in flash, input table ")
        .dec(size_of_val(&staticnn_digits::INPUT_I8) as u32)
        .str(" B; peak stack ")
        .dec(peak as u32)
        .str(" B of ")
        .dec(stack_region() as u32)
        .print();
}

/// Counts the instructions of one image (the table lookup, the network and the arg max, as
/// `main` runs them) and prints them. Only in the counting build (`--features count`),
/// whose frames differ from the minimal build's; the stack is measured in the measurement
/// build.
#[cfg(feature = "count")]
#[inline(never)]
fn count() {
    use staticnn_firmware::measure::{instructions, report_instructions};

    let (_, n) = instructions(|| {
        staticnn_digits::classify_int8(black_box(&DIGITS_NET_INT8), black_box(&PIXELS[0]))
    });
    report_instructions("digits_int8", n);
}
