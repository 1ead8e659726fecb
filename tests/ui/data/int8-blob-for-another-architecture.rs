use staticnn::prelude::*;

network! { pub struct Net { input: 2, Linear(4), Tanh, Linear(1) } }

// The int8 blob of a 2-3-1 network, not of this 2-4-1 one.
static NET: NetInt8 =
    staticnn::int8_network_from_blob!(NetInt8, include_bytes!("../../fixtures/net-2-3-1.i8.snnb"));

fn main() {
    let _ = &NET;
}
