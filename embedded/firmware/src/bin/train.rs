//! Training on the device with the library's single-precision initialisation
//! (`Network::init_with(Native, …)`: PyTorch's `nn.Linear` default drawn in `f32`, no `f64`
//! code): initialises the sine network from a fixed seed and trains it with SGD until the
//! epoch loss is below `LOSS_THRESHOLD`; exits with status 0 when it got there, 2 on a
//! non-finite loss, 3 when it ran out of epochs.
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

    staticnn_firmware::train_and_exit(Start::Native, NET, GRADS, TAPE)
}
