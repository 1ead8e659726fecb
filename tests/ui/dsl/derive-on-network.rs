use staticnn::prelude::*;

network! {
    #[derive(Debug)]
    struct Net {
        input: 4,
        Linear(3),
    }
}

fn main() {}
