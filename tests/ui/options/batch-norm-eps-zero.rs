use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(8),
        BatchNorm(eps = 0.0),
        Linear(3),
    }
}

fn main() {}
