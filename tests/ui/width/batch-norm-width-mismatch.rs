use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(8),
        BatchNorm(16),
        Linear(3),
    }
}

fn main() {}
