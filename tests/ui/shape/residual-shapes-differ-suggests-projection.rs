use staticnn::prelude::*;

// The body halves the image and doubles the channels: its output cannot be added to the
// block's input without a projection.
network! {
    struct Net {
        input: [16, 8, 8],
        Residual(
            Conv2d(32, kernel = 3, stride = 2, padding = 1),
            BatchNorm,
            ReLU,
            Conv2d(32, kernel = 3, padding = 1),
        ),
        GlobalAvgPool,
        Flatten,
        Linear(10),
    }
}

fn main() {}
