//! Convolutional inference with weights in flash: the digits CNN of `examples/digits_cnn.rs`
//! (its inference form, batch norms folded into the convolutions) classifies the test digits
//! shipped with it and exits with status 0 when every prediction is the class the host
//! predicted for the same image, 6 otherwise.
//!
//! The network is a `static` initialised from the generated `const`
//! [`staticnn_digits::TRAINED`], so its weights are in `.rodata` (flash); `check.sh` checks the
//! symbol `DIGITS_NET`. The images are raw pixels in flash, standardised on the device as on
//! the host. Inference needs only the stack: one scratch column of `SCRATCH` rows (the widest
//! input-plus-output pair of a step: `conv2`'s 1024 + 2048 values, its `ReLU` applied in
//! place), the image and the layers' temporaries.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use staticnn_digits::{Deployed, HOST_CLASSES, PIXELS, TESTS};
use staticnn_firmware::{Status, exit};

/// The trained network, in flash. Unmangled so that tools find it by name.
#[unsafe(no_mangle)]
pub static DIGITS_NET: Deployed = staticnn_digits::TRAINED;

/// Bytes of stack scratch that one eval-mode sample needs, known before the build.
const SCRATCH: usize = Deployed::scratch_bytes::<1>();
const _: () = assert!(
    SCRATCH <= staticnn_digits::ACTIVATION_PAIR_BYTES,
    "inference scratch must stay within the two largest adjacent activations"
);
const _: () = assert!(Deployed::STATE_BYTES == 0, "no state to keep in RAM");

#[entry]
fn main() -> ! {
    // Hidden from the optimiser: the weights and images are read from flash at run time.
    let net = black_box(&DIGITS_NET);
    let pixels = black_box(&PIXELS);
    let mut same = 0u32;
    // The labels only matter to the report: the exit status compares with the host.
    #[cfg(all(feature = "measure", not(feature = "count")))]
    let mut correct = 0u32;
    for (i, image) in pixels.iter().enumerate() {
        let class = staticnn_digits::classify(net, image);
        same += u32::from(class == usize::from(HOST_CLASSES[i]));
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

/// Prints how many predictions equal the host's and the labels, whether the outputs are the
/// host's bit for bit, the sizes and the stack's high-water mark. Never inlined, so that
/// `main`'s frame stays that of the minimal build; the stack is read before the outputs are
/// computed again for the comparison of bits.
#[cfg(all(feature = "measure", not(feature = "count")))]
#[inline(never)]
fn report(same: u32, correct: u32) {
    use staticnn_digits::{ACTIVATION_PAIR_BYTES, HOST_LOGITS, image};
    use staticnn_firmware::measure::{Line, stack_peak, stack_region};

    let peak = stack_peak();
    let net = black_box(&DIGITS_NET);
    let bits = PIXELS.iter().zip(&HOST_LOGITS).all(|(p, host)| {
        let y = net.predict(&image(p));
        y.iter().zip(host).all(|(v, &h)| v.to_bits() == h)
    });
    Line::new()
        .str("digits: ")
        .dec(same)
        .str(" of ")
        .dec(TESTS as u32)
        .str(" predictions equal the host's, ")
        .dec(correct)
        .str(" of ")
        .dec(TESTS as u32)
        .str(" labels correct; outputs bit-identical to the host's: ")
        .str(if bits { "yes" } else { "no" })
        .print();
    Line::new()
        .str("digits: weights ")
        .dec(size_of::<Deployed>() as u32)
        .str(" B in flash, scratch ")
        .dec(SCRATCH as u32)
        .str(" B (const), activations ")
        .dec(ACTIVATION_PAIR_BYTES as u32)
        .str(" B; peak stack ")
        .dec(peak as u32)
        .str(" B of ")
        .dec(stack_region() as u32)
        .print();
}

/// Counts the instructions of one image (standardisation, the network and the arg max, as
/// `main` runs them) and prints them. Only in the counting build (`--features count`),
/// whose frames differ from the minimal build's; the stack is measured in the measurement
/// build.
#[cfg(feature = "count")]
#[inline(never)]
fn count() {
    use staticnn_firmware::measure::{instructions, report_instructions};

    let (_, n) =
        instructions(|| staticnn_digits::classify(black_box(&DIGITS_NET), black_box(&PIXELS[0])));
    report_instructions("digits", n);
}
