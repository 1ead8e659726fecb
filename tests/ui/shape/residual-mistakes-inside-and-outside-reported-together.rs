use staticnn::prelude::*;

// Independent mistakes inside a block's body, inside its projection and after it, all
// reported by one compile.
network! {
    struct Net {
        input: [8, 8, 8],
        Residual(
            Conv2d(4 -> 16, kernel = 3, padding = 1),
            BatchNrom,
            Conv2d(8, kernel = 3, padding = 1, groups = 3);
            projection = Conv2d(8, kernel = 1, bais = false)
        ),
        Linear(10),
    }
}

fn main() {}
