// Every way to write a dropout probability: a float, an integer (`0` = no dropout), a
// `const` item, positional or named.
use staticnn::prelude::*;

const P: f64 = 0.3;

network! {
    struct Net {
        input: 4,
        Linear(8),
        Dropout(P),
        Dropout(0),
        Dropout(p = 0.25),
        Dropout(p = P),
        Linear(3),
    }
}

fn main() {
    let _ = Net::<f32>::PARAMS;
}
