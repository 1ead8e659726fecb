use staticnn::prelude::*;

const HIDDEN: usize = 8;
const WIDE: usize = 16;

network! {
    struct Net {
        input: 4,
        hidden: Linear(HIDDEN),
        ReLU,
        out: Linear(WIDE -> 3),
    }
}

fn main() {}
