use staticnn::prelude::*;

network! { pub struct Net { input: 2, Linear(4), Tanh, Linear(1) } }

// The blob of a 2-3-1 network, not of this 2-4-1 one.
static NET: Net<f32> =
    staticnn::network_from_blob!(Net<f32>, include_bytes!("../../fixtures/net-2-3-1.snnb"));

fn main() {
    let _ = &NET;
}
