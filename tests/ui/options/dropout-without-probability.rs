use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(8),
        Dropout,
        Linear(3),
    }
}

fn main() {}
