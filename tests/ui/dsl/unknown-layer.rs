use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Conv2d(8),
        Linear(3),
    }
}

fn main() {}
