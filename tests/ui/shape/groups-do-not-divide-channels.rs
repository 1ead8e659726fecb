use staticnn::prelude::*;

network! {
    struct Net {
        input: [6, 8, 8],
        depthwise: Conv2d(16, kernel = 3, groups = 4),
    }
}

fn main() {}
