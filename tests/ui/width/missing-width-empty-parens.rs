use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(),
        ReLU,
        Linear(3),
    }
}

fn main() {}
