use staticnn::prelude::*;

network! {
    struct Detector {
        input: 4,
        Linear(8),
        ReLU,
        Linear(1),
        loss: SoftmaxCrossEntropy,
    }
}

fn main() {}
