use staticnn::data::Dataset;
use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

network! {
    struct Net {
        input: 2,
        Linear(4),
        ReLU,
        Linear(1),
    }
}

fn main() {
    let mut net = Net::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(1));
    let xs = [[1.0f32, 2.0], [3.0, 4.0]];
    let _ = net.fit_normalize(&Dataset::new(&xs, &[(); 2]).unwrap());
}
