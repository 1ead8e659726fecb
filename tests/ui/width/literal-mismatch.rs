use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        hidden: Linear(4 -> 8),
        ReLU,
        out: Linear(6 -> 3),
    }
}

fn main() {}
