use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(8),
        ReLU,
        Linear,
    }
}

fn main() {}
