use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(8u32),
        ReLU,
        Linear(3),
    }
}

fn main() {}
