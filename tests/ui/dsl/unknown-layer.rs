use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Conv3d(8),
        Linear(3),
    }
}

fn main() {}
