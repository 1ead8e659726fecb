use staticnn::prelude::*;
#[allow(dead_code)]
struct B;
#[allow(dead_code)]
struct T;
network! {
    struct Net { input: 2, Linear(3), ReLU, Linear(1), loss: Mse }
}
fn main() {
    let mut rng = <staticnn::rand::rngs::Xoshiro128PlusPlus as staticnn::rand::SeedableRng>::seed_from_u64(1);
    let n = Net::<f32>::new(&mut rng);
    let _ = n.forward(&SMatrix::<f32, 2, 4>::zeros());
}
