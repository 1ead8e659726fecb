//! A counting global allocator for the tests that prove code touches no heap
//! (`tests/no_alloc.rs`, `tests/data.rs`): it records every heap operation (allocation,
//! zeroed allocation, reallocation and deallocation) made by the current thread while a
//! measurement is armed, so the test harness's own threads cannot disturb the count.
//! Include it with `#[path = "common/counting_alloc.rs"] mod counting_alloc;`: it installs
//! itself as the test binary's global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

thread_local! {
    /// Heap operations this thread made while armed. Per thread, so that tests running in
    /// parallel (one of which allocates on purpose to check the counter) never mix counts.
    static HEAP_OPS: Cell<usize> = const { Cell::new(0) };
    /// Whether this thread's heap operations are being counted. `const`-initialised and
    /// without a destructor, so reading it never allocates and always succeeds.
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

fn record() {
    if ARMED.try_with(Cell::get).unwrap_or(false) {
        let _ = HEAP_OPS.try_with(|c| c.set(c.get() + 1));
    }
}

/// The system allocator, counting.
struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record();
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record();
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record();
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        record();
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result with the number of heap operations this thread made.
///
/// The kernels' path is chosen first, outside the measurement: under `std` it is read once
/// per process from `STATICNN_KERNELS`, and when that variable is set the read copies its
/// value to the heap (documented at `kernels::path`). That one-off read is not part of the
/// work measured, and without this the first measurement of a run with the variable set
/// would count it.
pub fn heap_ops<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let _ = staticnn::__private::kernels::path();
    ARMED.with(|a| a.set(true));
    let before = HEAP_OPS.with(Cell::get);
    let r = black_box(f());
    let after = HEAP_OPS.with(Cell::get);
    ARMED.with(|a| a.set(false));
    (r, after - before)
}
