use staticnn::prelude::*;

// Layers inside a block take no names: the block does.
network! {
    struct Net {
        input: 4,
        Residual(hidden: Linear(4), ReLU),
        Linear(2),
    }
}

fn main() {}
