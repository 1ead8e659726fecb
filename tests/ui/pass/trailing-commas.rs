//! Trailing commas are optional everywhere.
use staticnn::prelude::*;

network! {
    struct WithCommas {
        input: 4,
        Linear(8,),
        LeakyReLU(slope = 0.1,),
        Linear(8 -> 2, init = normal(0.0, 0.1,), bias = zeros,),
        loss: Mse,
    }
}

network! {
    struct WithoutCommas {
        input: 4,
        Linear(2, init = xavier_uniform)
    }
}

fn main() {
    assert_eq!(WithCommas::<f32>::PARAMS, 4 * 8 + 8 + 8 * 2 + 2);
    assert_eq!(WithoutCommas::<f32>::PARAMS, 4 * 2 + 2);
}
