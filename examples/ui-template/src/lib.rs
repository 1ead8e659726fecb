//! A crate built on staticnn, as a team would write it: its networks, and (in
//! `tests/shapes.rs`) compile-fail tests that pin that the compiler rejects data of the wrong
//! shape for them, with the message the team expects.
//!
//! The template of staticnn's README section "Your own compile-fail tests"; staticnn's CI
//! runs it (`cargo test -p staticnn-ui-template`).
#![no_std]

use staticnn::prelude::*;

network! {
    /// Classifies an iris flower from its four measurements (sepal and petal length and
    /// width) into one of three species; the measurements are standardised by the network.
    pub struct Iris {
        input: 4,
        Normalize,
        Linear(16),
        ReLU,
        Linear(3),
        loss: SoftmaxCrossEntropy,
    }
}
