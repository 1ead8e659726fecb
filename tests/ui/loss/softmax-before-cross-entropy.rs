use staticnn::prelude::*;

network! {
    struct Net {
        input: 4,
        Linear(3),
        Softmax,
        loss: SoftmaxCrossEntropy,
    }
}

fn main() {}
