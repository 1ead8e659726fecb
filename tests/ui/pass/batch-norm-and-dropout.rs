//! Every way to write batch norm and dropout; eval mode (unlike train mode) accepts a batch
//! of one sample.
use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

const P: f64 = 0.25;
const EPS: f64 = 1e-3;

network! {
    struct Net {
        input: 4,
        fc: Linear(8),
        BatchNorm,
        Dropout(0.5),
        BatchNorm(8),
        Dropout(p = 0.1),
        BatchNorm(8, eps = 1e-4, momentum = 0.2),
        Dropout(p = P),
        BatchNorm(eps = EPS, momentum = 1.0),
        Dropout(0.0),
        out: Linear(3),
        loss: SoftmaxCrossEntropy,
    }
}

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(2);
    let mut net = Net::<f64>::new(&mut rng);
    let one = SMatrix::<f64, 4, 1>::from_column_slice(&[1.0, -1.0, 0.5, 2.0]);
    let _ = net.forward(&one);
    let _ = net.predict(&one.column(0).into_owned());
    let _ = net.to_inference().forward(&one);

    let x = SMatrix::<f64, 4, 2>::from_column_slice(&[1.0, -1.0, 0.5, 2.0, 0.0, 1.0, -2.0, 3.0]);
    let y = [ClassIndex::new(0).unwrap(), ClassIndex::new(2).unwrap()];
    let mut tape = Net::<f64>::tape::<2>();
    let mut grads = Net::<f64>::gradients();
    let mut sgd = Sgd::new(0.1);
    net.train_step(&x, &y, &mut grads, &mut tape, &mut sgd, &mut rng)
        .unwrap();
}
