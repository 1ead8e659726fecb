use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

network! {
    struct Net {
        input: 4,
        Linear(8),
        BatchNorm,
        ReLU,
        Dropout(0.5),
        Linear(3),
    }
}

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let net = Net::<f32>::new(&mut rng).to_inference();
    let _ = net.forward(&SMatrix::<f32, 8, 2>::zeros());
}
