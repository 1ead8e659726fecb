use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

network! {
    /// Everything below uses the network; none of it may add an error.
    pub struct Net {
        input: 4,
        hidden: Linear(8),
        Relu,
        out: Linear(3),
        loss: SoftmaxCrossEntropy,
    }
}

struct Model {
    net: Net<f64>,
}

impl Net {
    fn describe(&self) -> usize {
        Self::PARAMS + Self::INPUT + Self::OUTPUT
    }
}

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let mut net = Net::<f32>::new(&mut rng);
    let x = SMatrix::<f32, 4, 2>::zeros();
    let y = net.forward(&x);
    assert_eq!(y.nrows(), 3);
    let labels = [ClassIndex::<3>::new(0).unwrap(); 2];
    let mut tape = Net::<f32>::tape::<2>();
    let mut grads = Net::<f32>::gradients();
    let mut sgd = Sgd::new(0.1);
    let _ = net.train_step(&x, &labels, &mut grads, &mut tape, &mut sgd, &mut rng);
    let _ = net.classify(&x);
    let _ = net.describe();
    let _ = Net::<f32>::tape_bytes::<2>();
    let model = Model {
        net: Net::new(&mut rng),
    };
    let _ = model.net.summary();
    let _ = format!("{:?}", model.net);
}
