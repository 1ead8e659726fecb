//! safetensors files as PyTorch writes and reads them (feature `safetensors`).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use safetensors::tensor::{Metadata, TensorInfo};
use safetensors::{Dtype, SafeTensorError, SafeTensors};

use super::{Naming, NetTensor, Place, check, le, tensors};
use crate::scalar::ShortFloat;
use crate::{Network, Scalar, block};

/// How [`load_safetensors`] reads a file.
///
/// ```
/// use staticnn::io::{LoadOptions, Naming};
/// let options = LoadOptions::new()
///     .naming(Naming::Names)
///     .prefix("model.")
///     .reject_non_finite(true);
/// assert_eq!(options.prefix, "model.");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadOptions<'a> {
    /// How the file keys the layers. `None` (the default): as the file's metadata says
    /// (`staticnn.naming`, written by [`save_safetensors`]), or [`Naming::Sequential`] for
    /// a file without it (PyTorch's own). `Some(naming)`: that naming, and a file whose
    /// metadata records another one is refused ([`LoadError::NamingMismatch`]).
    pub naming: Option<Naming>,
    /// Only tensors whose keys start with this are read, with it removed: `"model."` reads
    /// `model.0.weight` as `0.weight`. Tensors without it are ignored. Default: empty, so
    /// that every tensor of the file must belong to the network.
    pub prefix: &'a str,
    /// Refuse a file in which a parameter or statistic is NaN or infinite (default: such
    /// values are loaded, as PyTorch loads them).
    pub reject_non_finite: bool,
}

impl LoadOptions<'static> {
    /// The defaults: the naming the file records (`nn.Sequential` keys if it records
    /// none), no prefix, non-finite values accepted.
    pub const fn new() -> Self {
        LoadOptions {
            naming: None,
            prefix: "",
            reject_non_finite: false,
        }
    }
}

impl Default for LoadOptions<'static> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> LoadOptions<'a> {
    /// Sets how the file keys the layers, and requires a file that records its naming to
    /// record this one (see [`LoadOptions::naming`](#structfield.naming)).
    pub const fn naming(self, naming: Naming) -> Self {
        LoadOptions {
            naming: Some(naming),
            ..self
        }
    }

    /// Reads only the tensors under `prefix` (see [`LoadOptions::prefix`](#structfield.prefix)).
    pub const fn prefix<'b>(self, prefix: &'b str) -> LoadOptions<'b> {
        LoadOptions {
            naming: self.naming,
            prefix,
            reject_non_finite: self.reject_non_finite,
        }
    }

    /// Whether to refuse NaN and infinite values.
    pub const fn reject_non_finite(self, reject: bool) -> Self {
        LoadOptions {
            reject_non_finite: reject,
            ..self
        }
    }
}

/// Why a safetensors file could not be loaded. The network is unchanged in every case.
///
/// Tensor names are the file's keys, prefix included.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum LoadError {
    /// The file ends early: within the 8-byte header length, the header, or the data.
    Truncated {
        /// Bytes the file must have at least.
        needed: usize,
        /// Bytes it has.
        found: usize,
    },
    /// Not a safetensors file, or a corrupt one: the header is not UTF-8 JSON of the
    /// safetensors form, its offsets do not tile the data, or bytes follow the data.
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// A tensor of the network is not in the file.
    MissingTensor {
        /// The key the network expected.
        name: String,
    },
    /// The file holds a tensor the network does not have (under the prefix).
    UnexpectedTensor {
        /// Its key.
        name: String,
    },
    /// A tensor has another shape than the network's.
    WrongShape {
        /// Its key.
        name: String,
        /// The network's shape (PyTorch's).
        expected: &'static [usize],
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A tensor is of a dtype that cannot be loaded: parameters and statistics must be
    /// `F32` or `F64`, a counter (`num_batches_tracked`) an integer dtype.
    WrongDtype {
        /// Its key.
        name: String,
        /// What the network accepts.
        expected: &'static str,
        /// The dtype in the file (`F16`, `BF16`, `I64`, …).
        found: String,
    },
    /// A value is NaN or infinite in the network's scalar type (only with
    /// [`LoadOptions::reject_non_finite`]): NaN or infinite in the file, or an `F64` value
    /// beyond the range of an `f32` network.
    NonFinite {
        /// The tensor's key.
        name: String,
        /// The element, counted in row-major order of the tensor's shape.
        index: usize,
        /// The value in the file.
        value: f64,
    },
    /// The options ask for one [`Naming`] ([`LoadOptions::naming`]), but the file's
    /// metadata (`staticnn.naming`) records the other.
    NamingMismatch {
        /// The naming the options ask for.
        requested: Naming,
        /// The naming the file records.
        file: Naming,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Truncated { needed, found } => write!(
                f,
                "the file is truncated: it has {found} bytes, but needs at least {needed}"
            ),
            LoadError::Malformed { reason } => {
                write!(f, "not a valid safetensors file: {reason}")
            }
            LoadError::MissingTensor { name } => {
                write!(f, "tensor `{name}` of the network is missing from the file")
            }
            LoadError::UnexpectedTensor { name } => write!(
                f,
                "the file holds tensor `{name}`, which the network does not have"
            ),
            LoadError::WrongShape {
                name,
                expected,
                found,
            } => write!(
                f,
                "tensor `{name}` has shape {found:?} in the file, but {expected:?} in the network"
            ),
            LoadError::WrongDtype {
                name,
                expected,
                found,
            } => write!(
                f,
                "tensor `{name}` is of dtype {found}, but must be {expected}"
            ),
            LoadError::NonFinite { name, index, value } => write!(
                f,
                "tensor `{name}` holds {} at element {index}, which is not finite in the network's scalar type",
                ShortFloat(*value)
            ),
            LoadError::NamingMismatch { requested, file } => write!(
                f,
                "the options ask for {} keys, but the file records that it was saved with {} keys \
                 (leave `LoadOptions::naming` unset to follow the file)",
                naming_label(*requested),
                naming_label(*file)
            ),
        }
    }
}

impl core::error::Error for LoadError {}

/// Length of the header-length field that starts every safetensors file.
const LEN_BYTES: usize = 8;

/// The metadata key under which [`save_safetensors`] records the naming.
const NAMING_KEY: &str = "staticnn.naming";

/// How a naming is spelled in the metadata.
const fn naming_tag(naming: Naming) -> &'static str {
    match naming {
        Naming::Sequential => "sequential",
        Naming::Names => "names",
    }
}

/// How a naming is called in messages.
const fn naming_label(naming: Naming) -> &'static str {
    match naming {
        Naming::Sequential => "`Naming::Sequential` (`0.weight`)",
        Naming::Names => "`Naming::Names` (`fc1.weight`)",
    }
}

/// The naming to load a file with: the file's (from its metadata) unless the options set
/// one, [`Naming::Sequential`] if neither does; an error if both do and disagree, or if the
/// file records a naming this library does not know.
fn resolve_naming(metadata: &Metadata, requested: Option<Naming>) -> Result<Naming, LoadError> {
    let recorded = metadata.metadata().as_ref().and_then(|m| m.get(NAMING_KEY));
    let file = match recorded.map(String::as_str) {
        None => None,
        Some(tag) => Some(
            [Naming::Sequential, Naming::Names]
                .into_iter()
                .find(|n| naming_tag(*n) == tag)
                .ok_or_else(|| LoadError::Malformed {
                    reason: format!(
                        "the metadata's `{NAMING_KEY}` is `{tag}`, not `sequential` or `names`"
                    ),
                })?,
        ),
    };
    match (requested, file) {
        (Some(requested), Some(file)) if requested != file => {
            Err(LoadError::NamingMismatch { requested, file })
        }
        (Some(naming), _) | (None, Some(naming)) => Ok(naming),
        (None, None) => Ok(Naming::Sequential),
    }
}

/// Loads the parameters and state of `net` from a safetensors file, as written by
/// `safetensors.torch.save_file(model.state_dict(), path)` for the matching PyTorch model
/// (or by [`save_safetensors`]).
///
/// Every tensor of the network must be in the file with the network's shape, of dtype
/// `F32` or `F64` (converted to `T`; rounded when an `F64` file is read into an `f32`
/// network); batch norm's `num_batches_tracked` may be missing and is ignored when present.
/// Under the [prefix](LoadOptions::prefix), the file may hold nothing else.
///
/// The whole file is checked before anything is written, so `net` is unchanged when an
/// error is returned; nothing is copied onto the stack, so `net` may be a large boxed
/// network.
///
/// ```
/// use staticnn::prelude::*;
/// use staticnn::io::{LoadError, LoadOptions, Naming, load_safetensors, save_safetensors};
/// use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
///
/// network! { struct Net { input: 3, fc: Linear(4), ReLU, Linear(2) } }
///
/// let net = Net::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(1));
/// let file = save_safetensors(&net, Naming::Sequential);
///
/// let mut copy = Net::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(2));
/// load_safetensors(&mut copy, &file, &LoadOptions::new())?;
/// assert_eq!(copy.params.fc.weight, net.params.fc.weight.cast::<f64>());
///
/// // The file records its naming: the default options follow it, and an explicit
/// // naming that contradicts it is refused.
/// let named = save_safetensors(&net, Naming::Names);
/// load_safetensors(&mut copy, &named, &LoadOptions::new())?;
/// let err = load_safetensors(&mut copy, &named, &LoadOptions::new().naming(Naming::Sequential));
/// assert_eq!(
///     err,
///     Err(LoadError::NamingMismatch { requested: Naming::Sequential, file: Naming::Names })
/// );
/// # Ok::<(), LoadError>(())
/// ```
///
/// # Errors
///
/// A [`LoadError`] naming what is wrong, in this order: the file's structure
/// ([`Truncated`](LoadError::Truncated), [`Malformed`](LoadError::Malformed)), the naming
/// ([`NamingMismatch`](LoadError::NamingMismatch), [`Malformed`](LoadError::Malformed) for
/// an unknown one), then [`MissingTensor`](LoadError::MissingTensor) in the network's order,
/// [`UnexpectedTensor`](LoadError::UnexpectedTensor) in the order of the keys, then
/// for each tensor in the network's order [`WrongDtype`](LoadError::WrongDtype),
/// [`WrongShape`](LoadError::WrongShape) and [`NonFinite`](LoadError::NonFinite).
pub fn load_safetensors<T, N, const IN: usize, const OUT: usize>(
    net: &mut N,
    bytes: &[u8],
    options: &LoadOptions<'_>,
) -> Result<(), LoadError>
where
    T: Scalar,
    N: Network<T, IN, OUT>,
{
    const { check::layout(N::LAYERS) };
    let _ = const { le::width::<T>() };
    let (header_len, metadata) =
        SafeTensors::read_metadata(bytes).map_err(|e| structure_error(e, bytes))?;
    let data = bytes.get(LEN_BYTES + header_len..).unwrap_or_default();
    let naming = resolve_naming(&metadata, options.naming)?;

    // The file's tensors under the prefix, by key without it.
    let names = metadata.offset_keys();
    let mut in_file: BTreeMap<&str, &TensorInfo> = BTreeMap::new();
    for name in &names {
        if let (Some(key), Some(info)) = (name.strip_prefix(options.prefix), metadata.info(name)) {
            in_file.insert(key, info);
        }
    }
    let full = |key: &str| format!("{}{key}", options.prefix);

    let wanted: Vec<(String, NetTensor)> = tensors(N::LAYERS, naming)
        .map(|t| (t.to_string(), t))
        .collect();
    for (key, t) in &wanted {
        if t.tensor.place != Place::Counter && !in_file.contains_key(key.as_str()) {
            return Err(LoadError::MissingTensor { name: full(key) });
        }
    }
    let known: BTreeSet<&str> = wanted.iter().map(|(k, _)| k.as_str()).collect();
    if let Some(key) = in_file.keys().find(|k| !known.contains(*k)) {
        return Err(LoadError::UnexpectedTensor { name: full(key) });
    }

    // Check every tensor, then copy them all.
    let mut plan: Vec<(&NetTensor, &[u8], usize)> = Vec::with_capacity(wanted.len());
    for (key, t) in &wanted {
        let Some(info) = in_file.get(key.as_str()) else {
            continue; // an absent counter
        };
        // `None` for a counter: its shape is checked like any other tensor's (PyTorch's
        // strict load refuses a `num_batches_tracked` of shape `[3]`), its value is not read.
        let width = match (t.tensor.place, info.dtype) {
            (Place::Counter, d) if is_integer(d) => None,
            (Place::Counter, d) => {
                return Err(LoadError::WrongDtype {
                    name: full(key),
                    expected: "an integer dtype",
                    found: d.to_string(),
                });
            }
            (_, Dtype::F32) => Some(4),
            (_, Dtype::F64) => Some(8),
            (_, d) => {
                return Err(LoadError::WrongDtype {
                    name: full(key),
                    expected: "F32 or F64",
                    found: d.to_string(),
                });
            }
        };
        if info.shape != t.tensor.shape {
            return Err(LoadError::WrongShape {
                name: full(key),
                expected: t.tensor.shape,
                found: info.shape.clone(),
            });
        }
        let Some(width) = width else {
            continue; // a counter of the right dtype and shape
        };
        let (start, end) = info.data_offsets;
        let raw = data
            .get(start..end)
            .filter(|raw| raw.len() == t.tensor.len() * width)
            .ok_or_else(|| LoadError::Malformed {
                reason: format!("the data of tensor `{}` is out of place", full(key)),
            })?;
        if options.reject_non_finite {
            // Checked after conversion to `T`: a finite F64 value beyond f32's range
            // becomes infinite in an f32 network.
            for (index, b) in raw.chunks_exact(width).enumerate() {
                if !le::get::<T>(b).is_finite() {
                    return Err(LoadError::NonFinite {
                        name: full(key),
                        index,
                        value: le::get::<f64>(b),
                    });
                }
            }
        }
        plan.push((t, raw, width));
    }

    let params = block::as_mut_slice::<T, _>(net.params_mut());
    copy_in(params, &plan, Place::Params);
    let state = block::as_mut_slice::<T, _>(net.state_mut());
    copy_in(state, &plan, Place::State);
    Ok(())
}

/// Copies the checked tensors of `place` into `block`.
fn copy_in<T: Scalar>(block: &mut [T], plan: &[(&NetTensor, &[u8], usize)], place: Place) {
    for &(t, raw, width) in plan.iter().filter(|(t, ..)| t.tensor.place == place) {
        for (i, b) in raw.chunks_exact(width).enumerate() {
            block[t.offset + t.tensor.storage_index(i)] = le::get(b);
        }
    }
}

fn is_integer(d: Dtype) -> bool {
    matches!(
        d,
        Dtype::I8
            | Dtype::I16
            | Dtype::I32
            | Dtype::I64
            | Dtype::U8
            | Dtype::U16
            | Dtype::U32
            | Dtype::U64
    )
}

/// Turns the safetensors crate's complaint about a file's structure into a [`LoadError`].
fn structure_error(e: SafeTensorError, bytes: &[u8]) -> LoadError {
    let found = bytes.len();
    let header_len = bytes
        .first_chunk::<LEN_BYTES>()
        .map(|b| u64::from_le_bytes(*b));
    let header_end = header_len
        .and_then(|n| usize::try_from(n).ok())
        .and_then(|n| n.checked_add(LEN_BYTES));
    let malformed = |reason: String| LoadError::Malformed { reason };
    match e {
        SafeTensorError::HeaderTooSmall => LoadError::Truncated {
            needed: LEN_BYTES,
            found,
        },
        SafeTensorError::InvalidHeaderLength => match header_end {
            Some(needed) if needed > found => LoadError::Truncated { needed, found },
            _ => malformed(format!(
                "the header length {} is invalid",
                header_len.unwrap_or_default()
            )),
        },
        SafeTensorError::HeaderTooLarge => malformed(format!(
            "the header length {} is over the 100 MB limit",
            header_len.unwrap_or_default()
        )),
        SafeTensorError::InvalidHeader(_) => malformed("the header is not UTF-8 text".into()),
        SafeTensorError::InvalidHeaderDeserialization(e) | SafeTensorError::JsonError(e) => {
            malformed(format!("the header is not a safetensors JSON header ({e})"))
        }
        SafeTensorError::MetadataIncompleteBuffer => {
            // The header is valid; compare the length it implies with the file's.
            let data_len = header_end
                .and_then(|end| bytes.get(LEN_BYTES..end))
                .and_then(|h| serde_json::from_slice::<Metadata>(h).ok())
                .map(|m| m.data_len());
            match (header_end, data_len) {
                (Some(end), Some(len)) if end.saturating_add(len) > found => LoadError::Truncated {
                    needed: end.saturating_add(len),
                    found,
                },
                (Some(end), Some(len)) => malformed(format!(
                    "{} bytes follow the end of the tensor data",
                    found - end - len
                )),
                _ => malformed("the data does not match the header".into()),
            }
        }
        SafeTensorError::InvalidOffset(name) => {
            malformed(format!("tensor `{name}` has invalid data offsets"))
        }
        SafeTensorError::TensorInvalidInfo => {
            malformed("a tensor's data offsets do not match its shape and dtype".into())
        }
        other => malformed(other.to_string()),
    }
}

/// Writes the parameters and state of `net` as a safetensors file that PyTorch loads into
/// the matching model with `model.load_state_dict(safetensors.torch.load_file(path))`
/// (`strict=True`): each tensor under its key (see [`Naming`]), in PyTorch's shape and
/// row-major order, as `F32` for an `f32` network and `F64` for an `f64` one. Batch norm's
/// `num_batches_tracked` is written as an `I64` zero, since staticnn does not count
/// batches (PyTorch reads it only for `momentum=None`, which staticnn does not have).
///
/// The file is the same for the same network, byte for byte. Tensors with 8-byte elements
/// come first, so that every tensor is aligned to its element size (as the `safetensors`
/// library lays them out), each group in layer order. The header's `__metadata__` records
/// `format` = `pt`, the network's name (`staticnn.network`), the naming (`staticnn.naming`:
/// `sequential` or `names`) and its layers (`staticnn.layers`: a JSON list of
/// `{"key", "kind", "in", "out", "params"}`), from which `scripts/check_in_pytorch.py`
/// rebuilds the PyTorch model.
pub fn save_safetensors<T, N, const IN: usize, const OUT: usize>(net: &N, naming: Naming) -> Vec<u8>
where
    T: Scalar,
    N: Network<T, IN, OUT>,
{
    const { check::layout(N::LAYERS) };
    let width = const { le::width::<T>() };
    let dtype = if width == 4 { "F32" } else { "F64" };
    let params = block::as_slice::<T, _>(net.params());
    let state = block::as_slice::<T, _>(net.state());
    // (element bytes, tensor): counters are I64 (8 bytes).
    let element = |t: &NetTensor| match t.tensor.place {
        Place::Counter => 8,
        _ => width,
    };
    let mut order: Vec<NetTensor> = tensors(N::LAYERS, naming).collect();
    order.sort_by_key(|t| core::cmp::Reverse(element(t))); // stable: layer order within

    let mut header = String::from("{\"__metadata__\":{");
    let metadata = [
        ("format", String::from("pt")),
        ("staticnn.layers", describe_layers(N::LAYERS, naming)),
        (NAMING_KEY, String::from(naming_tag(naming))),
        ("staticnn.network", String::from(N::NAME)),
    ];
    for (i, (k, v)) in metadata.iter().enumerate() {
        if i > 0 {
            header.push(',');
        }
        json_string(&mut header, k);
        header.push(':');
        json_string(&mut header, v);
    }
    header.push('}');
    let mut offset = 0;
    for t in &order {
        let bytes = match t.tensor.place {
            Place::Counter => 8,
            _ => t.tensor.len() * width,
        };
        header.push(',');
        json_string(&mut header, &t.to_string());
        let dtype = if t.tensor.place == Place::Counter {
            "I64"
        } else {
            dtype
        };
        header.push_str(&format!(":{{\"dtype\":\"{dtype}\",\"shape\":["));
        for (i, d) in t.tensor.shape.iter().enumerate() {
            if i > 0 {
                header.push(',');
            }
            header.push_str(&d.to_string());
        }
        header.push_str(&format!(
            "],\"data_offsets\":[{offset},{}]}}",
            offset + bytes
        ));
        offset += bytes;
    }
    header.push('}');
    // Pad with spaces so that the data starts 8-byte aligned, as the format recommends.
    while header.len() % 8 != 0 {
        header.push(' ');
    }

    let mut out = Vec::with_capacity(LEN_BYTES + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for t in &order {
        match t.tensor.place {
            Place::Counter => out.extend_from_slice(&0i64.to_le_bytes()),
            place => {
                let source = if place == Place::Params {
                    params
                } else {
                    state
                };
                let start = out.len();
                out.resize(start + t.tensor.len() * width, 0);
                for (i, b) in out[start..].chunks_exact_mut(width).enumerate() {
                    le::put(source[t.offset + t.tensor.storage_index(i)], b);
                }
            }
        }
    }
    out
}

/// The layers as a JSON list of `{"key", "kind", "in", "out", "params"}`.
fn describe_layers(layers: &'static [crate::LayerInfo], naming: Naming) -> String {
    let mut s = String::from("[");
    for (i, info) in layers.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str("{\"key\":");
        json_string(&mut s, &super::ModuleKey::of(info, naming).to_string());
        s.push_str(",\"kind\":");
        json_string(&mut s, info.kind);
        s.push_str(&format!(
            ",\"in\":{},\"out\":{},\"params\":{}}}",
            info.inputs, info.outputs, info.params
        ));
    }
    s.push(']');
    s
}

/// Appends `v` to `s` as a JSON string.
fn json_string(s: &mut String, v: &str) {
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if u32::from(c) < 0x20 => s.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => s.push(c),
        }
    }
    s.push('"');
}
