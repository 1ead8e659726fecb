use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(8),
        LeakyReLU(slope = 0.1, slope = 0.2),
        Linear(3),
    }
}

fn main() {}
