use staticnn::prelude::*;

network! {
    struct Net {}
}

fn main() {}
