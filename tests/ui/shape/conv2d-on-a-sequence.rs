use staticnn::prelude::*;

network! {
    struct Net {
        input: [4, 100],
        Conv2d(8, kernel = 3),
    }
}

fn main() {}
