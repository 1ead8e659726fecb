use staticnn::prelude::*;

network! {
    struct Net {
        input: [2, 8, 8],
        MaxPool2d(kernel = 2, padding = 2),
    }
}

fn main() {}
