use staticnn::prelude::*;

network! {
    struct Net {
        input: [1, 3, 8, 8],
        Conv2d(8, kernel = 3),
    }
}

fn main() {}
