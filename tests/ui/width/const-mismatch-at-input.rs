use staticnn::prelude::*;

const FEATURES: usize = 5;

network! {
    struct Net {
        input: FEATURES,
        Linear(4 -> 8),
        ReLU,
        Linear(3),
    }
}

fn main() {}
