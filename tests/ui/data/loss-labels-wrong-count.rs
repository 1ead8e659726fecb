use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

network! {
    struct Digits {
        input: 64,
        Linear(10),
        loss: Hinge,
    }
}

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let net = Digits::<f32>::new(&mut rng);
    let x = SMatrix::<f32, 64, 2>::zeros();
    let labels = [ClassIndex::<9>::new(0).unwrap(); 2];
    let _ = net.loss(&x, &labels);
}
