use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        params: Linear(3),
    }
}

fn main() {}
