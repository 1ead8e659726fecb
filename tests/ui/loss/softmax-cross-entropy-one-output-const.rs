use staticnn::prelude::*;

const OUTPUTS: usize = 1;

network! {
    struct Detector {
        input: 4,
        Linear(8),
        ReLU,
        Linear(OUTPUTS),
        loss: SoftmaxCrossEntropy,
    }
}

fn main() {}
