//! Weights as a blob: writes the sine network trained on the host (in flash) as a staticnn
//! blob into a RAM buffer, as a firmware update received over a link would arrive, loads
//! that blob into a network in RAM with `staticnn::io::from_bytes` (every check: magic,
//! version, checksums, reserved byte, scalar width, architecture, length) and evaluates it.
//! Exits with status 0 when the loaded weights are bit for bit the flashed ones and every
//! prediction is within the tolerance of `sin x`, 5 when the blob is refused or differs, 4
//! when inference is inaccurate.
//!
//! The blob is of an `f32` network read into an `f32` network, so it links no `f64` code
//! (no `__aeabi_d2f` or `__aeabi_f2d`): `check.sh` checks the image for it.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use staticnn::block::as_slice;
use staticnn::io::{from_bytes, to_bytes};
use staticnn_firmware::{Status, exit};
use staticnn_sine::{Sine, TOLERANCE};

/// The trained network, in flash; the source of the blob.
#[unsafe(no_mangle)]
pub static SINE_FLASH: Sine<f32> = staticnn_sine::TRAINED;

/// Bytes of the sine network's blob: the 40-byte header and the 321 parameters.
const BLOB_BYTES: usize = Sine::<f32>::BLOB_BYTES;
const _: () = assert!(BLOB_BYTES == 40 + 4 * 321);

#[entry]
fn main() -> ! {
    // cortex-m-rt turns these into `&'static mut` references, handed out once.
    static mut BLOB: [u8; BLOB_BYTES] = [0; BLOB_BYTES];
    static mut NET: Sine<f32> = Sine::zeroed();

    let source = black_box(&SINE_FLASH);
    if to_bytes(source, BLOB).is_err() {
        exit(Status::BadBlob);
    }
    // Hidden from the optimiser: the blob is read as bytes that arrived at run time.
    if from_bytes(NET, black_box(&BLOB[..])).is_err() {
        exit(Status::BadBlob);
    }
    let same = as_slice::<f32, _>(&NET.params)
        .iter()
        .zip(as_slice::<f32, _>(&source.params))
        .all(|(a, b)| a.to_bits() == b.to_bits());
    let worst = staticnn_sine::worst_error(NET);
    #[cfg(feature = "measure")]
    report(same, worst);
    exit(if !same {
        Status::BadBlob
    } else if worst < TOLERANCE {
        Status::Success
    } else {
        Status::Inaccurate
    })
}

/// Prints whether the loaded weights are the flashed ones, the worst error, the sizes and the
/// stack's high-water mark. Never inlined, so that `main`'s frame stays that of the minimal
/// build.
#[cfg(feature = "measure")]
#[inline(never)]
fn report(same: bool, worst: f32) {
    use staticnn_firmware::measure::{Line, stack_peak, stack_region};

    let peak = stack_peak();
    Line::new()
        .str("blob: loaded weights bit-identical to the flashed ones: ")
        .str(if same { "yes" } else { "no" })
        .str("; worst |net(x) - sin x| ")
        .fixed6(worst)
        .str(" (tolerance ")
        .fixed6(TOLERANCE)
        .str(")")
        .print();
    Line::new()
        .str("blob: blob ")
        .dec(BLOB_BYTES as u32)
        .str(" B + network ")
        .dec(size_of::<Sine<f32>>() as u32)
        .str(" B in .bss; peak stack ")
        .dec(peak as u32)
        .str(" B of ")
        .dec(stack_region() as u32)
        .print();
}
