//! One declaration, two scalar types; `f32` is the default.
use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

network! {
    struct Net {
        input: 2,
        Linear(4, init = constant(0.5), bias = zeros),
        Tanh,
        Linear(1, init = constant(1.0), bias = zeros),
        loss: BceWithLogits,
    }
}

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(2);
    let single: Net = Net::new(&mut rng);
    let double = Net::<f64>::new(&mut rng);
    let y32 = single.forward(&SMatrix::<f32, 2, 1>::from_column_slice(&[1.0, -1.0]));
    let y64 = double.forward(&SMatrix::<f64, 2, 1>::from_column_slice(&[1.0, -1.0]));
    assert_eq!(y32[0], 0.0);
    assert_eq!(y64[0], 0.0);
}
