//! Int8 networks as `const`/`static` values read from their blobs in `const` evaluation
//! (`int8_network_from_blob!`): the value is what `io::int8_from_bytes` loads, it computes
//! the same outputs, and the compile-time reader refuses exactly the bytes the run-time
//! reader refuses. A blob that does not fit is a compile error
//! (`tests/ui/data/int8-blob-*`).
//!
//! The blobs under `tests/fixtures/*.i8*.snnb` are written by `int8_to_bytes` from seeded,
//! quantised networks: `STATICNN_WRITE_FIXTURES=1 cargo test --test io_const_int8` rewrites
//! them (the quantisation runs the float forward pass, whose last bits may depend on the
//! CPU's kernels, so the test checks that they load, not that they are today's bytes).

use staticnn::data::Dataset;
use staticnn::io::{self, BlobError};
use staticnn::nalgebra::SMatrix;
use staticnn::prelude::*;
use staticnn::quant::QNetwork;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};

network! { pub struct Small { input: 2, Linear(3), Tanh, Linear(1) } }

network! {
    /// Every kind of int8 entry: a convolution (batch norm folded, ReLU fused), max pooling
    /// with padding, a depthwise convolution, average pooling, a 1×1 convolution, global
    /// average pooling, a fully connected layer and a sigmoid table.
    pub struct Every {
        input: [2, 6, 6],
        c1: Conv2d(4, kernel = 3, padding = 1, bias = false),
        bn: BatchNorm,
        ReLU,
        mp: MaxPool2d(kernel = 2, stride = 1, padding = 1),
        dw: Conv2d(4, kernel = 3, groups = 4),
        ReLU,
        ap: AvgPool2d(kernel = 2, stride = 1),
        c2: Conv2d(3, kernel = 1),
        gap: GlobalAvgPool,
        Flatten,
        out: Linear(2),
        squash: Sigmoid,
    }
}

fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Calibration samples of width `N`, uniform on `[lo, lo + 3)`.
fn samples<const N: usize>(seed: u64, n: usize, lo: f32) -> Vec<[f32; N]> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    (0..n)
        .map(|_| core::array::from_fn(|_| rng.random::<f32>() * 3.0 + lo))
        .collect()
}

fn small() -> SmallInt8 {
    let net = Small::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(7));
    let calib = samples::<2>(1, 64, -1.5);
    let labels = vec![(); calib.len()];
    net.quantize(Dataset::new(&calib, &labels).unwrap())
        .unwrap()
}

fn every() -> EveryInt8 {
    let mut net = Every::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(8));
    net.state.bn.running_mean.iter_mut().for_each(|m| *m = 0.2);
    net.state.bn.running_var.iter_mut().for_each(|v| *v = 1.5);
    let calib = samples::<72>(2, 64, -1.0);
    let labels = vec![(); calib.len()];
    net.quantize(Dataset::new(&calib, &labels).unwrap())
        .unwrap()
}

network! {
    /// A `Normalize` that does not fold (a padded convolution follows): its statistics are
    /// an entry of the blob; a softmax last.
    pub struct Normed {
        input: [2, 4, 4],
        norm: Normalize,
        Conv2d(3, kernel = 3, padding = 1),
        ReLU,
        Flatten,
        out: Linear(3),
        sm: Softmax,
    }
}

fn normed() -> NormedInt8 {
    let mut net = Normed::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(11));
    net.state.norm.mean = [4.0, -2.5].into();
    net.state.norm.std = [0.75, 2.0].into();
    let calib = samples::<32>(12, 64, 2.0);
    let labels = vec![(); calib.len()];
    net.quantize(Dataset::new(&calib, &labels).unwrap())
        .unwrap()
}

fn blob<N: QNetwork>(net: &N) -> Vec<u8> {
    let mut bytes = vec![0u8; io::int8_blob_bytes::<N>()];
    io::int8_to_bytes(net, &mut bytes).unwrap();
    bytes
}

/// zlib's CRC-32, bit by bit (to forge blobs whose checksums match).
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// Recomputes both checksums of a blob.
fn reseal(blob: &mut [u8]) {
    let payload = crc32(&blob[40..]);
    blob[32..36].copy_from_slice(&payload.to_le_bytes());
    let header = crc32(&blob[..36]);
    blob[36..40].copy_from_slice(&header.to_le_bytes());
}

/// `net-2-3-1.i8.snnb` with the first layer's first shift set to 40 and both checksums
/// recomputed: only the value checks can refuse it.
fn bad_shift(good: &[u8]) -> Vec<u8> {
    let mut bad = good.to_vec();
    let at = 40 + 8 + 2 * 3 + 2 * 3 * 4; // header, input, weights, biases, multipliers
    bad[at..at + 4].copy_from_slice(&40i32.to_le_bytes());
    reseal(&mut bad);
    bad
}

#[test]
fn fixtures_load_into_the_networks_they_were_written_from() {
    let dir = fixtures();
    let small_blob = blob(&small());
    let files = [
        ("net-2-3-1.i8.snnb", small_blob.clone()),
        ("net-2-3-1.i8-bad-shift.snnb", bad_shift(&small_blob)),
        ("every.i8.snnb", blob(&every())),
        ("normed.i8.snnb", blob(&normed())),
    ];
    if std::env::var_os("STATICNN_WRITE_FIXTURES").is_some() {
        for (file, bytes) in &files {
            std::fs::write(dir.join(file), bytes).unwrap();
        }
    }
    let read = |file: &str| std::fs::read(dir.join(file)).unwrap();
    let mut s = small();
    assert_eq!(
        io::int8_from_bytes(&mut s, &read("net-2-3-1.i8.snnb")),
        Ok(())
    );
    let mut e = every();
    assert_eq!(io::int8_from_bytes(&mut e, &read("every.i8.snnb")), Ok(()));
    let mut n = normed();
    assert_eq!(io::int8_from_bytes(&mut n, &read("normed.i8.snnb")), Ok(()));
    // The forged blob: right checksums, a shift the forward pass cannot use.
    let bad = read("net-2-3-1.i8-bad-shift.snnb");
    assert_eq!(crc32(&bad[40..]).to_le_bytes(), bad[32..36]);
    assert_eq!(
        io::int8_from_bytes(&mut s, &bad),
        Err(BlobError::CorruptPayload)
    );
}

static SMALL: SmallInt8 =
    staticnn::int8_network_from_blob!(SmallInt8, include_bytes!("fixtures/net-2-3-1.i8.snnb"));
const EVERY: EveryInt8 =
    staticnn::int8_network_from_blob!(EveryInt8, include_bytes!("fixtures/every.i8.snnb"));
const NORMED: NormedInt8 =
    staticnn::int8_network_from_blob!(NormedInt8, include_bytes!("fixtures/normed.i8.snnb"));

/// The `const` values equal what `int8_from_bytes` loads from the same bytes (geometry
/// included, which comes from the declaration) and give the same outputs.
#[test]
fn const_int8_networks_equal_the_loaded_ones() {
    let mut loaded = small();
    io::int8_from_bytes(&mut loaded, include_bytes!("fixtures/net-2-3-1.i8.snnb")).unwrap();
    assert_eq!(SMALL, loaded);
    let mut loaded_every = every();
    io::int8_from_bytes(&mut loaded_every, include_bytes!("fixtures/every.i8.snnb")).unwrap();
    assert_eq!(EVERY, loaded_every);
    const { assert!(EVERY.dw.depthwise && !EVERY.c1.depthwise) };
    assert_eq!(EVERY.gap.positions, 16); // 6×6, padded max pool 7×7, dw 5×5, avg 4×4

    let mut rng = Xoshiro128PlusPlus::seed_from_u64(9);
    let x = SMatrix::<i8, 2, 16>::from_fn(|_, _| rng.random::<i8>());
    let y = SMALL.forward_int8(&x);
    assert_eq!(y, loaded.forward_int8(&x));
    // The outputs vary with the input (the values were read, not left at zero).
    assert!((1..16).any(|c| y[c] != y[0]), "{y}");
    let images = samples::<72>(3, 8, -1.0);
    let x = EVERY.quantize_input(&SMatrix::<f32, 72, 8>::from_fn(|r, c| images[c][r]));
    let y = EVERY.forward_int8(&x);
    assert_eq!(y, loaded_every.forward_int8(&x));
    // In a `let` too.
    let local =
        staticnn::int8_network_from_blob!(SmallInt8, include_bytes!("fixtures/net-2-3-1.i8.snnb"));
    assert_eq!(local, loaded);
}

/// The compile-time reader (the generated `const fn`, run here at run time on altered
/// payloads) accepts exactly the payloads that `int8_from_bytes` accepts, and reads the same
/// network from them.
#[test]
fn const_reader_refuses_what_the_runtime_reader_refuses() {
    let good = include_bytes!("fixtures/every.i8.snnb");
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(10);
    let (mut accepted, mut refused) = (0, 0);
    for round in 0..4000 {
        let mut bytes = good.to_vec();
        // One to three bytes changed anywhere in the payload, resealed.
        for _ in 0..1 + round % 3 {
            let at = 40 + rng.random_range(0..bytes.len() - 40);
            bytes[at] = rng.random::<u8>();
        }
        reseal(&mut bytes);
        let mut runtime = every();
        let r = io::int8_from_bytes(&mut runtime, &bytes);
        assert_eq!(io::int8_blob_problem::<EveryInt8>(&bytes), Ok(()));
        match EveryInt8::__staticnn_from_payload(&bytes[40..]) {
            Some(net) => {
                assert_eq!(r, Ok(()), "round {round}");
                assert_eq!(net, runtime, "round {round}");
                accepted += 1;
            }
            None => {
                assert_eq!(r, Err(BlobError::CorruptPayload), "round {round}");
                refused += 1;
            }
        }
    }
    assert!(accepted > 100 && refused > 100, "{accepted} / {refused}");
}

/// The header checks give the reasons `int8_from_bytes` gives, in `const` form.
#[test]
fn header_problems_are_named() {
    let good = include_bytes!("fixtures/net-2-3-1.i8.snnb");
    let problem = |bytes: &[u8]| io::int8_blob_problem::<SmallInt8>(bytes).unwrap_err();
    assert!(problem(&good[..20]).contains("shorter"));
    let float = include_bytes!("fixtures/net-2-3-1.snnb");
    assert!(problem(float).contains("float network"));
    assert!(problem(include_bytes!("fixtures/every.i8.snnb")).contains("architecture"));
    let mut corrupt = good.to_vec();
    corrupt[60] ^= 1;
    assert!(problem(&corrupt).contains("payload is corrupt"));
    let mut header = good.to_vec();
    header[10] ^= 1;
    assert!(problem(&header).contains("header is corrupt"));
}

network! {
    /// The entries of the residual and 1-D issue work: residual blocks (identity with a
    /// fused ReLU, and a strided projection), padded average pooling, ELU, PReLU and
    /// LeakyReLU tables.
    pub struct Blocks {
        input: [2, 6, 6],
        stem: Conv2d(4, kernel = 3, padding = 1),
        ReLU,
        id: Residual(Conv2d(4, kernel = 3, padding = 1), ELU(alpha = 0.5), Conv2d(4, kernel = 1)),
        ReLU,
        down: Residual(
            Conv2d(6, kernel = 3, stride = 2, padding = 1),
            PReLU;
            projection = Conv2d(6, kernel = 1, stride = 2),
        ),
        ap: AvgPool2d(kernel = 2, stride = 1, padding = 1),
        gap: GlobalAvgPool,
        Flatten,
        out: Linear(3),
        LeakyReLU(slope = 0.1),
    }
}

network! {
    /// 1-D convolutions and pooling, and Maxout.
    pub struct Seq {
        input: [2, 16],
        conv: Conv1d(4, kernel = 3, padding = 1),
        ReLU,
        mp: MaxPool1d(2),
        dw: Conv1d(4, kernel = 3, padding = 1, groups = 4),
        ap: AvgPool1d(kernel = 3, stride = 1, padding = 1),
        Flatten,
        mo: Maxout(5, k = 3),
        out: Linear(2),
    }
}

/// Every entry kind has a `const` reader that reads what `int8_from_bytes` reads: the
/// generated `__staticnn_from_payload` (what `int8_network_from_blob!` evaluates at compile
/// time, here called at run time) on the blob of a quantised network gives that network,
/// padded average pooling, residual sums and Maxout included, and refuses a bad shift.
#[test]
fn const_readers_cover_residual_and_1d_entries() {
    let net = Blocks::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(31));
    let calib = samples::<72>(32, 64, -1.0);
    let labels = vec![(); calib.len()];
    let q = net
        .quantize(Dataset::new(&calib, &labels).unwrap())
        .unwrap();
    let bytes = blob(&q);
    assert_eq!(BlocksInt8::__staticnn_from_payload(&bytes[40..]), Some(q));

    let seq = Seq::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(33));
    let calib = samples::<32>(34, 64, -1.0);
    let labels = vec![(); calib.len()];
    let q = seq
        .quantize(Dataset::new(&calib, &labels).unwrap())
        .unwrap();
    let bytes = blob(&q);
    let read = SeqInt8::__staticnn_from_payload(&bytes[40..]).expect("a valid payload");
    assert_eq!(read, q);
    let x = SMatrix::<i8, 32, 2>::from_fn(|i, j| (i as i8).wrapping_mul(7) ^ j as i8);
    assert_eq!(read.forward_int8(&x), q.forward_int8(&x));
    // Each shift of the Maxout's last piece out of range: refused by both readers.
    let mut bad = bytes.clone();
    let mut loaded = q;
    let piece = io::int8_blob_bytes::<SeqInt8>() - 40; // whole payload
    let (i, o) = (read.mo.pieces[2].weight[0].len(), 5);
    let piece_bytes = i * o + 12 * o + 4 + 8 + 2;
    // The Maxout precedes the last Linear (2 outputs from 5): its last piece ends where
    // the Linear's bytes begin.
    let linear_bytes = 5 * 2 + 12 * 2 + 4 + 8 + 2;
    let end = 40 + piece - linear_bytes;
    let shifts = end - piece_bytes + i * o + 8 * o;
    for k in 0..o {
        bad[shifts + 4 * k..shifts + 4 * k + 4].copy_from_slice(&40i32.to_le_bytes());
    }
    reseal(&mut bad);
    assert_eq!(SeqInt8::__staticnn_from_payload(&bad[40..]), None);
    assert_eq!(
        io::int8_from_bytes(&mut loaded, &bad),
        Err(BlobError::CorruptPayload)
    );
}

/// An unfolded `Normalize`'s statistics and a softmax: read in `const` evaluation into a
/// `const` value equal to the loaded network, normalising its inputs the same way; a zero
/// σ, a NaN μ or a softmax shift out of range is refused by both readers.
#[test]
fn const_reader_covers_an_unfolded_normalize() {
    let mut loaded = normed();
    io::int8_from_bytes(&mut loaded, include_bytes!("fixtures/normed.i8.snnb")).unwrap();
    assert_eq!(NORMED, loaded);
    const { assert!(NORMED.norm.std[0] == 0.75 && NORMED.norm.mean[1] == -2.5) };
    const { assert!(NORMED.sm.output.zero_point == -128 && NORMED.sm.input_left_shift > 0) };
    let images = samples::<32>(13, 4, 2.0);
    let x = SMatrix::<f32, 32, 4>::from_fn(|r, c| images[c][r]);
    assert_eq!(NORMED.quantize_input(&x), loaded.quantize_input(&x));
    assert_eq!(NORMED.forward(&x), loaded.forward(&x));

    let q = normed();
    let bytes = blob(&q);
    assert_eq!(NormedInt8::__staticnn_from_payload(&bytes[40..]), Some(q));
    // The statistics follow the input's 8 bytes: 2 means, then 2 σ.
    let (mean1, std0) = (40 + 8 + 4, 40 + 8 + 8);
    // The softmax's 20 bytes end the payload: multiplier, left shift, `diff_min`, output.
    let shift = bytes.len() - 20 + 4;
    let too_far = f32::from_bits(31);
    for (at, v) in [
        (std0, 0.0f32),
        (mean1, f32::NAN),
        (std0, f32::INFINITY),
        (shift, too_far),
    ] {
        let mut bad = bytes.clone();
        bad[at..at + 4].copy_from_slice(&v.to_le_bytes());
        reseal(&mut bad);
        assert_eq!(NormedInt8::__staticnn_from_payload(&bad[40..]), None, "{v}");
        let mut back = q;
        assert_eq!(
            io::int8_from_bytes(&mut back, &bad),
            Err(BlobError::CorruptPayload)
        );
    }
}
