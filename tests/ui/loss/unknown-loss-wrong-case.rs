use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(3),
        loss: MSE,
    }
}

fn main() {}
