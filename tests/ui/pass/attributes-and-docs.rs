//! Doc comments and attributes on the network are forwarded to its struct; doc comments on
//! layers are forwarded to their parameter fields.
#![deny(missing_docs, dead_code)]

use staticnn::prelude::*;

network! {
    /// A documented network, never used: `allow(dead_code)` is forwarded.
    #[allow(dead_code)]
    #[doc = "More documentation."]
    pub struct Documented {
        input: 4,
        /// The hidden layer.
        hidden: Linear(8),
        /// An unnamed activation.
        ReLU,
        out: Linear(2),
    }
}

/// The program.
fn main() {
    assert_eq!(Documented::<f32>::OUTPUT, 2);
}
