//! Weights in and out: PyTorch-compatible safetensors files and a compact blob for firmware.
//!
//! # The tensors of a network
//!
//! Every layer lists the tensors it holds as PyTorch names and shapes them, in
//! [`Layer::TENSORS`](crate::Layer::TENSORS): a `Linear` layer holds `weight` (`[out, in]`)
//! and `bias` (`[out]`), a `BatchNorm` layer `weight`, `bias`, `running_mean`,
//! `running_var` and PyTorch's `num_batches_tracked` counter, and so on (see [`Tensor`]).
//! The generated network lists them per layer in [`LayerInfo::tensors`], and a tensor's key
//! in a file is its layer's module key, a dot, and its name, exactly as in the
//! `state_dict()` of the matching `nn.Sequential`: `3.weight` for the weight of the fourth
//! item of the declaration. Every item counts, activations and dropout included, so the
//! indices are those of `nn.Sequential`. A `Residual` block is one item, whose layers are
//! keyed as those of a module with two `nn.Sequential` attributes `body` and `projection`
//! (`3.body.0.weight`, `3.projection.0.weight`; see `scripts/make_residual_vectors.py`).
//! With [`Naming::Names`], named layers use their
//! names instead (`fc1.weight`, `res.body.0.weight`), for a PyTorch module built from an
//! `OrderedDict` or with attributes of those names. [`tensors`] walks them all without
//! allocating.
//!
//! # Two formats
//!
//! - **safetensors** (feature `safetensors`, needs `alloc`): `load_safetensors` reads a file
//!   written by PyTorch (`safetensors.torch.save_file(model.state_dict(), …)`) into a network
//!   and `save_safetensors` writes one that `model.load_state_dict(load_file(…))` accepts
//!   with `strict=True`. Loading checks the whole file before it writes anything: a file
//!   that is truncated, corrupt, for another architecture, of an unsupported dtype or (on
//!   request) holding NaN or infinity is rejected with a `LoadError` that says what is wrong,
//!   and the network is left as it was. `save_safetensors` records its naming in the
//!   file's metadata, and loading with the default options follows it.
//! - **blob** (always available, no allocation): [`to_bytes`] and [`from_bytes`] copy the
//!   parameter and state blocks to and from bytes behind a header of [`HEADER_BYTES`] = 40
//!   bytes (magic, format version, scalar width, a reserved zero byte, an architecture
//!   fingerprint computed at compile time, lengths and CRC-32 checksums; see [the
//!   layout](#blob-layout-format-version-1)). It is meant for flash: every network has a `BLOB_BYTES`
//!   constant, and a blob for another architecture or scalar type is refused with a
//!   [`BlobError`]. A blob that loads is byte for byte the blob the loaded network writes.
//!
//! # Blob layout (format version 1)
//!
//! All integers are little-endian.
//!
//! | bytes | field |
//! | --- | --- |
//! | 0..4 | magic, `SNNB` ([`MAGIC`]) |
//! | 4..6 | format version, 1 ([`FORMAT_VERSION`]) |
//! | 6 | bytes per scalar: 4 (`f32`) or 8 (`f64`); [`INT8_TAG`] = 1 for an int8 network ([`int8_to_bytes`]: lengths in bytes 16..24 are the payload's bytes, 24..32 are 0) |
//! | 7 | reserved, 0 (any other value is refused: [`BlobError::ReservedNotZero`]) |
//! | 8..16 | architecture fingerprint ([`fingerprint`] of the layers) |
//! | 16..24 | number of parameter scalars |
//! | 24..32 | number of state scalars |
//! | 32..36 | CRC-32 of the payload (bytes 40 to the end) |
//! | 36..40 | CRC-32 of bytes 0..36 |
//! | 40.. | payload: every parameter, then every state scalar, in storage order, as little-endian IEEE 754 |
//!
//! The header is [`HEADER_BYTES`] = 40 bytes. The CRC-32 is the common one (IEEE 802.3,
//! reflected, as zlib's `crc32`), so a host tool can check a blob with `zlib.crc32`.

mod blob;
#[cfg(feature = "safetensors")]
mod check;
mod embed;
#[cfg(feature = "safetensors")]
mod pytorch;

pub use blob::{
    BlobError, FORMAT_VERSION, HEADER_BYTES, INT8_TAG, MAGIC, blob_bytes, from_bytes,
    int8_blob_bytes, int8_from_bytes, int8_to_bytes, to_bytes,
};
#[doc(hidden)]
pub use embed::{blob_problem, int8_blob_problem};
pub use embed::{params_from_blob, state_from_blob};
#[cfg(feature = "safetensors")]
pub use pytorch::{LoadError, LoadOptions, load_safetensors, save_safetensors};

use core::fmt;

use crate::summary::LayerInfo;

/// Where a [`Tensor`]'s values live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Place {
    /// In the layer's learnable parameters ([`Layer::Params`](crate::Layer::Params)).
    Params,
    /// In the layer's persistent state ([`Layer::State`](crate::Layer::State)).
    State,
    /// Nowhere: an integer counter PyTorch keeps and staticnn does not (batch norm's
    /// `num_batches_tracked`). It is written as a 64-bit integer zero and, when a file
    /// holds it, must be of an integer dtype; its value is ignored.
    Counter,
}

/// One tensor of a layer, as PyTorch names and shapes it.
///
/// The tensor's values are the `len()` scalars at `offset` in the layer's
/// [`Params`](Place::Params) or [`State`](Place::State). They are stored in row-major
/// (C) order of `shape`, as PyTorch stores them, unless `column_major` is set: then each
/// matrix formed by the last two axes is stored column by column, as nalgebra stores an
/// `SMatrix` (a `Linear` weight of shape `[out, in]` is an `out × in` nalgebra matrix).
///
/// Build one with [`Tensor::params`], [`Tensor::state`] or [`Tensor::counter`]:
///
/// ```
/// use staticnn::io::Tensor;
/// const OUT: usize = 3;
/// const IN: usize = 4;
/// // A `Linear` layer's tensors.
/// const TENSORS: &[Tensor] = &[
///     Tensor::params("weight", 0, &[OUT, IN]).column_major(),
///     Tensor::params("bias", OUT * IN, &[OUT]),
/// ];
/// assert_eq!(TENSORS[0].len(), 12);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Tensor {
    /// The name PyTorch gives it within its module (`weight`, `bias`, `running_mean`).
    pub name: &'static str,
    /// Where the values live.
    pub place: Place,
    /// Offset of the first value, in scalars, within the layer's `Params` or `State`.
    pub offset: usize,
    /// PyTorch's shape (`[out, in]` for a `Linear` weight; `[]` for a scalar).
    pub shape: &'static [usize],
    /// Whether each matrix of the last two axes is stored column-major (see above).
    pub column_major: bool,
}

impl Tensor {
    /// A tensor of learnable parameters, stored row-major.
    pub const fn params(name: &'static str, offset: usize, shape: &'static [usize]) -> Self {
        Tensor {
            name,
            place: Place::Params,
            offset,
            shape,
            column_major: false,
        }
    }

    /// A tensor of persistent state, stored row-major.
    pub const fn state(name: &'static str, offset: usize, shape: &'static [usize]) -> Self {
        Tensor {
            name,
            place: Place::State,
            offset,
            shape,
            column_major: false,
        }
    }

    /// A PyTorch counter that staticnn does not keep (see [`Place::Counter`]); shape `[]`.
    pub const fn counter(name: &'static str) -> Self {
        Tensor {
            name,
            place: Place::Counter,
            offset: 0,
            shape: &[],
            column_major: false,
        }
    }

    /// The same tensor, with each matrix of its last two axes stored column-major.
    pub const fn column_major(self) -> Self {
        Tensor {
            column_major: true,
            ..self
        }
    }

    /// Number of values: the product of the shape (1 for a scalar of shape `[]`); 0 for a
    /// [`Counter`](Place::Counter), which has no values in the network.
    pub const fn len(&self) -> usize {
        if matches!(self.place, Place::Counter) {
            return 0;
        }
        let mut n = 1;
        let mut i = 0;
        while i < self.shape.len() {
            n *= self.shape[i];
            i += 1;
        }
        n
    }

    /// Whether the tensor holds no values in the network.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where element `i` of the tensor, counted in row-major order of [`shape`](Self::shape)
    /// (PyTorch's order), is stored, counted from [`offset`](Self::offset).
    pub const fn storage_index(&self, i: usize) -> usize {
        let d = self.shape.len();
        if !self.column_major || d < 2 {
            return i;
        }
        let (rows, cols) = (self.shape[d - 2], self.shape[d - 1]);
        let matrix = rows * cols;
        let (m, within) = (i / matrix, i % matrix);
        let (r, c) = (within / cols, within % cols);
        m * matrix + c * rows + r
    }

    /// The tensors of a layer that does not describe its own: its parameters as one tensor
    /// `params` of shape `[params]` and its state as one tensor `state` of shape `[state]`,
    /// each left out when empty. The default of
    /// [`Layer::TENSORS`](crate::Layer::TENSORS).
    #[doc(hidden)]
    pub const fn fallback(both: &'static [Tensor; 2]) -> &'static [Tensor] {
        let all: &'static [Tensor] = both;
        let skip_params = if both[0].is_empty() { 1 } else { 0 };
        let (_, rest) = all.split_at(skip_params);
        let keep = if both[1].is_empty() {
            rest.len() - 1
        } else {
            rest.len()
        };
        let (kept, _) = rest.split_at(keep);
        kept
    }
}

/// How a layer's tensors are keyed in a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Naming {
    /// By position, as `nn.Sequential` keys them: `0.weight`, `3.bias`, `3.body.0.weight`
    /// inside a residual block. Every item of the declaration has a position, activations
    /// and dropout included.
    #[default]
    Sequential,
    /// By name for the layers declared with one (`fc1.weight`), by position for the others.
    Names,
}

/// The module key of one layer: its position in the network, or a declared name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModuleKey {
    /// The layer's position, as `nn.Sequential` keys it ([`LayerInfo::path`]): `3`, or
    /// `3.body.0` inside a residual block.
    Path(&'static str),
    /// The layer's declared name (inside a named residual block, `res.body.0`).
    Name(&'static str),
}

impl ModuleKey {
    /// The key of the layer described by `info` under `naming`.
    pub const fn of(info: &LayerInfo, naming: Naming) -> Self {
        match naming {
            Naming::Names if info.named => ModuleKey::Name(info.name),
            _ => ModuleKey::Path(info.path),
        }
    }
}

impl fmt::Display for ModuleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModuleKey::Path(p) => f.write_str(p),
            ModuleKey::Name(n) => f.write_str(n),
        }
    }
}

/// One tensor of a network, as [`tensors`] lists them. It displays as its key in a file,
/// `3.weight`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NetTensor {
    /// The layer's position in the network.
    pub layer: usize,
    /// The layer's module key.
    pub key: ModuleKey,
    /// The tensor.
    pub tensor: &'static Tensor,
    /// Offset of the tensor's first value in the network's whole parameter block (for
    /// [`Place::Params`]) or state block (for [`Place::State`]), in scalars.
    pub offset: usize,
}

impl fmt::Display for NetTensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.key, self.tensor.name)
    }
}

/// Every tensor of a network with the layers `layers` (a network's
/// [`LAYERS`](crate::Network::LAYERS)), in layer order, keyed by `naming`.
///
/// ```
/// use staticnn::prelude::*;
/// use staticnn::io::{Naming, tensors};
///
/// network! {
///     struct Net { input: 4, fc1: Linear(8), ReLU, BatchNorm, Linear(2) }
/// }
/// let keys: Vec<String> = tensors(<Net as Network<f32, 4, 2>>::LAYERS, Naming::Sequential)
///     .map(|t| t.to_string())
///     .collect();
/// assert_eq!(keys, [
///     "0.weight", "0.bias", "2.weight", "2.bias", "2.running_mean", "2.running_var",
///     "2.num_batches_tracked", "3.weight", "3.bias",
/// ]);
/// let named = tensors(<Net as Network<f32, 4, 2>>::LAYERS, Naming::Names).next().unwrap();
/// assert_eq!(named.to_string(), "fc1.weight");
/// ```
pub fn tensors(
    layers: &'static [LayerInfo],
    naming: Naming,
) -> impl Iterator<Item = NetTensor> + Clone {
    layers
        .iter()
        .enumerate()
        .scan((0usize, 0usize), |(params, state), (index, info)| {
            let bases = (*params, *state);
            *params += info.params;
            *state += info.state;
            Some((index, info, bases))
        })
        .flat_map(move |(index, info, (params, state))| {
            info.tensors.iter().map(move |tensor| NetTensor {
                layer: index,
                key: ModuleKey::of(info, naming),
                tensor,
                offset: tensor.offset
                    + match tensor.place {
                        Place::Params => params,
                        Place::State => state,
                        Place::Counter => 0,
                    },
            })
        })
}

/// The architecture fingerprint of a network with the layers `layers`: 64-bit FNV-1a over
/// each layer's kind, input and output widths, and numbers of parameters and state
/// scalars, in order, and for a layer inside a residual block its module key (`3.body.0`,
/// so that a block's body and projection are told apart). Names, hyperparameters (slopes,
/// `eps`) and the scalar type do not enter it. Every network has it as a `FINGERPRINT` constant; the blob header records it.
pub const fn fingerprint(layers: &[LayerInfo]) -> u64 {
    const fn contains_dot(s: &str) -> bool {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'.' {
                return true;
            }
            i += 1;
        }
        false
    }
    let mut h = Fnv::new();
    h = h.word(layers.len() as u64);
    let mut l = 0;
    while l < layers.len() {
        let info = &layers[l];
        h = h.bytes(info.kind.as_bytes()).byte(0xff);
        h = h.word(info.inputs as u64);
        h = h.word(info.outputs as u64);
        h = h.word(info.params as u64);
        h = h.word(info.state as u64);
        if contains_dot(info.path) {
            h = h.bytes(info.path.as_bytes()).byte(0xff);
        }
        l += 1;
    }
    h.0
}

/// 64-bit FNV-1a, usable in constants.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    const fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    const fn byte(self, b: u8) -> Self {
        Fnv((self.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
    }

    const fn bytes(mut self, bytes: &[u8]) -> Self {
        let mut i = 0;
        while i < bytes.len() {
            self = self.byte(bytes[i]);
            i += 1;
        }
        self
    }

    const fn word(self, w: u64) -> Self {
        self.bytes(&w.to_le_bytes())
    }
}

/// Reads and writes the scalars of a network as little-endian IEEE 754 bytes of width 4
/// (`f32`) or 8 (`f64`), bit for bit when the widths agree.
pub(crate) mod le {
    use crate::Scalar;

    /// Bytes of one `T` (4 or 8; any other scalar type fails to compile where it is used).
    pub(crate) const fn width<T: Scalar>() -> usize {
        let w = size_of::<T>();
        assert!(
            w == 4 || w == 8,
            "weights files hold f32 or f64 scalars only"
        );
        w
    }

    /// Writes `v` into `out` (of 4 or 8 bytes), converting when the widths differ.
    ///
    /// Only the safetensors functions convert (and the unit tests try it).
    /// The widths are compared at run time (a safetensors file may hold either): code that
    /// always writes `T`'s own width calls [`put_same`], which links no conversion.
    #[cfg(any(feature = "safetensors", test))]
    #[inline]
    pub(crate) fn put<T: Scalar>(v: T, out: &mut [u8]) {
        match out.len() {
            n if n == width::<T>() => put_same(v, out),
            4 => out.copy_from_slice(&(v.as_f64() as f32).to_le_bytes()),
            _ => out.copy_from_slice(&v.as_f64().to_le_bytes()),
        }
    }

    /// Reads a value from `bytes` (4 or 8 bytes), converting when the widths differ.
    ///
    /// As for [`put`], the widths are compared at run time: code that always reads `T`'s
    /// own width calls [`get_same`].
    #[cfg(any(feature = "safetensors", test))]
    #[inline]
    pub(crate) fn get<T: Scalar>(bytes: &[u8]) -> T {
        match bytes.len() {
            n if n == width::<T>() => get_same(bytes),
            4 => {
                let mut b4 = [0u8; 4];
                b4.copy_from_slice(bytes);
                T::of(f64::from(f32::from_le_bytes(b4)))
            }
            _ => {
                let mut b8 = [0u8; 8];
                b8.copy_from_slice(bytes);
                T::of(f64::from_le_bytes(b8))
            }
        }
    }

    /// Writes the bits of `v` into the first `width::<T>()` bytes of `out`, little-endian.
    ///
    /// The width is a constant of `T`, so only one arm is compiled in and no conversion
    /// between `f32` and `f64` is linked: on a core without double precision, the blob of
    /// an `f32` network is written and read without any soft-float `f64` routine
    /// (`embedded/check.sh` checks the firmware for `__aeabi_d2f` and the like).
    #[inline]
    pub(crate) fn put_same<T: Scalar>(v: T, out: &mut [u8]) {
        if const { width::<T>() == 4 } {
            out[..4].copy_from_slice(&bytemuck::cast::<T, u32>(v).to_le_bytes());
        } else {
            out[..8].copy_from_slice(&bytemuck::cast::<T, u64>(v).to_le_bytes());
        }
    }

    /// Reads a `T` from its bits in the first `width::<T>()` bytes of `bytes`,
    /// little-endian; like [`put_same`], without any conversion.
    #[inline]
    pub(crate) fn get_same<T: Scalar>(bytes: &[u8]) -> T {
        if const { width::<T>() == 4 } {
            let mut b = [0u8; 4];
            b.copy_from_slice(&bytes[..4]);
            bytemuck::cast::<u32, T>(u32::from_le_bytes(b))
        } else {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[..8]);
            bytemuck::cast::<u64, T>(u64::from_le_bytes(b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_index_of_column_major_matrices() {
        // Two 2×3 matrices, each stored column-major.
        let t = Tensor::params("w", 0, &[2, 2, 3]).column_major();
        // Row-major element [m, r, c] = m·6 + r·3 + c; stored at m·6 + c·2 + r.
        assert_eq!(t.storage_index(0), 0);
        assert_eq!(t.storage_index(1), 2); // [0, 0, 1]
        assert_eq!(t.storage_index(3), 1); // [0, 1, 0]
        assert_eq!(t.storage_index(5), 5); // [0, 1, 2]
        assert_eq!(t.storage_index(7), 8); // [1, 0, 1]
        let v = Tensor::params("b", 0, &[4]).column_major();
        assert_eq!(v.storage_index(3), 3);
    }

    #[test]
    fn fallback_drops_empty_tensors() {
        const BOTH: [Tensor; 2] = [
            Tensor::params("params", 0, &[3]),
            Tensor::state("state", 0, &[2]),
        ];
        const NO_STATE: [Tensor; 2] = [
            Tensor::params("params", 0, &[3]),
            Tensor::state("state", 0, &[0]),
        ];
        const NO_PARAMS: [Tensor; 2] = [
            Tensor::params("params", 0, &[0]),
            Tensor::state("state", 0, &[2]),
        ];
        const NONE: [Tensor; 2] = [
            Tensor::params("params", 0, &[0]),
            Tensor::state("state", 0, &[0]),
        ];
        assert_eq!(Tensor::fallback(&BOTH).len(), 2);
        assert_eq!(Tensor::fallback(&NO_STATE)[..], BOTH[..1]);
        assert_eq!(Tensor::fallback(&NO_PARAMS)[..], BOTH[1..]);
        assert!(Tensor::fallback(&NONE).is_empty());
    }

    #[test]
    fn scalars_round_trip_bit_for_bit() {
        let mut b = [0u8; 4];
        le::put(f32::from_bits(0x7fc0_1234), &mut b);
        assert_eq!(le::get::<f32>(&b).to_bits(), 0x7fc0_1234);
        let mut b = [0u8; 8];
        le::put(-0.0f64, &mut b);
        assert_eq!(le::get::<f64>(&b).to_bits(), (-0.0f64).to_bits());
        le::put(0.1f32, &mut b);
        assert_eq!(le::get::<f32>(&b), 0.1f32);
        assert_eq!(le::get::<f64>(&b), 0.1f32 as f64);
    }
}
