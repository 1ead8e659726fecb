use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(8),
        BatchNorm(momentum = 1.5),
        Linear(3),
    }
}

fn main() {}
