//! What the firmware images (`src/bin/`) share: ending the program with an exit status
//! through semihosting, the panic and fault handlers, the interrupt vector table, the training
//! program, and (feature `measure`) the stack's high-water mark and a report.
//!
//! The firmware reports nothing but its exit status unless built with `--features measure`,
//! so the images measured in `FOOTPRINT.md` hold no formatting code at all.
#![no_std]

use core::panic::PanicInfo;

use staticnn_sine::{Failure, Sine, SineParams, Start, TRAIN_RAM_BYTES, Tape};

/// RAM promised to the network, gradients and tape of training: half of the micro:bit's
/// 16 KiB. Checked when the firmware is compiled.
pub const TRAIN_RAM_BUDGET: usize = 8 * 1024;
const _: () = assert!(
    TRAIN_RAM_BYTES <= TRAIN_RAM_BUDGET,
    "training would not fit its RAM budget"
);

/// Exit statuses of the firmware, as QEMU returns them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// Everything checked out.
    Success = 0,
    /// Training met a non-finite loss or gradient.
    NonFinite = 2,
    /// Training did not reach the loss threshold within its epoch limit.
    NoConvergence = 3,
    /// Inference missed `sin x` by more than the tolerance at a test point.
    Inaccurate = 4,
    /// A blob was refused, or loaded other weights than were written (`blob`).
    BadBlob = 5,
    /// A prediction differed from the host's for the same image (`digits`).
    Mismatch = 6,
    /// The firmware panicked.
    Panic = 101,
    /// A hard fault (on ARMv7-M, also any fault escalated to it).
    Fault = 102,
}

/// Semihosting `SYS_EXIT_EXTENDED`: like `SYS_EXIT` but with an exit code; QEMU ends with that
/// code when the reason is `ADP_Stopped_ApplicationExit`.
const SYS_EXIT_EXTENDED: usize = 0x20;
/// `ADP_Stopped_ApplicationExit`.
const APPLICATION_EXIT: usize = 0x20026;

/// Ends the program: QEMU (run with `-semihosting`) exits with `status`.
///
/// Without a debugger attached to catch the semihosting call, the `bkpt` instruction halts the
/// core (a hard fault), which is as final.
pub fn exit(status: Status) -> ! {
    let block = [APPLICATION_EXIT, status as usize];
    // SAFETY: `SYS_EXIT_EXTENDED` reads the two-word block the argument points to.
    unsafe { cortex_m_semihosting::syscall(SYS_EXIT_EXTENDED, &block) };
    // Only reached when the host lets the program continue: stop for good (a permanent
    // undefined instruction faults; in the fault handler, the core locks up).
    cortex_m::asm::udf()
}

/// The training firmware: initialises the network as `start` says, trains it until the epoch
/// loss is below `LOSS_THRESHOLD` and exits with status 0 when it got there, 2 on a
/// non-finite loss, 3 when it ran out of epochs.
#[inline(always)]
pub fn train_and_exit(
    start: Start,
    net: &mut Sine<f32>,
    grads: &mut SineParams<f32>,
    tape: &mut Tape,
) -> ! {
    let result = staticnn_sine::train_from(start, net, grads, tape);
    #[cfg(feature = "measure")]
    measure::report_training(start, result, net);
    exit(match result {
        Ok(_) => Status::Success,
        Err(Failure::NonFinite) => Status::NonFinite,
        Err(Failure::NoConvergence) => Status::NoConvergence,
    })
}

/// A panic exits with [`Status::Panic`]. The message is never looked at, so no formatting
/// code is linked in.
#[panic_handler]
fn panic(_: &PanicInfo<'_>) -> ! {
    exit(Status::Panic)
}

/// A fault exits with [`Status::Fault`] instead of spinning until QEMU's timeout.
#[cortex_m_rt::exception]
unsafe fn HardFault(_: &cortex_m_rt::ExceptionFrame) -> ! {
    exit(Status::Fault)
}

unsafe extern "C" {
    /// cortex-m-rt's handler for every exception and interrupt nobody handles.
    fn DefaultHandler();
}

/// External interrupts of the QEMU machines: both the micro:bit (nRF51822) and the MPS2
/// AN386 have 32. The firmware enables none; cortex-m-rt's generic table (without its
/// `device` feature) would have 240 entries on ARMv7-M, 832 bytes more flash.
pub const INTERRUPTS: usize = 32;

/// The device part of the vector table, after the 16 system exception entries that
/// cortex-m-rt writes.
#[unsafe(link_section = ".vector_table.interrupts")]
#[unsafe(no_mangle)]
pub static __INTERRUPTS: [unsafe extern "C" fn(); INTERRUPTS] = [DefaultHandler; INTERRUPTS];

/// The measurement build (`--features measure`): the stack's high-water mark and a report
/// through semihosting, written without `core::fmt`, so that the measured firmware differs
/// from the minimal one only in its reset code (which paints the stack) and in a report made
/// after the work is done.
#[cfg(feature = "measure")]
pub mod measure {
    use staticnn_sine::{Failure, Sine, Start};

    /// cortex-m-rt's `STACK_PAINT_VALUE`: its `paint-stack` feature fills the stack region
    /// with it at reset.
    pub const PAINT: u32 = cortex_m_rt::STACK_PAINT_VALUE;

    unsafe extern "C" {
        /// Lowest address of the stack region: the end of the statics.
        static _stack_end: u32;
        /// Initial stack pointer: the top of RAM.
        static _stack_start: u32;
    }

    /// The deepest the stack has been since reset, in bytes: from the top of RAM down to the
    /// lowest word that no longer holds [`PAINT`].
    pub fn stack_peak() -> usize {
        let top = (&raw const _stack_start).addr();
        let mut p = &raw const _stack_end;
        // SAFETY: every word from `_stack_end` up to `_stack_start` is RAM set aside for the
        // stack; the words below the stack pointer are only read.
        while p.addr() < top && unsafe { p.read_volatile() } == PAINT {
            p = p.wrapping_add(1);
        }
        top - p.addr()
    }

    /// Bytes of RAM between the statics and the top of RAM: the room the stack has.
    pub fn stack_region() -> usize {
        (&raw const _stack_start).addr() - (&raw const _stack_end).addr()
    }

    /// The processor clock of the QEMU machine, in hertz (`build.rs`).
    pub const CPU_HZ: u64 = parse(env!("STATICNN_CPU_HZ"));

    const fn parse(s: &str) -> u64 {
        let b = s.as_bytes();
        let (mut v, mut i) = (0u64, 0);
        while i < b.len() {
            v = v * 10 + (b[i] - b'0') as u64;
            i += 1;
        }
        v
    }

    /// Runs `f` between two reads of SysTick, clocked by the processor clock, and returns
    /// its result and the instructions it took: under QEMU with `-icount shift=0` (one
    /// instruction per nanosecond of virtual time, deterministic) that is
    /// `ticks · 10⁹ / CPU_HZ`, to within one tick (62.5 instructions on the micro:bit's
    /// 16 MHz, 40 on the MPS2's 25 MHz). `u32::MAX` when the 24-bit counter wrapped.
    /// Without `-icount` the figure follows the host's speed and means nothing.
    #[inline(never)]
    pub fn instructions<R>(f: impl FnOnce() -> R) -> (R, u32) {
        use cortex_m::peripheral::SYST;
        use cortex_m::peripheral::syst::SystClkSource;
        // SAFETY: nothing else in the firmware uses SysTick.
        let mut syst = unsafe { cortex_m::Peripherals::steal() }.SYST;
        syst.disable_counter();
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(0x00FF_FFFF);
        syst.clear_current();
        syst.enable_counter();
        // Cleared, the counter reads 0 until its first tick loads the reload value.
        while SYST::get_current() == 0 {}
        let start = SYST::get_current();
        // Reading COUNTFLAG clears it.
        let _ = syst.has_wrapped();
        let r = core::hint::black_box(f());
        let end = SYST::get_current();
        let wrapped = syst.has_wrapped();
        syst.disable_counter();
        let ticks = u64::from(start.wrapping_sub(end) & 0x00FF_FFFF);
        let n = if wrapped {
            u32::MAX
        } else {
            (ticks * 1_000_000_000 / CPU_HZ) as u32
        };
        (r, n)
    }

    /// Prints `name: instructions per inference N` (see [`instructions`]).
    pub fn report_instructions(name: &str, n: u32) {
        Line::new()
            .str(name)
            .str(": instructions per inference ")
            .dec(n)
            .str(" (SysTick at ")
            .dec((CPU_HZ / 1000) as u32)
            .str(" kHz, QEMU -icount shift=0)")
            .print();
    }

    /// One line of text, built in a fixed buffer and printed with semihosting `SYS_WRITE0`.
    /// What does not fit is dropped.
    pub struct Line {
        buf: [u8; 200],
        len: usize,
    }

    impl Line {
        /// An empty line.
        pub fn new() -> Self {
            Line {
                buf: [0; 200],
                len: 0,
            }
        }

        fn byte(&mut self, b: u8) {
            // The last byte is kept for the terminating NUL.
            if self.len + 1 < self.buf.len() {
                self.buf[self.len] = b;
                self.len += 1;
            }
        }

        /// Appends text.
        pub fn str(&mut self, s: &str) -> &mut Self {
            for &b in s.as_bytes() {
                self.byte(b);
            }
            self
        }

        /// Appends an unsigned integer in decimal.
        pub fn dec(&mut self, mut v: u32) -> &mut Self {
            let mut digits = [0u8; 10];
            let mut n = 0;
            loop {
                digits[n] = b'0' + (v % 10) as u8;
                n += 1;
                v /= 10;
                if v == 0 {
                    break;
                }
            }
            for &d in digits[..n].iter().rev() {
                self.byte(d);
            }
            self
        }

        /// Appends a word in hexadecimal, `0x` and eight digits (the bits of an `f32`).
        pub fn hex(&mut self, v: u32) -> &mut Self {
            self.str("0x");
            for shift in (0..8).rev() {
                self.byte(b"0123456789abcdef"[((v >> (4 * shift)) & 0xf) as usize]);
            }
            self
        }

        /// Appends a non-negative value below 4000 with six decimals (`?` otherwise).
        pub fn fixed6(&mut self, v: f32) -> &mut Self {
            if !(0.0..4000.0).contains(&v) {
                return self.str("?");
            }
            let micros = (v * 1e6 + 0.5) as u32;
            self.dec(micros / 1_000_000).str(".");
            let frac = micros % 1_000_000;
            let mut scale = 100_000;
            while scale > 1 && frac < scale {
                self.str("0");
                scale /= 10;
            }
            self.dec(frac)
        }

        /// Prints the line and a newline on the host's standard output.
        pub fn print(&mut self) {
            self.str("\n");
            self.buf[self.len] = 0;
            // SAFETY: `SYS_WRITE0` reads the NUL-terminated string the argument points to.
            unsafe {
                cortex_m_semihosting::syscall1(
                    cortex_m_semihosting::nr::WRITE0,
                    self.buf.as_ptr() as usize,
                )
            };
        }
    }

    impl Default for Line {
        fn default() -> Self {
            Self::new()
        }
    }

    /// Prints the loss and epochs (with the loss's bits, and whether loss and weights equal
    /// the host's bit for bit), the `const` sizes and the stack's high-water mark. Never
    /// inlined, so that the frames live during training stay those of the minimal build.
    #[inline(never)]
    pub fn report_training(
        start: Start,
        result: Result<staticnn_sine::Trained, Failure>,
        net: &Sine<f32>,
    ) {
        use staticnn::block::as_slice;
        use staticnn_sine::{
            BATCH, DATA_BYTES, HOST, HOST_NATIVE, LOSS_THRESHOLD, TRAIN_RAM_BYTES,
        };

        let peak = stack_peak();
        let host = match start {
            Start::Rounded => HOST,
            Start::Native => HOST_NATIVE,
        };
        match result {
            Ok(t) => Line::new()
                .str("train: loss ")
                .fixed6(t.loss)
                .str(" < ")
                .fixed6(LOSS_THRESHOLD)
                .str(" after ")
                .dec(t.epochs)
                .str(" epochs (bits ")
                .hex(t.loss.to_bits())
                .str("; host ")
                .hex(host.loss.to_bits())
                .str(" after ")
                .dec(host.epochs)
                .str(")")
                .print(),
            Err(Failure::NonFinite) => Line::new().str("train: non-finite loss").print(),
            Err(Failure::NoConvergence) => Line::new().str("train: no convergence").print(),
        }
        let same_weights = match start {
            Start::Rounded => Some(
                as_slice::<f32, _>(&net.params)
                    .iter()
                    .zip(as_slice::<f32, _>(&staticnn_sine::TRAINED.params))
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
            ),
            Start::Native => None,
        };
        let same = result
            .is_ok_and(|t| t.epochs == host.epochs && t.loss.to_bits() == host.loss.to_bits())
            && same_weights != Some(false);
        Line::new()
            .str(match same_weights {
                Some(_) => "train: loss, epochs and weights bit-identical to the host's: ",
                None => "train: loss and epochs bit-identical to the host's: ",
            })
            .str(if same { "yes" } else { "no" })
            .print();
        Line::new()
            .str("train: params ")
            .dec(Sine::<f32>::PARAM_BYTES as u32)
            .str(" B + grads ")
            .dec(Sine::<f32>::PARAM_BYTES as u32)
            .str(" B + tape ")
            .dec(Sine::<f32>::tape_bytes::<BATCH>() as u32)
            .str(" B (B = ")
            .dec(BATCH as u32)
            .str(") = ")
            .dec(TRAIN_RAM_BYTES as u32)
            .str(" B (const) in .bss; data ")
            .dec(DATA_BYTES as u32)
            .str(" B in flash; peak stack ")
            .dec(peak as u32)
            .str(" B of ")
            .dec(stack_region() as u32)
            .print();
    }
}
