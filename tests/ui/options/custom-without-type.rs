use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Custom(),
        Linear(3),
    }
}

fn main() {}
