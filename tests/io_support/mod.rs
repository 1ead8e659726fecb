//! Shared by the `io_*` tests: the networks they load into, and a way to take a safetensors
//! file apart and put it back together (through the `safetensors` crate) so that a test can
//! change one thing in a valid file.

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use staticnn::prelude::*;
use staticnn::rand::Rng;

network! {
    /// A small network with a named layer, batch norm (parameters, running statistics and
    /// PyTorch's counter) and an activation between, as `nn.Sequential(Linear(3, 4),
    /// BatchNorm1d(4), ReLU(), Linear(4, 2))`.
    pub struct Small {
        input: 3,
        fc: Linear(3 -> 4),
        BatchNorm,
        ReLU,
        Linear(2),
    }
}

/// Adds a learned offset to every feature and counts its train-mode forwards in its state:
/// a custom layer that does not describe its tensors, so it gets the default `params` and
/// `state`.
#[derive(Debug, Default, PartialEq)]
pub struct Offset;

impl<T: Scalar, const N: usize> Layer<T, N, N> for Offset {
    type Params = [T; N];
    type State = [T; 2];
    type Tape<const B: usize> = ();
    const KIND: &'static str = "Offset";
    const FLOPS: usize = N;

    fn init_params<R: Rng + ?Sized>(&self, p: &mut [T; N], s: &mut [T; 2], _: &mut R) {
        p.fill(T::of(0.5));
        s.fill(T::zero());
    }

    fn forward<const B: usize>(
        &self,
        p: &[T; N],
        _: &[T; 2],
        x: &SMatrix<T, N, B>,
        y: &mut SMatrix<T, N, B>,
    ) {
        for b in 0..B {
            for i in 0..N {
                y[(i, b)] = x[(i, b)] + p[i];
            }
        }
    }

    fn forward_train<const B: usize, R: Rng + ?Sized>(
        &self,
        p: &[T; N],
        s: &mut [T; 2],
        x: &SMatrix<T, N, B>,
        y: &mut SMatrix<T, N, B>,
        _: &mut (),
        _: &mut R,
    ) {
        s[0] += T::one();
        s[1] = T::of(B as f64);
        self.forward(p, s, x, y);
    }

    fn backward<const B: usize>(
        &self,
        _: &[T; N],
        _: &SMatrix<T, N, B>,
        _: &SMatrix<T, N, B>,
        _: &(),
        dy: &SMatrix<T, N, B>,
        dx: Option<&mut SMatrix<T, N, B>>,
        g: &mut [T; N],
    ) {
        for b in 0..B {
            for i in 0..N {
                g[i] += dy[(i, b)];
            }
        }
        if let Some(dx) = dx {
            dx.copy_from(dy);
        }
    }
}

network! {
    /// Every kind of layer, some named: each kind of tensor and storage order.
    pub struct Every {
        input: 4,
        fc1: Linear(4 -> 6),
        BatchNorm,
        PReLU,
        Dropout(0.25),
        mx: Maxout(5, k = 3),
        Tanh,
        Custom(Offset),
        LeakyReLU(slope = 0.2),
        norm: BatchNorm,
        ELU,
        Sigmoid,
        ReLU,
        out: Linear(3),
        Softmax,
    }
}

/// One tensor of a file, to change and write back.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Its key.
    pub name: String,
    /// Its dtype.
    pub dtype: Dtype,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its bytes.
    pub data: Vec<u8>,
}

impl Entry {
    /// A tensor of `f32` values.
    pub fn f32(name: &str, shape: &[usize], values: &[f32]) -> Entry {
        Entry {
            name: name.into(),
            dtype: Dtype::F32,
            shape: shape.to_vec(),
            data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }
}

/// The tensors of a valid file, sorted by key.
pub fn entries(bytes: &[u8]) -> Vec<Entry> {
    let file = SafeTensors::deserialize(bytes).expect("a valid file");
    let mut out: Vec<Entry> = file
        .iter()
        .map(|(name, t)| Entry {
            name: name.to_string(),
            dtype: t.dtype(),
            shape: t.shape().to_vec(),
            data: t.data().to_vec(),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// A file of these tensors (no metadata).
pub fn build(entries: &[Entry]) -> Vec<u8> {
    let views = entries.iter().map(|e| {
        (
            e.name.clone(),
            TensorView::new(e.dtype, e.shape.clone(), &e.data).expect("consistent tensor"),
        )
    });
    safetensors::serialize(views, None).expect("serializable")
}

/// The bytes of a network (every parameter and state scalar), for bit-exact comparisons
/// (`==` on floats calls `-0.0` and `0.0` equal and NaN unequal to itself).
pub fn bits<N: bytemuck::Pod>(net: &N) -> Vec<u8> {
    bytemuck::bytes_of(net).to_vec()
}
