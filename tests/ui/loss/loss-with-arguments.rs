use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(3),
        loss: Mse(reduction = sum),
    }
}

fn main() {}
