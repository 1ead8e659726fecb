use staticnn::prelude::*;

network! { pub struct Net { input: 2, Linear(3), Tanh, Linear(1) } }

// The float blob of this network, not its int8 twin's.
static NET: NetInt8 =
    staticnn::int8_network_from_blob!(NetInt8, include_bytes!("../../fixtures/net-2-3-1.snnb"));

fn main() {
    let _ = &NET;
}
