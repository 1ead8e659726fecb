use staticnn::prelude::*;

network! {
    struct Net {
        Linear(4 -> 8),
        ReLU,
        Linear(3),
    }
}

fn main() {}
