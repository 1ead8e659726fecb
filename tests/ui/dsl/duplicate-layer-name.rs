use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        hidden: Linear(8),
        ReLU,
        hidden: Linear(3),
    }
}

fn main() {}
