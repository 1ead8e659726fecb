//! Keras-style summaries that allocate nothing.

use core::fmt;

use crate::Scalar;

/// Compile-time description of one layer of a network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerInfo {
    /// The layer's name as declared (`layer3` for an unnamed layer at position 3). A layer
    /// inside a residual block is named after the block: `layer3.body.0`, or `res.body.0`
    /// in a block declared as `res: Residual(…)`.
    pub name: &'static str,
    /// The layer type (`Linear`, `ReLU`, …).
    pub kind: &'static str,
    /// Input features.
    pub inputs: usize,
    /// Output features.
    pub outputs: usize,
    /// The shape of what flows in: `[N]` for features, `[C, L]` for a sequence, `[C, H, W]`
    /// for an image (in PyTorch's order; the product is `inputs`).
    pub in_shape: &'static [usize],
    /// The shape of what flows out (the product is `outputs`).
    pub out_shape: &'static [usize],
    /// Learnable scalars.
    pub params: usize,
    /// Forward FLOPs per sample.
    pub flops: usize,
    /// What the layer's parameters are, in storage order.
    pub segments: &'static [crate::layout::Segment],
    /// Scalars of persistent state (batch-norm running statistics).
    pub state: usize,
    /// Whether the layer was declared with a name (otherwise `name` is `layer{index}`), or,
    /// inside a residual block, whether the block was.
    pub named: bool,
    /// The layer's module key as `nn.Sequential` keys it: its position (`3`), or inside a
    /// residual block the block's key, `body` or `projection`, and the position within
    /// (`3.body.0`, `3.projection.1`). Weight files key tensors by it.
    pub path: &'static str,
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
    /// An inference-only form: `param_bytes`/`state_bytes` are without padding, the padded
    /// sizes are below, and there is no tape.
    deployed: Option<Padded>,
}

/// The in-memory sizes of a deployed network's blocks, padding included.
#[derive(Clone, Copy, Debug)]
struct Padded {
    param_bytes: usize,
    state_bytes: usize,
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
            deployed: None,
        }
    }

    /// The summary of an inference-only form: the bytes of its parameters and state as
    /// stored (without the blocks' x86-64 padding), and no training tape.
    pub(crate) fn deployed<T: Scalar, P, S>(
        name: &'static str,
        layers: &'static [LayerInfo],
        scratch_rows: usize,
    ) -> Self {
        let scalar = size_of::<T>();
        Summary {
            name,
            scalar: core::any::type_name::<T>(),
            layers,
            param_bytes: layers.iter().map(|l| l.params).sum::<usize>() * scalar,
            state_bytes: layers.iter().map(|l| l.state).sum::<usize>() * scalar,
            tape_bytes_per_sample: 0,
            scratch_bytes_per_sample: scratch_rows * scalar,
            deployed: Some(Padded {
                param_bytes: size_of::<P>(),
                state_bytes: size_of::<S>(),
            }),
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

/// A shape as the summary prints it: `64` for features, `[16, 12, 12]` otherwise; padded to
/// the width given to `{:>w}` / `{:<w}` without allocating.
struct Dims(&'static [usize]);

impl fmt::Display for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Measure, then pad: the formatter's width applies to the whole shape.
        let mut len = 0;
        if let [n] = self.0 {
            len += digits(*n);
        } else {
            len += 2 + 2 * self.0.len().saturating_sub(1);
            len += self.0.iter().map(|&n| digits(n)).sum::<usize>();
        }
        let pad = f.width().unwrap_or(0).saturating_sub(len);
        let right = matches!(f.align(), Some(fmt::Alignment::Right) | None) && f.width().is_some();
        if right {
            for _ in 0..pad {
                f.write_str(" ")?;
            }
        }
        if let [n] = self.0 {
            write!(f, "{n}")?;
        } else {
            f.write_str("[")?;
            for (i, n) in self.0.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{n}")?;
            }
            f.write_str("]")?;
        }
        if !right {
            for _ in 0..pad {
                f.write_str(" ")?;
            }
        }
        Ok(())
    }
}

fn digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.deployed {
            None => writeln!(f, "{} ({})", self.name, self.scalar)?,
            Some(_) => writeln!(f, "{} ({}, inference only)", self.name, self.scalar)?,
        }
        // Sequences and images widen the shape columns to fit.
        let width = |shape: fn(&LayerInfo) -> &'static [usize], min: usize| {
            self.layers
                .iter()
                .map(|l| {
                    let s = shape(l);
                    match s {
                        [n] => digits(*n),
                        _ => 2 * s.len() + s.iter().map(|&n| digits(n)).sum::<usize>(),
                    }
                })
                .fold(min, usize::max)
        };
        let wi = width(|l| l.in_shape, 6);
        let wo = width(|l| l.out_shape, 5);
        // Names inside residual blocks (`layer3.body.0`) widen the name column to fit.
        let wn = self
            .layers
            .iter()
            .map(|l| l.name.len())
            .fold(12, usize::max);
        writeln!(
            f,
            "{:>3}  {:<wn$} {:<10} {:>wi$} → {:<wo$} {:>10} {:>10}",
            "#", "layer", "type", "in", "out", "params", "FLOPs"
        )?;
        for (i, l) in self.layers.iter().enumerate() {
            writeln!(
                f,
                "{:>3}  {:<wn$} {:<10} {:>wi$} → {:<wo$} {:>10} {:>10}",
                i,
                l.name,
                l.kind,
                Dims(l.in_shape),
                Dims(l.out_shape),
                l.params,
                l.flops
            )?;
        }
        // Where a deployed block's padded size differs from the stored one, it is named.
        let padding = |bytes: usize, in_memory: usize| (in_memory != bytes).then_some(in_memory);
        const PADDED: &str = "in memory on this target, padded to 64-byte lines";
        write!(
            f,
            "parameters: {} ({} bytes",
            self.params(),
            self.param_bytes
        )?;
        if let Some(m) = self
            .deployed
            .and_then(|p| padding(self.param_bytes, p.param_bytes))
        {
            write!(f, "; {m} {PADDED}")?;
        }
        writeln!(f, ")")?;
        write!(f, "state: {} bytes", self.state_bytes)?;
        if let Some(m) = self
            .deployed
            .and_then(|p| padding(self.state_bytes, p.state_bytes))
        {
            write!(f, " ({m} {PADDED})")?;
        }
        writeln!(f)?;
        writeln!(f, "forward FLOPs per sample: {}", self.flops())?;
        if self.deployed.is_none() {
            writeln!(
                f,
                "train tape per sample: {} bytes",
                self.tape_bytes_per_sample
            )?;
        }
        write!(
            f,
            "inference scratch per sample: {} bytes",
            self.scratch_bytes_per_sample
        )
    }
}
