use staticnn::prelude::*;

network! {
    struct Net {
        Linear(4 -> 8),
        input: 4,
        Linear(3),
    }
}

fn main() {}
