use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Residual,
        Linear(2),
    }
}

fn main() {}
