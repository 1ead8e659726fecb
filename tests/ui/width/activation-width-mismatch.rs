use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(8),
        ReLU(6),
        Linear(3),
    }
}

fn main() {}
