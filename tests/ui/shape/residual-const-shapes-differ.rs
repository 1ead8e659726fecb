use staticnn::prelude::*;

const C: usize = 8;
const WIDE: usize = 16;

// Channels given by `const` items: the block's shapes are compared by the compiler.
network! {
    struct Net {
        input: [C, 4, 4],
        Residual(Conv2d(WIDE, kernel = 3, padding = 1), ReLU),
        Flatten,
        Linear(2),
    }
}

fn main() {}
