use staticnn::prelude::*;

network! {
    struct Net<T> {
        input: 4,
        Linear(3),
    }
}

fn main() {}
