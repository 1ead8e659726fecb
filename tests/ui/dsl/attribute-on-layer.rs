use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        /// Doc comments are fine here.
        #[allow(dead_code)]
        Linear(3),
    }
}

fn main() {}
