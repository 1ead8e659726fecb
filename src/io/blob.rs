//! The compact blob: a network's parameter and state blocks behind a small header, for
//! firmware. No allocation, no dependencies.
//!
//! The layout is documented in the [module docs of `io`](super#blob-layout-format-version-1).

use core::fmt;

use super::le;
use crate::quant::QNetwork;
use crate::{Network, Scalar, block};

/// The first four bytes of every blob.
pub const MAGIC: [u8; 4] = *b"SNNB";
/// The blob format this version of staticnn writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Bytes of the blob header; the payload follows it.
pub const HEADER_BYTES: usize = 40;

/// Bytes of the blob of a network of type `N` (every network also has it as
/// `BLOB_BYTES`): the header, then every parameter and state scalar (not the blocks'
/// padding, see [`block`](crate::block)).
pub const fn blob_bytes<T: Scalar, N: Network<T, IN, OUT>, const IN: usize, const OUT: usize>()
-> usize {
    let (params, state) = scalars(N::LAYERS);
    HEADER_BYTES + (params + state) * size_of::<T>()
}

/// Why a blob could not be written or read. The network is unchanged in every case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlobError {
    /// [`to_bytes`]: the output buffer is too small.
    BufferTooSmall {
        /// Bytes the blob needs.
        needed: usize,
        /// Bytes the buffer has.
        found: usize,
    },
    /// The bytes are fewer (truncated) or more than this network's blob.
    WrongLength {
        /// Bytes of this network's blob.
        expected: usize,
        /// Bytes given.
        found: usize,
    },
    /// The bytes do not start with [`MAGIC`]: this is not a staticnn blob.
    NotABlob,
    /// The blob is of a format version this staticnn does not read.
    UnsupportedVersion {
        /// The version in the blob.
        found: u16,
    },
    /// The header's checksum does not match: the header is corrupt.
    CorruptHeader,
    /// The reserved header byte (byte 7) is not zero, as format version 1 requires.
    ReservedNotZero {
        /// The byte in the blob.
        found: u8,
    },
    /// The payload's checksum does not match: the parameters are corrupt.
    CorruptPayload,
    /// The blob holds scalars of another type (`f64` for an `f32` network, or the reverse).
    WrongScalar {
        /// Bytes per scalar of this network.
        expected: u8,
        /// Bytes per scalar in the blob.
        found: u8,
    },
    /// The blob was made by a network of another architecture (other layers, widths or
    /// parameter counts).
    WrongArchitecture {
        /// This network's fingerprint.
        expected: u64,
        /// The fingerprint in the blob.
        found: u64,
    },
    /// The blob holds another kind of network: an int8 network's blob (kind tag
    /// [`INT8_TAG`] in byte 6) given to a float network, or a float network's blob given
    /// to an int8 network.
    WrongKind {
        /// Byte 6 this network writes ([`INT8_TAG`], or the bytes of its scalar).
        expected: u8,
        /// Byte 6 of the blob.
        found: u8,
    },
}

/// Byte 6 of the blob of an int8 network (a float network's blob has 4 or 8 there).
pub const INT8_TAG: u8 = 1;

fn scalar_name(bytes: u8) -> &'static str {
    match bytes {
        4 => "f32",
        8 => "f64",
        INT8_TAG => "int8",
        _ => "unknown",
    }
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BlobError::BufferTooSmall { needed, found } => write!(
                f,
                "the output buffer holds {found} bytes, but the blob needs {needed}"
            ),
            BlobError::WrongLength { expected, found } if found < expected => write!(
                f,
                "the blob is truncated: {found} bytes, but this network's blob is {expected}"
            ),
            BlobError::WrongLength { expected, found } => write!(
                f,
                "the blob is {found} bytes, but this network's blob is {expected}"
            ),
            BlobError::NotABlob => {
                f.write_str("not a staticnn blob (it does not start with `SNNB`)")
            }
            BlobError::UnsupportedVersion { found } => write!(
                f,
                "blob format version {found} is not supported (this staticnn reads version {FORMAT_VERSION})"
            ),
            BlobError::CorruptHeader => {
                f.write_str("the blob header is corrupt (checksum mismatch)")
            }
            BlobError::ReservedNotZero { found } => write!(
                f,
                "the blob header's reserved byte 7 is {found:#04x}, but must be 0 in format version {FORMAT_VERSION}"
            ),
            BlobError::CorruptPayload => {
                f.write_str("the blob's parameters are corrupt (checksum mismatch)")
            }
            BlobError::WrongScalar { expected, found } => write!(
                f,
                "the blob holds {} scalars ({found} bytes each), but the network computes in {} ({expected} bytes)",
                scalar_name(found),
                scalar_name(expected)
            ),
            BlobError::WrongKind { expected, found } => write!(
                f,
                "the blob holds a network of kind {} (byte 6 = {found}), but this network is of kind {}",
                scalar_name(found),
                scalar_name(expected)
            ),
            BlobError::WrongArchitecture { expected, found } => write!(
                f,
                "the blob is for another architecture (fingerprint {found:#018x}; this network's is {expected:#018x})"
            ),
        }
    }
}

impl core::error::Error for BlobError {}

/// Writes the blob of `net` into the start of `out` and returns its length
/// ([`blob_bytes`], the network's `BLOB_BYTES`).
///
/// ```
/// use staticnn::prelude::*;
/// use staticnn::io::{from_bytes, to_bytes};
/// use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};
///
/// network! { struct Net { input: 3, Linear(4), ReLU, Linear(2) } }
///
/// let net = Net::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(1));
/// let mut flash = [0u8; Net::<f32>::BLOB_BYTES];
/// let n = to_bytes(&net, &mut flash)?;
/// assert_eq!(n, 40 + 4 * (3 * 4 + 4 + 4 * 2 + 2));
///
/// let mut copy = Net::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(2));
/// from_bytes(&mut copy, &flash)?;
/// assert_eq!(copy, net);
/// # Ok::<(), staticnn::io::BlobError>(())
/// ```
///
/// # Errors
///
/// [`BlobError::BufferTooSmall`] when `out` is shorter than the blob; nothing is written.
pub fn to_bytes<T, N, const IN: usize, const OUT: usize>(
    net: &N,
    out: &mut [u8],
) -> Result<usize, BlobError>
where
    T: Scalar,
    N: Network<T, IN, OUT>,
{
    let w = const { le::width::<T>() };
    let (n_params, n_state) = const { scalars(N::LAYERS) };
    let params = &block::as_slice::<T, _>(net.params())[..n_params];
    let state = &block::as_slice::<T, _>(net.state())[..n_state];
    let total = HEADER_BYTES + (params.len() + state.len()) * w;
    let found = out.len();
    let Some(out) = out.get_mut(..total) else {
        return Err(BlobError::BufferTooSmall {
            needed: total,
            found,
        });
    };
    let (header, payload) = out.split_at_mut(HEADER_BYTES);
    for (bytes, &v) in payload.chunks_exact_mut(w).zip(params.iter().chain(state)) {
        le::put_same(v, bytes);
    }
    header[0..4].copy_from_slice(&MAGIC);
    header[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[6] = w as u8;
    header[7] = 0;
    header[8..16].copy_from_slice(&const { super::fingerprint(N::LAYERS) }.to_le_bytes());
    header[16..24].copy_from_slice(&(params.len() as u64).to_le_bytes());
    header[24..32].copy_from_slice(&(state.len() as u64).to_le_bytes());
    header[32..36].copy_from_slice(&crc32(payload).to_le_bytes());
    let header_crc = crc32(&header[..36]);
    header[36..40].copy_from_slice(&header_crc.to_le_bytes());
    Ok(total)
}

/// Reads a blob written by [`to_bytes`] into `net`, after checking all of it.
///
/// # Errors
///
/// In the order checked: [`WrongLength`](BlobError::WrongLength) when `bytes` is shorter
/// than a header, [`NotABlob`](BlobError::NotABlob),
/// [`UnsupportedVersion`](BlobError::UnsupportedVersion),
/// [`CorruptHeader`](BlobError::CorruptHeader),
/// [`ReservedNotZero`](BlobError::ReservedNotZero), [`WrongScalar`](BlobError::WrongScalar),
/// [`WrongArchitecture`](BlobError::WrongArchitecture),
/// [`WrongLength`](BlobError::WrongLength) when the payload is cut short or followed by
/// more bytes, and [`CorruptPayload`](BlobError::CorruptPayload). `net` is only written
/// once every check has passed, so it is unchanged on any error.
///
/// Every byte is checked, so a blob that loads is byte for byte the blob that
/// [`to_bytes`] writes for the loaded network.
pub fn from_bytes<T, N, const IN: usize, const OUT: usize>(
    net: &mut N,
    bytes: &[u8],
) -> Result<(), BlobError>
where
    T: Scalar,
    N: Network<T, IN, OUT>,
{
    let w = const { le::width::<T>() };
    let (n_params, n_state) = const { scalars(N::LAYERS) };
    let expected_len = HEADER_BYTES + (n_params + n_state) * w;
    let wrong_length = BlobError::WrongLength {
        expected: expected_len,
        found: bytes.len(),
    };
    let Some((header, payload)) = bytes.split_at_checked(HEADER_BYTES) else {
        return Err(wrong_length);
    };
    if header[0..4] != MAGIC {
        return Err(BlobError::NotABlob);
    }
    let version = u16::from_le_bytes([header[4], header[5]]);
    if version != FORMAT_VERSION {
        return Err(BlobError::UnsupportedVersion { found: version });
    }
    if crc32(&header[..36]) != u32_at(header, 36) {
        return Err(BlobError::CorruptHeader);
    }
    if header[7] != 0 {
        return Err(BlobError::ReservedNotZero { found: header[7] });
    }
    if header[6] == INT8_TAG {
        return Err(BlobError::WrongKind {
            expected: w as u8,
            found: header[6],
        });
    }
    if usize::from(header[6]) != w {
        return Err(BlobError::WrongScalar {
            expected: w as u8,
            found: header[6],
        });
    }
    let fingerprint = const { super::fingerprint(N::LAYERS) };
    let found = u64_at(header, 8);
    if found != fingerprint
        || u64_at(header, 16) != n_params as u64
        || u64_at(header, 24) != n_state as u64
    {
        return Err(BlobError::WrongArchitecture {
            expected: fingerprint,
            found,
        });
    }
    if bytes.len() != expected_len {
        return Err(wrong_length);
    }
    if crc32(payload) != u32_at(header, 32) {
        return Err(BlobError::CorruptPayload);
    }
    let (p, s) = payload.split_at(n_params * w);
    for (v, b) in block::as_mut_slice::<T, _>(net.params_mut())
        .iter_mut()
        .zip(p.chunks_exact(w))
    {
        *v = le::get_same(b);
    }
    for (v, b) in block::as_mut_slice::<T, _>(net.state_mut())
        .iter_mut()
        .zip(s.chunks_exact(w))
    {
        *v = le::get_same(b);
    }
    Ok(())
}

/// Bytes of the blob of the int8 network `N` (every generated `NameInt8` also has it as
/// `BLOB_BYTES`): the header, then the payload of [`QNetwork::PAYLOAD_BYTES`].
pub const fn int8_blob_bytes<N: QNetwork>() -> usize {
    HEADER_BYTES + N::PAYLOAD_BYTES
}

/// Writes the blob of an int8 network (`NameInt8`) into the start of `out` and returns its
/// length ([`int8_blob_bytes`]). The header is a float blob's with byte 6 = [`INT8_TAG`],
/// the fingerprint of the integer layers, the payload's length in bytes (bytes 16..24) and
/// 0 (bytes 24..32); the payload is the input's scale and zero point, then each layer's
/// bytes ([`QLayer`](crate::quant::QLayer)).
///
/// # Errors
///
/// [`BlobError::BufferTooSmall`] when `out` is shorter than the blob; nothing is written.
pub fn int8_to_bytes<N: QNetwork>(net: &N, out: &mut [u8]) -> Result<usize, BlobError> {
    let total = int8_blob_bytes::<N>();
    let found = out.len();
    let Some(out) = out.get_mut(..total) else {
        return Err(BlobError::BufferTooSmall {
            needed: total,
            found,
        });
    };
    let (header, payload) = out.split_at_mut(HEADER_BYTES);
    net.write_payload(payload);
    header[0..4].copy_from_slice(&MAGIC);
    header[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[6] = INT8_TAG;
    header[7] = 0;
    header[8..16].copy_from_slice(&N::FINGERPRINT.to_le_bytes());
    header[16..24].copy_from_slice(&(N::PAYLOAD_BYTES as u64).to_le_bytes());
    header[24..32].copy_from_slice(&0u64.to_le_bytes());
    header[32..36].copy_from_slice(&crc32(payload).to_le_bytes());
    let header_crc = crc32(&header[..36]);
    header[36..40].copy_from_slice(&header_crc.to_le_bytes());
    Ok(total)
}

/// Reads a blob written by [`int8_to_bytes`] into `net`, after checking all of it.
///
/// # Errors
///
/// As [`from_bytes`], in the same order, with [`WrongKind`](BlobError::WrongKind) in
/// place of [`WrongScalar`](BlobError::WrongScalar) (a float network's blob), and
/// [`CorruptPayload`](BlobError::CorruptPayload) also for a payload whose checksum matches
/// but whose values the forward pass cannot use (a scale that is not positive and finite,
/// a zero point outside int8, a shift outside `−31..=30`, an empty output range). `net` is
/// unchanged on any error.
pub fn int8_from_bytes<N: QNetwork>(net: &mut N, bytes: &[u8]) -> Result<(), BlobError> {
    let expected_len = int8_blob_bytes::<N>();
    let wrong_length = BlobError::WrongLength {
        expected: expected_len,
        found: bytes.len(),
    };
    let Some((header, payload)) = bytes.split_at_checked(HEADER_BYTES) else {
        return Err(wrong_length);
    };
    if header[0..4] != MAGIC {
        return Err(BlobError::NotABlob);
    }
    let version = u16::from_le_bytes([header[4], header[5]]);
    if version != FORMAT_VERSION {
        return Err(BlobError::UnsupportedVersion { found: version });
    }
    if crc32(&header[..36]) != u32_at(header, 36) {
        return Err(BlobError::CorruptHeader);
    }
    if header[7] != 0 {
        return Err(BlobError::ReservedNotZero { found: header[7] });
    }
    if header[6] != INT8_TAG {
        return Err(BlobError::WrongKind {
            expected: INT8_TAG,
            found: header[6],
        });
    }
    let found = u64_at(header, 8);
    if found != N::FINGERPRINT
        || u64_at(header, 16) != N::PAYLOAD_BYTES as u64
        || u64_at(header, 24) != 0
    {
        return Err(BlobError::WrongArchitecture {
            expected: N::FINGERPRINT,
            found,
        });
    }
    if bytes.len() != expected_len {
        return Err(wrong_length);
    }
    if crc32(payload) != u32_at(header, 32) || !N::check_payload(payload) {
        return Err(BlobError::CorruptPayload);
    }
    net.read_payload(payload);
    Ok(())
}

/// The parameters and state values the layers hold, which a blob stores: the blocks may hold
/// a few more, the padding to whole cache lines that x86-64 gives them (zero, and not part of
/// the model), so that a blob is the same on every target.
const fn scalars(layers: &[crate::LayerInfo]) -> (usize, usize) {
    let (mut params, mut state, mut k) = (0, 0, 0);
    while k < layers.len() {
        params += layers[k].params;
        state += layers[k].state;
        k += 1;
    }
    (params, state)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

/// CRC-32 (IEEE 802.3, reflected polynomial `0xEDB88320`), as zlib's `crc32`; four bits at a
/// time from a 16-entry table, small enough for any flash.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 16] = {
        let mut t = [0u32; 16];
        let mut i = 0;
        while i < 16 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 4 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut c = !0u32;
    for &b in bytes {
        c = (c >> 4) ^ TABLE[((c ^ u32::from(b)) & 0xf) as usize];
        c = (c >> 4) ^ TABLE[((c ^ u32::from(b >> 4)) & 0xf) as usize];
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::crc32;

    #[test]
    fn crc32_matches_zlib() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }
}
