use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Dense(8),
        Relu,
        Linear(0),
        Linear(3),
    }
}

fn main() {}
