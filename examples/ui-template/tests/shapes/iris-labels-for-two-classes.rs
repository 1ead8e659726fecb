// The iris network has three classes; labels of a two-class problem do not compile.
use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
use staticnn_ui_template::Iris;

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let mut net = Iris::<f32>::new(&mut rng);
    let x = SMatrix::<f32, 4, 2>::zeros();
    let labels = [ClassIndex::<2>::new(1).unwrap(); 2];
    let (mut tape, mut grads) = (Iris::<f32>::tape::<2>(), Iris::<f32>::gradients());
    let mut adam = Adam::new(0.01);
    let _ = net.train_step(&x, &labels, &mut grads, &mut tape, &mut adam, &mut rng);
}
