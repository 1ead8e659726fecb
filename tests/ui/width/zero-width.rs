use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(0),
        ReLU,
        Linear(3),
    }
}

fn main() {}
