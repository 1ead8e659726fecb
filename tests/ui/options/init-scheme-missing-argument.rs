use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(3, init = normal(0.0)),
    }
}

fn main() {}
