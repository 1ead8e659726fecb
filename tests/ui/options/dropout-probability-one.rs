use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(8),
        Dropout(1.0),
        Linear(3),
    }
}

fn main() {}
