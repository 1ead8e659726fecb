//! The two training workloads of the performance issue, declared once for the tests that
//! measure them (`tests/memory.rs`, `tests/no_alloc.rs`); `benches/mlp.rs` declares the same
//! shapes for its cases.

use staticnn::prelude::*;

network! {
    /// W3: 784-128-64-10 with ReLU, the training benchmark without batch norm.
    pub struct W3 {
        input: 784,
        Linear(128),
        ReLU,
        Linear(64),
        ReLU,
        Linear(10),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    /// W4: W3 with batch norm and dropout.
    pub struct W4 {
        input: 784,
        Linear(128),
        BatchNorm,
        ReLU,
        Dropout(0.5),
        Linear(64),
        BatchNorm,
        ReLU,
        Linear(10),
        loss: SoftmaxCrossEntropy,
    }
}
