//! Every initialisation scheme, with and without arguments, positional and named, negative
//! number literals, and option values given by `const` items.
use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

const SLOPE: f64 = -0.2;

network! {
    struct Net {
        input: 4,
        Linear(4, init = zeros, bias = constant(-1)),
        Linear(4, init = constant(value = 0.5), bias = uniform(-0.5, 0.5)),
        Linear(4, init = normal(0.0, 0.01), bias = normal(mean = -1.0, std = 0.1)),
        Linear(4, init = xavier_uniform, bias = xavier_uniform(gain = 2.0)),
        Linear(4, init = xavier_normal(1.5), bias = glorot_normal),
        Linear(4, init = he_uniform, bias = kaiming_uniform(slope = 0.1)),
        Linear(4, init = he_normal(0.2), bias = kaiming_normal),
        Linear(4, init = lecun_normal, bias = torch_default),
        Linear(4, init = glorot_uniform),
        Maxout(4, k = 2, init = he_normal, bias = zeros),
        LeakyReLU(slope = -0.1),
        LeakyReLU(slope = SLOPE),
        LeakyReLU,
        ELU(alpha = 0.5),
        ELU,
        PReLU(init = -0.25),
        PReLU,
        Linear(2),
    }
}

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(9);
    let net = Net::<f64>::new(&mut rng);
    assert!(net.params.layer0.bias.iter().all(|&b| b == -1.0));
    assert!(net.params.layer1.weight.iter().all(|&w| w == 0.5));
}
