//! The networks' own `forward`, `predict`, `classify`, `loss` and `train_step` take their
//! data as a type parameter; data whose size only the call tells still compiles, as it did
//! when they took `&SMatrix<T, IN, B>`, and so do calls through the traits.
use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

// Types named like the const parameters of the generated methods.
#[allow(dead_code)]
struct B;
#[allow(dead_code)]
struct K;
#[allow(dead_code)]
struct R;

network! {
    struct Net {
        input: 4,
        Linear(8),
        BatchNorm,
        ReLU,
        Dropout(0.25),
        Linear(3),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    struct Regressor {
        input: 3,
        Linear(2),
        loss: Mse,
    }
}

fn through_the_trait<N: Network<f32, 4, 3>>(net: &N, x: &SMatrix<f32, 4, 2>) -> [usize; 2] {
    net.classify(x)
}

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let mut net = Net::<f32>::new(&mut rng);
    let y: SMatrix<f32, 3, 2> = net.forward(&SMatrix::zeros());
    let _ = net.forward(&SMatrix::<f32, 4, 2>::zeros()) + y;
    let _ = net.predict(&SVector::from([1.0, 2.0, 3.0, 4.0]));
    let _: SMatrix<f32, 3, 2> = net.predict(&SMatrix::<f32, 4, 2>::zeros());
    let _: [usize; 5] = net.classify(&SMatrix::zeros());
    let _ = Network::forward(&net, &SMatrix::<f32, 4, 1>::zeros());
    let _ = through_the_trait(&net, &SMatrix::zeros());
    let boxed = Box::new(SMatrix::<f32, 4, 2>::zeros());
    let _ = net.forward(&boxed);

    let x = SMatrix::<f32, 4, 2>::zeros();
    let labels = [ClassIndex::new(0).unwrap(), ClassIndex::new(2).unwrap()];
    let _ = net.loss(&x, &labels);
    let mut tape = Net::<f32>::tape();
    let mut grads = Net::<f32>::gradients();
    let mut adam = Adam::new(0.01);
    let _ = net.train_step(&x, &labels, &mut grads, &mut tape, &mut adam, &mut rng);
    let _ = net.to_inference().forward(&x);

    let mut reg = Regressor::<f64>::new(&mut rng);
    let mut tape = Regressor::<f64>::tape::<3>();
    let mut grads = Regressor::<f64>::gradients();
    let mut sgd = Sgd::new(0.1);
    let target = SMatrix::zeros();
    let _ = reg.train_step(&SMatrix::zeros(), &target, &mut grads, &mut tape, &mut sgd, &mut rng);
    let _: f64 = reg.loss(&SMatrix::<f64, 3, 3>::zeros(), &target);
}
