//! Keras-style summaries that allocate nothing.

use core::fmt;

use crate::Scalar;

/// Compile-time description of one layer of a network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerInfo {
    /// The layer's name as declared (`layer3` for an unnamed layer at position 3).
    pub name: &'static str,
    /// The layer type (`Linear`, `ReLU`, …).
    pub kind: &'static str,
    /// Input features.
    pub inputs: usize,
    /// Output features.
    pub outputs: usize,
    /// Learnable scalars.
    pub params: usize,
    /// Forward FLOPs per sample.
    pub flops: usize,
    /// What the layer's parameters are, in storage order.
    pub segments: &'static [crate::layout::Segment],
    /// Scalars of persistent state (batch-norm running statistics).
    pub state: usize,
    /// Whether the layer was declared with a name (otherwise `name` is `layer{index}`).
    pub named: bool,
    /// The layer's tensors as PyTorch names and shapes them ([`Layer::TENSORS`](crate::Layer::TENSORS)).
    pub tensors: &'static [crate::io::Tensor],
}

/// A network's layer table and memory figures; print it with `{}`.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    name: &'static str,
    scalar: &'static str,
    layers: &'static [LayerInfo],
    param_bytes: usize,
    state_bytes: usize,
    tape_bytes_per_sample: usize,
    scratch_bytes_per_sample: usize,
}

impl Summary {
    pub(crate) fn new<T: Scalar, P, S, Tape1>(
        name: &'static str,
        layers: &'static [LayerInfo],
        scratch_rows: usize,
    ) -> Self {
        Summary {
            name,
            scalar: core::any::type_name::<T>(),
            layers,
            param_bytes: size_of::<P>(),
            state_bytes: size_of::<S>(),
            tape_bytes_per_sample: size_of::<Tape1>(),
            scratch_bytes_per_sample: scratch_rows * size_of::<T>(),
        }
    }

    /// Total learnable scalars.
    pub fn params(&self) -> usize {
        self.layers.iter().map(|l| l.params).sum()
    }

    /// Total forward FLOPs per sample.
    pub fn flops(&self) -> usize {
        self.layers.iter().map(|l| l.flops).sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} ({})", self.name, self.scalar)?;
        writeln!(
            f,
            "{:>3}  {:<12} {:<10} {:>6} → {:<5} {:>10} {:>10}",
            "#", "layer", "type", "in", "out", "params", "FLOPs"
        )?;
        for (i, l) in self.layers.iter().enumerate() {
            writeln!(
                f,
                "{:>3}  {:<12} {:<10} {:>6} → {:<5} {:>10} {:>10}",
                i, l.name, l.kind, l.inputs, l.outputs, l.params, l.flops
            )?;
        }
        writeln!(
            f,
            "parameters: {} ({} bytes)",
            self.params(),
            self.param_bytes
        )?;
        writeln!(f, "state: {} bytes", self.state_bytes)?;
        writeln!(f, "forward FLOPs per sample: {}", self.flops())?;
        writeln!(
            f,
            "train tape per sample: {} bytes",
            self.tape_bytes_per_sample
        )?;
        write!(
            f,
            "inference scratch per sample: {} bytes",
            self.scratch_bytes_per_sample
        )
    }
}
