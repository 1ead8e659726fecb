use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Maxout(8, k = 0),
        Linear(3),
    }
}

fn main() {}
