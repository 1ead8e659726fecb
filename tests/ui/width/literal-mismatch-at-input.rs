use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(5 -> 8),
        ReLU,
        Linear(3),
    }
}

fn main() {}
