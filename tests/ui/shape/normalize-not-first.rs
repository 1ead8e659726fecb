use staticnn::prelude::*;

network! {
    struct Net {
        input: 8,
        Linear(4),
        Normalize,
        Linear(2),
    }
}

fn main() {}
