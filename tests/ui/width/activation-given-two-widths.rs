use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(8),
        ReLU(8 -> 8),
        Linear(3),
    }
}

fn main() {}
