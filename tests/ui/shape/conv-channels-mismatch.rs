use staticnn::prelude::*;

network! {
    struct Net {
        input: [1, 28, 28],
        conv: Conv2d(3 -> 6, kernel = 5),
        ReLU,
    }
}

fn main() {}
