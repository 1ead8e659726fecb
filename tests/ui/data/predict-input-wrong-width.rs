use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

network! {
    struct Net {
        input: 4,
        Linear(8),
        ReLU,
        Linear(3),
    }
}

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let net = Net::<f32>::new(&mut rng);
    let _ = net.predict(&SVector::<f32, 3>::zeros());
}
