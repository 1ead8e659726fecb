use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(8),
        Relu,
        Linear(3),
    }
}

fn main() {}
