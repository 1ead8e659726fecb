//! Each loss with the target it takes.
use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

network! {
    struct Classifier {
        input: 2,
        Linear(3),
        loss: SoftmaxCrossEntropy,
    }
}

network! {
    struct Margin {
        input: 2,
        Linear(3),
        loss: Hinge,
    }
}

network! {
    struct Binary {
        input: 2,
        Linear(1),
        loss: BceWithLogits,
    }
}

network! {
    struct Regressor {
        input: 2,
        Linear(2),
        loss: Mse,
    }
}

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(6);
    let x = SMatrix::<f64, 2, 2>::zeros();
    let labels = [ClassIndex::<3>::new(1).unwrap(); 2];
    let c = Classifier::<f64>::new(&mut rng);
    let m = Margin::<f64>::new(&mut rng);
    let b = Binary::<f64>::new(&mut rng);
    let r = Regressor::<f64>::new(&mut rng);
    assert!(c.loss(&x, &labels).is_finite());
    assert!(m.loss(&x, &labels).is_finite());
    assert!(b.loss(&x, &SMatrix::<f64, 1, 2>::zeros()).is_finite());
    assert!(r.loss(&x, &SMatrix::<f64, 2, 2>::zeros()).is_finite());
}
