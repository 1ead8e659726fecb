//! Sequences and images with literal and `const` sizes, every layer kind that works on
//! shapes, and the shapes the macro works out.
use staticnn::prelude::*;

const CHANNELS: usize = 3;
const SIDE: usize = 12;
const KERNEL: usize = 3;
const LENGTH: usize = 40;

network! {
    struct Image {
        input: [CHANNELS, SIDE, SIDE],
        stem: Conv2d(CHANNELS -> 8, kernel = KERNEL, padding = 1, bias = false),
        BatchNorm(8),
        ReLU,
        depthwise: Conv2d(8, kernel = (3, 5), padding = (1, 2), groups = 8),
        pointwise: Conv2d(16, kernel = 1, init = he_uniform),
        MaxPool2d(2),
        Dropout(0.1),
        AvgPool2d(kernel = 3, stride = 1, padding = 1),
        GlobalAvgPool,
        Flatten,
        Linear(16 -> 4),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    struct Sequence {
        input: [2, LENGTH],
        Conv1d(4, kernel = 5, stride = 2, dilation = 2),
        BatchNorm,
        Tanh,
        MaxPool1d(2),
        Flatten,
        Linear(32 -> 3),
    }
}

fn main() {
    assert_eq!(Image::<f32>::INPUT, 3 * 12 * 12);
    assert_eq!(Image::<f32>::OUTPUT, 4);
    let layers = <Image<f32> as Network<f32, 432, 4>>::LAYERS;
    assert_eq!(layers[0].in_shape, &[3, 12, 12]);
    assert_eq!(layers[3].out_shape, &[8, 12, 12]);
    assert_eq!(layers[5].out_shape, &[16, 6, 6]);
    assert_eq!(layers[8].out_shape, &[16, 1, 1]);
    assert_eq!(layers[9].out_shape, &[16]);
    let layers = <Sequence<f64> as Network<f64, 80, 3>>::LAYERS;
    assert_eq!(layers[0].out_shape, &[4, 16]);
    assert_eq!(layers[3].out_shape, &[4, 8]);
    // The inference form folds the batch norm into the convolution before it, which gains
    // a bias for it.
    let net = Image::<f32>::zeroed();
    let _: ImageInference<f32> = net.to_inference();
}
