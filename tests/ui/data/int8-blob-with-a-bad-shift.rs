use staticnn::prelude::*;

network! { pub struct Net { input: 2, Linear(3), Tanh, Linear(1) } }

// The right network's blob with a shift of 40 and both checksums recomputed: only the value
// checks can refuse it.
static NET: NetInt8 =
    staticnn::int8_network_from_blob!(NetInt8, include_bytes!("../../fixtures/net-2-3-1.i8-bad-shift.snnb"));

fn main() {
    let _ = &NET;
}
