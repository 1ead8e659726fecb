use staticnn::prelude::*;

// The projection forgets the stride: it produces [32, 8, 8], the body [32, 4, 4].
network! {
    struct Net {
        input: [16, 8, 8],
        Residual(
            Conv2d(32, kernel = 3, stride = 2, padding = 1),
            BatchNorm;
            projection = Conv2d(32, kernel = 1)
        ),
        Flatten,
        Linear(10),
    }
}

fn main() {}
