use staticnn::prelude::*;

network! {
    struct Net {
        input: 64,
        Conv1d(8, kernel = 3),
    }
}

fn main() {}
