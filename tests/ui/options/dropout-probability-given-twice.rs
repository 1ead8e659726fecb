use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(8),
        Dropout(0.5, p = 0.2),
        Linear(3),
    }
}

fn main() {}
