//! Training on the device with the library's default initialisation (`Network::init`, which
//! draws in `f64` and rounds, so that the weights are bit for bit those of the host): the
//! cost of that default in flash (FOOTPRINT.md). Otherwise as `train`: trains the sine
//! network with SGD until the epoch loss is below `LOSS_THRESHOLD`; exits with status 0 when
//! it got there, 2 on a non-finite loss, 3 when it ran out of epochs.
//!
//! The network, its gradients and the tape are statics (`.bss`), so the linker accounts for
//! every byte training needs besides the stack, and their total is a `const` checked when the
//! firmware is compiled (`staticnn_firmware::TRAIN_RAM_BUDGET`). The data set is in flash.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use staticnn_sine::{Sine, SineParams, Start, Tape};

#[entry]
fn main() -> ! {
    // cortex-m-rt turns these into `&'static mut` references, handed out once. The generated
    // `const fn zeroed` makes them without `unsafe`.
    static mut NET: Sine<f32> = Sine::zeroed();
    static mut GRADS: SineParams<f32> = SineParams::zeroed();
    static mut TAPE: Tape = Tape::zeroed();

    staticnn_firmware::train_and_exit(Start::Rounded, NET, GRADS, TAPE)
}
