//! Named and unnamed layers mixed; unnamed ones are called `layer<position>`.
use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

network! {
    pub(crate) struct Net {
        input: 3,
        embed: Linear(6),
        ReLU,
        Linear(4),
        r#type: Linear(2),
    }
}

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(3);
    let net = Net::<f64>::new(&mut rng);
    let names: Vec<_> = <Net<f64> as Network<f64, 3, 2>>::LAYERS
        .iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(names[..3], ["embed", "layer1", "layer2"]);
    let _ = (&net.params.embed, &net.params.layer2, &net.params.r#type);
}
