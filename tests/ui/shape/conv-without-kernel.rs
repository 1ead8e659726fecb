use staticnn::prelude::*;

network! {
    struct Net {
        input: [1, 8, 8],
        Conv2d(8),
    }
}

fn main() {}
