use staticnn::prelude::*;

network! {
    struct Net {
        input: [1, 4, 4],
        Conv2d(6, kernel = 3, padding = 1),
        MaxPool2d(2),
        Conv2d(8, kernel = 3),
    }
}

fn main() {}
