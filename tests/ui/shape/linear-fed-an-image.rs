use staticnn::prelude::*;

network! {
    struct Net {
        input: [1, 8, 8],
        Conv2d(8, kernel = 3),
        ReLU,
        Linear(10),
    }
}

fn main() {}
