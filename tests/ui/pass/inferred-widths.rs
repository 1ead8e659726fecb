//! Only output widths: every input width is inferred from the layer before.
use staticnn::prelude::*;

network! {
    struct Net {
        input: 5,
        Linear(16),
        Sigmoid,
        Maxout(8, k = 3),
        Tanh,
        Linear(2),
    }
}

fn main() {
    let layers = <Net as Network<f32, 5, 2>>::LAYERS;
    let widths: Vec<_> = layers.iter().map(|l| (l.inputs, l.outputs)).collect();
    assert_eq!(widths, [(5, 16), (16, 16), (16, 8), (8, 8), (8, 2)]);
    assert_eq!(
        Net::<f32>::PARAMS,
        5 * 16 + 16 + 3 * (16 * 8 + 8) + 8 * 2 + 2
    );
}
