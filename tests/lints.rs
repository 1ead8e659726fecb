//! The code `network!` writes is clean under strict lints: it must not force warnings on
//! users who deny them.
#![deny(
    warnings,
    missing_docs,
    missing_debug_implementations,
    unused,
    unused_qualifications,
    unused_results,
    non_snake_case,
    non_camel_case_types,
    unreachable_pub,
    single_use_lifetimes,
    trivial_casts,
    trivial_numeric_casts,
    clippy::all,
    clippy::pedantic
)]

/// Networks declared in a public module, so that `missing_docs` applies to them.
pub mod nets {
    use staticnn::network;

    /// Hidden width given by a `const` item.
    pub const HIDDEN: usize = 12;

    /// Options given by `f64` `const` items (no cast in the expansion).
    pub const SLOPE: f64 = 0.1;
    /// Dropout probability.
    pub const P: f64 = 0.25;

    network! {
        /// Every kind of layer, named and unnamed, with every width form.
        pub struct Strict {
            input: 6,
            fc1: Linear(6 -> HIDDEN, init = he_normal(slope = 0.1), bias = zeros),
            LeakyReLU(slope = SLOPE),
            Dropout(P),
            fc2: Linear(HIDDEN -> 8, init = xavier_uniform),
            Tanh(8),
            Maxout(8, k = 2),
            PReLU,
            ELU(alpha = 1.0),
            Sigmoid,
            out: Linear(3),
            loss: SoftmaxCrossEntropy,
        }
    }

    network! {
        /// Residual blocks: nested, with a projection, named, and last.
        pub struct StrictResidual {
            input: [2, 4, 4],
            Conv2d(4, kernel = 3, padding = 1),
            res: Residual(
                Conv2d(4, kernel = 3, padding = 1), BatchNorm, ReLU,
                Residual(Conv2d(4, kernel = 3, padding = 1)), Dropout(P);
                projection = Conv2d(4, kernel = 1)
            ),
            Flatten,
            Residual(Linear(8), Tanh; projection = Linear(8)),
            loss: Mse,
        }
    }

    network! {
        /// Input standardisation folded into a `Linear` layer by the inference form.
        pub struct Standardised {
            input: 4,
            Normalize,
            Linear(3),
            loss: SoftmaxCrossEntropy,
        }
    }

    network! {
        /// Per-channel standardisation folded into an unpadded convolution.
        pub struct StandardisedImage {
            input: [2, 4, 4],
            Normalize,
            Conv2d(3, kernel = 3, bias = false),
            BatchNorm,
            Flatten,
            Linear(2),
        }
    }

    network! {
        /// A crate-private network without a loss.
        pub(crate) struct Private {
            input: 2,
            Linear(2),
            Softmax,
        }
    }
}

/// The strict-lint networks also work.
#[test]
fn strict_networks_run() {
    use staticnn::prelude::*;
    use staticnn::rand::SeedableRng;
    use staticnn::rand::rngs::Xoshiro128PlusPlus;

    let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);
    let net = nets::Strict::<f32>::new(&mut rng);
    let y = net.forward(&SMatrix::<f32, 6, 2>::repeat(0.5));
    assert!(y.iter().all(|v| v.is_finite()));
    let residual = nets::StrictResidual::<f32>::new(&mut rng);
    let y = residual.forward(&SMatrix::<f32, 32, 2>::repeat(0.5));
    assert!(y.iter().all(|v| v.is_finite()));
    let p = nets::Private::<f64>::new(&mut rng);
    let probs = p.predict(&SVector::<f64, 2>::new(1.0, -1.0));
    assert!((probs.sum() - 1.0).abs() < 1e-12);
    let tabular = nets::Standardised::<f64>::new(&mut rng).to_inference();
    assert!(
        tabular
            .predict(&SVector::<f64, 4>::repeat(1.0))
            .iter()
            .all(|v| v.is_finite())
    );
    let image = nets::StandardisedImage::<f64>::new(&mut rng).to_inference();
    assert!(
        image
            .predict(&SVector::<f64, 32>::repeat(1.0))
            .iter()
            .all(|v| v.is_finite())
    );
}
