use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(8),
        Dropout(-0.1),
        Linear(3),
    }
}

fn main() {}
