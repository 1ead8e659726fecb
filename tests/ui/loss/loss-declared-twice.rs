use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(3),
        loss: SoftmaxCrossEntropy,
        loss: Hinge,
    }
}

fn main() {}
