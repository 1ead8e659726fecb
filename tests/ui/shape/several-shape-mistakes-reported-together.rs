use staticnn::prelude::*;

// Four independent mistakes, all reported by one compile.
network! {
    struct Net {
        input: [3, 16, 16],
        stem: Conv2d(1 -> 8, kernel = 3, padding = 1),
        Conv2d(8, kernel = 3, padding = 1, groups = 3, bais = false),
        MaxPool2d(2),
        Conv2d(16, kernel = 9),
        Flatten,
        Linear(10),
    }
}

fn main() {}
