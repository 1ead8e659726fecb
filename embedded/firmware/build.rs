//! Writes the memory map of the QEMU machine the target runs on (`memory.x`, read by
//! cortex-m-rt's `link.x`) and an empty `device.x` (no named interrupts), and links the
//! firmware with `link.x`. Doing it here rather than in `.cargo/config.toml` makes the build
//! independent of the directory cargo is started from.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let target = env::var("TARGET").unwrap_or_default();
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));

    // The processor clock of the machine, which clocks SysTick (`CLKSOURCE` = 1): the
    // measurement build turns ticks into instructions with it (QEMU with `-icount shift=0`
    // runs one instruction per nanosecond of virtual time).
    let hz = if target.starts_with("thumbv6m-") {
        16_000_000 // nRF51822 HFCLK
    } else {
        // MPS2 SYSCLK (and any host build, which never runs the firmware)
        25_000_000
    };
    println!("cargo:rustc-env=STATICNN_CPU_HZ={hz}");

    let memory = if target.starts_with("thumbv6m-") {
        // BBC micro:bit (QEMU `-machine microbit`): nRF51822, Cortex-M0, 256 KiB flash at 0,
        // 16 KiB SRAM at 0x2000_0000.
        "MEMORY\n{\n  FLASH : ORIGIN = 0x00000000, LENGTH = 256K\n  RAM : ORIGIN = 0x20000000, LENGTH = 16K\n}\n"
    } else if target.starts_with("thumbv7em-") {
        // MPS2 with the AN386 image (QEMU `-machine mps2-an386`): Cortex-M4 with FPU. Code runs
        // from the 4 MiB SSRAM1 at 0, data lives in the 4 MiB SSRAM2/3 at 0x2000_0000; only the
        // size of a typical Cortex-M4F part is claimed, so the linker rejects firmware that
        // would not fit one.
        "MEMORY\n{\n  FLASH : ORIGIN = 0x00000000, LENGTH = 256K\n  RAM : ORIGIN = 0x20000000, LENGTH = 64K\n}\n"
    } else {
        // Not a firmware build (e.g. `cargo check` on the host): nothing to link.
        println!("cargo:rerun-if-changed=build.rs");
        return;
    };
    fs::write(out.join("memory.x"), memory).expect("write memory.x");
    fs::write(out.join("device.x"), "/* no named interrupts */\n").expect("write device.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rerun-if-changed=build.rs");
}
