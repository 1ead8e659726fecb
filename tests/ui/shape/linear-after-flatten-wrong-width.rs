use staticnn::prelude::*;

network! {
    struct Net {
        input: [1, 6, 6],
        Conv2d(8, kernel = 3),
        ReLU,
        Flatten,
        head: Linear(100 -> 10),
    }
}

fn main() {}
