use staticnn::prelude::*;

// On flat features the suggested projection is a `Linear` layer.
network! {
    struct Net {
        input: 8,
        res: Residual(Linear(16), ReLU),
        Linear(2),
    }
}

fn main() {}
