//! Inference with weights in flash: evaluates the sine network trained on the host at the
//! test points and exits with status 0 when every prediction is within the tolerance of
//! `sin x`, 4 otherwise.
//!
//! The network is a `static` initialised from the generated `const` [`staticnn_sine::TRAINED`],
//! so its weights are in `.rodata` (flash) and take no RAM; `check.sh` checks the symbol
//! `SINE_NET` with `arm-none-eabi-objdump`. Inference itself needs only the stack: one scratch
//! column of `Sine::SCRATCH` rows (the widest input-plus-output pair of a layer) and the
//! layers' temporaries.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use staticnn_firmware::{Status, exit};
use staticnn_sine::{Sine, TOLERANCE};

/// The trained network, in flash. Unmangled so that tools find it by name.
#[unsafe(no_mangle)]
pub static SINE_NET: Sine<f32> = staticnn_sine::TRAINED;

/// Bytes of stack scratch that one eval-mode sample needs, known before the build.
const SCRATCH: usize = Sine::<f32>::scratch_bytes::<1>();
const _: () = assert!(
    SCRATCH <= 128,
    "inference scratch must stay within 128 bytes"
);
const _: () = assert!(Sine::<f32>::STATE_BYTES == 0, "no state to keep in RAM");

#[entry]
fn main() -> ! {
    // Hidden from the optimiser: the weights are read from flash at run time, as they would be
    // after flashing new ones, instead of being folded into the code.
    let net = black_box(&SINE_NET);
    let worst = staticnn_sine::worst_error(net);
    #[cfg(all(feature = "measure", not(feature = "count")))]
    report(worst);
    #[cfg(feature = "count")]
    count();
    exit(if worst < TOLERANCE {
        Status::Success
    } else {
        Status::Inaccurate
    })
}

/// Prints the worst error (and its bits, to compare with the host's), the sizes and the
/// stack's high-water mark. Never inlined, so that `main`'s frame stays that of the minimal
/// build.
#[cfg(all(feature = "measure", not(feature = "count")))]
#[inline(never)]
fn report(worst: f32) {
    use staticnn_firmware::measure::{Line, stack_peak, stack_region};
    use staticnn_sine::HOST_WORST_ERROR;

    let peak = stack_peak();
    Line::new()
        .str("infer: worst |net(x) - sin x| ")
        .fixed6(worst)
        .str(" (bits ")
        .hex(worst.to_bits())
        .str(", host ")
        .hex(HOST_WORST_ERROR.to_bits())
        .str(", tolerance ")
        .fixed6(TOLERANCE)
        .str(")")
        .print();
    Line::new()
        .str("infer: weights ")
        .dec(size_of::<Sine<f32>>() as u32)
        .str(" B in flash, scratch ")
        .dec(SCRATCH as u32)
        .str(" B (const), peak stack ")
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

    let x = staticnn::SVector::<f32, 1>::new(black_box(staticnn_sine::TEST_X[0]));
    let (_, n) = instructions(|| black_box(&SINE_NET).predict(&x));
    report_instructions("infer", n);
}
