use staticnn::prelude::*;

const C: usize = 8;

// Residual blocks whose shapes come from a `const` item (checked by the compiler), nested,
// on a sequence, with a trailing comma.
network! {
    struct Net {
        input: [C, 12],
        Residual(
            Conv1d(C, kernel = 3, padding = 1), ReLU,
            Residual(Conv1d(C, kernel = 3, padding = 1), ReLU),
        ),
        Residual(Conv1d(16, kernel = 3, stride = 2, padding = 1); projection = Conv1d(16, kernel = 1, stride = 2),),
        GlobalAvgPool,
        Flatten,
        Linear(3),
        loss: SoftmaxCrossEntropy,
    }
}

fn main() {
    let net = Net::<f32>::zeroed();
    let y = net.forward(&staticnn::SMatrix::<f32, 96, 2>::zeros());
    assert_eq!(y.nrows(), 3);
}
