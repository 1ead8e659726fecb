//! Widths given by `const` items, plain and by path, mixed with literals; two networks share
//! layer names (each width check lives in its own scope).
use staticnn::prelude::*;

const FEATURES: usize = 4;

mod config {
    pub const HIDDEN: usize = 8;
    pub const CLASSES: usize = 3;
}

network! {
    struct Net {
        input: FEATURES,
        hidden: Linear(FEATURES -> config::HIDDEN),
        ReLU(config::HIDDEN),
        out: Linear(8 -> config::CLASSES),
    }
}

network! {
    struct Other {
        input: 8,
        hidden: Linear(8 -> config::HIDDEN),
        Tanh,
        out: Linear(config::HIDDEN -> config::CLASSES),
    }
}

fn main() {
    assert_eq!(Net::<f32>::INPUT, FEATURES);
    assert_eq!(Net::<f32>::OUTPUT, config::CLASSES);
    assert_eq!(Net::<f32>::PARAMS, 4 * 8 + 8 + 8 * 3 + 3);
    assert_eq!(Other::<f32>::PARAMS, 8 * 8 + 8 + 8 * 3 + 3);
}
