//! A network as a `const` or `static` from a blob embedded with `include_bytes!`, checked
//! at compile time: [`network_from_blob!`](crate::network_from_blob),
//! [`params_from_blob`], [`state_from_blob`]; an int8 network (`NameInt8`) with
//! [`int8_network_from_blob!`](crate::int8_network_from_blob).

use super::blob::{FORMAT_VERSION, HEADER_BYTES, INT8_TAG, MAGIC};
use crate::quant::QNetwork;
use crate::{Network, Scalar};

/// CRC-32 of `bytes`, as the blob's (`blob::crc32`), bit by bit: it runs in `const`
/// evaluation only, so it needs no table.
const fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    let mut i = 0;
    while i < bytes.len() {
        c ^= bytes[i] as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
            k += 1;
        }
        i += 1;
    }
    !c
}

const fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = 0u64;
    let mut k = 8;
    while k > 0 {
        k -= 1;
        v = (v << 8) | b[at + k] as u64;
    }
    v
}

const fn u32_at(b: &[u8], at: usize) -> u32 {
    u64_at(&[b[at], b[at + 1], b[at + 2], b[at + 3], 0, 0, 0, 0], 0) as u32
}

/// What is wrong with `blob` for a network of type `N`, checked as
/// [`from_bytes`](super::from_bytes) checks it (every byte), or the numbers of parameter and
/// state scalars. `const`, for [`network_from_blob!`](crate::network_from_blob), which
/// reports the problem as a compile error.
#[doc(hidden)]
pub const fn blob_problem<T: Scalar, N: Network<T, IN, OUT>, const IN: usize, const OUT: usize>(
    blob: &[u8],
) -> Result<(usize, usize), &'static str> {
    let w = size_of::<T>();
    if w != 4 && w != 8 {
        return Err("blobs hold f32 or f64 scalars only");
    }
    let mut params = 0;
    let mut state = 0;
    let mut k = 0;
    while k < N::LAYERS.len() {
        params += N::LAYERS[k].params;
        state += N::LAYERS[k].state;
        k += 1;
    }
    if blob.len() < HEADER_BYTES {
        return Err("this blob is shorter than a blob header (40 bytes)");
    }
    if !(blob[0] == MAGIC[0] && blob[1] == MAGIC[1] && blob[2] == MAGIC[2] && blob[3] == MAGIC[3]) {
        return Err("these bytes are not a staticnn blob (no `SNNB` magic)");
    }
    if blob[4] as u16 | (blob[5] as u16) << 8 != FORMAT_VERSION {
        return Err("this blob is of a format version this staticnn does not read");
    }
    let (header, payload) = blob.split_at(HEADER_BYTES);
    if crc32(header.split_at(36).0) != u32_at(header, 36) {
        return Err("this blob's header is corrupt (checksum)");
    }
    if header[7] != 0 {
        return Err("this blob's reserved byte is not zero");
    }
    if header[6] as usize != w {
        return Err("this blob holds scalars of another width than the network's (f32 / f64)");
    }
    if u64_at(header, 8) != super::fingerprint(N::LAYERS)
        || u64_at(header, 16) != params as u64
        || u64_at(header, 24) != state as u64
    {
        return Err("this blob is for another architecture than the network's (fingerprint)");
    }
    if payload.len() != (params + state) * w {
        return Err("this blob's length is not the network's `BLOB_BYTES`");
    }
    if crc32(payload) != u32_at(header, 32) {
        return Err("this blob's payload is corrupt (checksum)");
    }
    Ok((params, state))
}

/// [`blob_problem`], panicking with the problem.
const fn check<T: Scalar, N: Network<T, IN, OUT>, const IN: usize, const OUT: usize>(
    blob: &[u8],
) -> (usize, usize) {
    match blob_problem::<T, N, IN, OUT>(blob) {
        Ok(counts) => counts,
        Err(problem) => panic!("{}", problem),
    }
}

/// A block `P` (zeroed: the padding of x86-64 stays 0) whose first `count` scalars are read
/// from `bytes` (little-endian, `w` bytes each).
const fn block<P: bytemuck::Pod>(bytes: &[u8], count: usize, w: usize) -> P {
    assert!(
        count * w <= size_of::<P>(),
        "a block is smaller than its scalars"
    );
    // SAFETY: `P` is `Pod`: all zeros is a valid value.
    let mut out: P = unsafe { core::mem::zeroed() };
    let base = (&raw mut out).cast::<u8>();
    let mut i = 0;
    while i < count {
        let at = i * w;
        // SAFETY: `P` is a block of scalars of `w` bytes (aligned to `w`), and
        // `(i + 1)·w ≤ size_of::<P>()`, so the write is in bounds and aligned; every bit
        // pattern of an f32 or f64 is valid, and the integer of its bits is written in the
        // target's byte order.
        unsafe {
            if w == 4 {
                base.add(at).cast::<u32>().write(u32_at(bytes, at));
            } else {
                base.add(at).cast::<u64>().write(u64_at(bytes, at));
            }
        }
        i += 1;
    }
    out
}

/// The parameter block of a network of type `N` read from a blob written by
/// [`to_bytes`](super::to_bytes), in `const` evaluation: for a `const` or `static` network
/// in flash, without hand-written code. Every check of [`from_bytes`](super::from_bytes)
/// (magic, version, checksums, scalar width, architecture fingerprint, length) runs when it
/// is evaluated, so in a `const` or `static` a blob that does not fit the network is a
/// compile error saying why. Use it through
/// [`network_from_blob!`](crate::network_from_blob).
pub const fn params_from_blob<T, N, const IN: usize, const OUT: usize>(blob: &[u8]) -> N::Params
where
    T: Scalar,
    N: Network<T, IN, OUT>,
{
    let (params, _) = check::<T, N, IN, OUT>(blob);
    block(blob.split_at(HEADER_BYTES).1, params, size_of::<T>())
}

/// The state block of a network of type `N` read from a blob; as [`params_from_blob`].
pub const fn state_from_blob<T, N, const IN: usize, const OUT: usize>(blob: &[u8]) -> N::State
where
    T: Scalar,
    N: Network<T, IN, OUT>,
{
    let (params, state) = check::<T, N, IN, OUT>(blob);
    let w = size_of::<T>();
    block(blob.split_at(HEADER_BYTES + params * w).1, state, w)
}

/// A network declared with `network!`, as a constant value read from a blob (written by
/// [`io::to_bytes`](crate::io::to_bytes) and embedded with `include_bytes!`), in `const`
/// evaluation: the way to put trained weights in a microcontroller's flash without writing
/// any code per layer. The blob is checked as [`io::from_bytes`](crate::io::from_bytes)
/// checks it, at compile time: a blob of another architecture (fingerprint), scalar type or
/// length, or a corrupt one, fails the build with the reason. The hidden padding fields of
/// x86-64 are zeroed; the value is the network [`from_bytes`](crate::io::from_bytes) would
/// load, bit for bit, and the blob's bytes are not in the binary.
///
/// ```
/// use staticnn::prelude::*;
///
/// network! { pub struct Net { input: 2, Linear(3), Tanh, Linear(1) } }
///
/// // Written on the host with `io::to_bytes(&trained, &mut bytes)`; in flash, checked
/// // against `Net<f32>` when this is compiled.
/// static NET: Net<f32> =
///     staticnn::network_from_blob!(Net<f32>, include_bytes!("../../tests/fixtures/net-2-3-1.snnb"));
///
/// let y = NET.predict(&SVector::<f32, 2>::new(0.5, -0.5));
/// assert!(y[0].is_finite());
/// ```
#[macro_export]
macro_rules! network_from_blob {
    ($net:ty, $blob:expr $(,)?) => {
        const {
            type __StaticnnNet = $net;
            const __STATICNN_BLOB: &[u8] = $blob;
            if let ::core::result::Result::Err(problem) =
                $crate::io::blob_problem::<_, __StaticnnNet, _, _>(__STATICNN_BLOB)
            {
                ::core::panic!("{}", problem);
            }
            __StaticnnNet {
                params: $crate::io::params_from_blob::<_, __StaticnnNet, _, _>(__STATICNN_BLOB),
                state: $crate::io::state_from_blob::<_, __StaticnnNet, _, _>(__STATICNN_BLOB),
            }
        }
    };
}

/// What is wrong with `blob` for the int8 network `N` (a generated `NameInt8`), checked as
/// [`int8_from_bytes`](super::int8_from_bytes) checks it, in the same order, up to the
/// payload's checksum; the values are checked by the network's generated `const`
/// constructor. `const`, for [`int8_network_from_blob!`](crate::int8_network_from_blob),
/// which reports the problem as a compile error.
#[doc(hidden)]
pub const fn int8_blob_problem<N: QNetwork>(blob: &[u8]) -> Result<(), &'static str> {
    if blob.len() < HEADER_BYTES {
        return Err("this blob is shorter than a blob header (40 bytes)");
    }
    if !(blob[0] == MAGIC[0] && blob[1] == MAGIC[1] && blob[2] == MAGIC[2] && blob[3] == MAGIC[3]) {
        return Err("these bytes are not a staticnn blob (no `SNNB` magic)");
    }
    if blob[4] as u16 | (blob[5] as u16) << 8 != FORMAT_VERSION {
        return Err("this blob is of a format version this staticnn does not read");
    }
    let (header, payload) = blob.split_at(HEADER_BYTES);
    if crc32(header.split_at(36).0) != u32_at(header, 36) {
        return Err("this blob's header is corrupt (checksum)");
    }
    if header[7] != 0 {
        return Err("this blob's reserved byte is not zero");
    }
    if header[6] != INT8_TAG {
        return Err("this blob holds a float network, not an int8 network (kind tag)");
    }
    if u64_at(header, 8) != N::FINGERPRINT
        || u64_at(header, 16) != N::PAYLOAD_BYTES as u64
        || u64_at(header, 24) != 0
    {
        return Err("this blob is for another architecture than the int8 network's (fingerprint)");
    }
    if payload.len() != N::PAYLOAD_BYTES {
        return Err("this blob's length is not the int8 network's `BLOB_BYTES`");
    }
    if crc32(payload) != u32_at(header, 32) {
        return Err("this blob's payload is corrupt (checksum)");
    }
    Ok(())
}

/// An int8 network (`NameInt8`, made by `Name::<f32>::quantize`) as a constant value read
/// from its blob (written by [`io::int8_to_bytes`](crate::io::int8_to_bytes) and embedded
/// with `include_bytes!`), in `const` evaluation: the int8 weights in a microcontroller's
/// flash, as [`network_from_blob!`](crate::network_from_blob) puts float ones there. Every
/// check of [`io::int8_from_bytes`](crate::io::int8_from_bytes) runs at compile time: a
/// float network's blob (kind tag), another architecture (fingerprint), a wrong length, a
/// corrupt header or payload (checksums), and values the forward pass cannot use (a scale
/// that is not positive and finite, a zero point outside int8, a shift outside `−31..=30`,
/// an empty output range) each fail the build with the reason. The geometry of
/// convolutions and pooling, which the blob does not hold, comes from the network's
/// declaration. The value equals what `int8_from_bytes` loads.
///
/// A sibling of `network_from_blob!` rather than the same macro: which reader applies is
/// decided by the type, and `const` evaluation cannot call trait methods.
///
/// ```
/// use staticnn::prelude::*;
///
/// network! { pub struct Net { input: 2, Linear(3), Tanh, Linear(1) } }
///
/// // Written on the host with `io::int8_to_bytes(&net.quantize(calibration)?, &mut bytes)`.
/// static NET: NetInt8 = staticnn::int8_network_from_blob!(
///     NetInt8,
///     include_bytes!("../../tests/fixtures/net-2-3-1.i8.snnb")
/// );
///
/// let y = NET.forward_int8(&SMatrix::<i8, 2, 1>::new(10, -20));
/// assert_eq!(y.len(), 1);
/// ```
#[macro_export]
macro_rules! int8_network_from_blob {
    ($net:ty, $blob:expr $(,)?) => {
        const {
            type __StaticnnNet = $net;
            const __STATICNN_BLOB: &[u8] = $blob;
            if let ::core::result::Result::Err(problem) =
                $crate::io::int8_blob_problem::<__StaticnnNet>(__STATICNN_BLOB)
            {
                ::core::panic!("{}", problem);
            }
            match __StaticnnNet::__staticnn_from_payload(
                __STATICNN_BLOB.split_at($crate::io::HEADER_BYTES).1,
            ) {
                ::core::option::Option::Some(net) => net,
                ::core::option::Option::None => ::core::panic!(
                    "this blob's values cannot be used by the forward pass (a scale, zero point, shift or output range)"
                ),
            }
        }
    };
}
