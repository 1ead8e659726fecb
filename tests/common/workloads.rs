//! Workloads of the performance issue, declared once for the tests and benches that use
//! them (`tests/memory.rs`, `tests/no_alloc.rs`, `tests/fused_relu.rs`, `benches/mlp.rs`):
//! W2, the inference benchmark, and the two training workloads W3 and W4. Each user takes
//! what it needs.
#![allow(dead_code)]

use staticnn::prelude::*;

network! {
    /// W2: 64-64-64-10 with ReLU, the inference benchmark: two `Linear` + `ReLU` pairs, then
    /// a `Linear` with few outputs.
    pub struct W2 {
        input: 64,
        fc1: Linear(64),
        ReLU,
        fc2: Linear(64),
        ReLU,
        fc3: Linear(10),
    }
}

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
