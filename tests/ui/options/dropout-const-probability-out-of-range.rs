use staticnn::prelude::*;

const P: f64 = 1.5;

network! {
    struct Net {
        input: 4,
        Linear(8),
        Dropout(p = P),
        Linear(3),
    }
}

fn main() {}
