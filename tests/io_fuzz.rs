//! Fuzzing both loaders. cargo-fuzz needs a nightly toolchain, so this is a proptest suite
//! run by `cargo test`: arbitrary bytes, valid files and blobs mutated at random (bytes
//! flipped, set, inserted, deleted, duplicated; cut; lengths and checksums forged), and files
//! generated from a grammar of near-valid safetensors headers (keys, dtypes, shapes and
//! offsets each right or wrong), so that inputs reach every check, not just the parser.
//!
//! The properties, for every input: the loader returns (no panic, no abort); on an error the
//! network is bit for bit what it was; on success the network holds exactly the file's
//! values (a safetensors file is also accepted by the reference `safetensors` crate and every
//! tensor's values are the network's; a blob is byte for byte the network's own blob). Each run prints its number of executions and how they ended.
//!
//! `STATICNN_FUZZ_CASES` sets the cases per strategy (default 20 000). By default the
//! safetensors loader runs about 250 000 times (five strategies, each input under three sets
//! of options) and the blob loader 80 000 times (four strategies), in about ten seconds in
//! the test profile.
#![cfg(feature = "safetensors")]

#[allow(dead_code)]
mod io_support;

use std::collections::BTreeMap;
use std::sync::Mutex;

use io_support::{Small, bits};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use safetensors::{Dtype, SafeTensors};
use staticnn::io::{
    self, LoadError, LoadOptions, Naming, from_bytes, load_safetensors, save_safetensors, to_bytes,
};
use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

fn cases() -> u32 {
    std::env::var("STATICNN_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

fn target() -> Small<f32> {
    Small::new(&mut Xoshiro128PlusPlus::seed_from_u64(2))
}

fn reference() -> Small<f32> {
    Small::new(&mut Xoshiro128PlusPlus::seed_from_u64(1))
}

/// How the executions of one loader ended, by outcome.
struct Tally(Mutex<BTreeMap<String, u64>>);

impl Tally {
    const fn new() -> Self {
        Tally(Mutex::new(BTreeMap::new()))
    }

    fn add(&self, outcome: &str) {
        *self
            .0
            .lock()
            .unwrap()
            .entry(outcome.to_string())
            .or_default() += 1;
    }

    fn report(&self, what: &str) -> u64 {
        let map = self.0.lock().unwrap();
        let total: u64 = map.values().sum();
        eprintln!("{what}: {total} executions, 0 crashes; outcomes: {map:?}");
        total
    }
}

fn run<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        max_shrink_iters: 10_000,
        ..Config::default()
    });
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{name}: {e}");
    }
}

// ---------------------------------------------------------------------------------------
// safetensors

fn outcome(r: &Result<(), LoadError>) -> &'static str {
    match r {
        Ok(()) => "Ok",
        Err(LoadError::Truncated { .. }) => "Truncated",
        Err(LoadError::Malformed { .. }) => "Malformed",
        Err(LoadError::MissingTensor { .. }) => "MissingTensor",
        Err(LoadError::UnexpectedTensor { .. }) => "UnexpectedTensor",
        Err(LoadError::WrongShape { .. }) => "WrongShape",
        Err(LoadError::WrongDtype { .. }) => "WrongDtype",
        Err(LoadError::NonFinite { .. }) => "NonFinite",
        Err(LoadError::NamingMismatch { .. }) => "NamingMismatch",
        Err(_) => "other",
    }
}

/// The property: loading `bytes` under each option set either fails and leaves the network
/// alone, or succeeds and gives the network exactly the file's values.
fn check_load(bytes: &[u8], tally: &Tally) -> Result<(), TestCaseError> {
    let before = target();
    for options in [
        LoadOptions::new(),
        LoadOptions::new().reject_non_finite(true),
        LoadOptions::new().prefix("model.").naming(Naming::Names),
    ] {
        let mut net = before;
        let result = load_safetensors(&mut net, bytes, &options);
        tally.add(outcome(&result));
        match result {
            Err(e) => {
                prop_assert_eq!(bits(&net), bits(&before));
                prop_assert!(!e.to_string().is_empty());
            }
            Ok(()) => check_values(&net, bytes, &options)?,
        }
    }
    Ok(())
}

/// After a successful load, every tensor of the network equals the file's (rounded to f32),
/// as read by the reference crate.
fn check_values(
    net: &Small<f32>,
    bytes: &[u8],
    options: &LoadOptions<'_>,
) -> Result<(), TestCaseError> {
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| TestCaseError::fail(format!("accepted, but the crate says {e}")))?;
    // The naming the load used: the options', else the file's, else `nn.Sequential`'s.
    let (_, header) = SafeTensors::read_metadata(bytes).unwrap();
    let recorded = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("staticnn.naming"))
        .map(|tag| match tag.as_str() {
            "names" => Naming::Names,
            _ => Naming::Sequential,
        });
    let naming = options.naming.or(recorded).unwrap_or(Naming::Sequential);
    let ours = save_safetensors(net, naming);
    let ours = SafeTensors::deserialize(&ours).unwrap();
    for (name, t) in ours.iter() {
        if name.ends_with("num_batches_tracked") {
            // Its value is ignored, but if the file has it, it is an integer scalar.
            if let Ok(f) = file.tensor(&format!("{}{name}", options.prefix)) {
                prop_assert_eq!(f.shape(), t.shape(), "accepted counter {}", name);
                prop_assert!(!matches!(f.dtype(), Dtype::F32 | Dtype::F64));
            }
            continue;
        }
        let f = file
            .tensor(&format!("{}{name}", options.prefix))
            .map_err(|e| TestCaseError::fail(format!("accepted without {name}: {e}")))?;
        prop_assert_eq!(f.shape(), t.shape());
        let expected: Vec<u32> = match f.dtype() {
            Dtype::F32 => f
                .data()
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
                .collect(),
            Dtype::F64 => f
                .data()
                .chunks_exact(8)
                .map(|b| (f64::from_le_bytes(b.try_into().unwrap()) as f32).to_bits())
                .collect(),
            d => return Err(TestCaseError::fail(format!("accepted dtype {d}"))),
        };
        let got: Vec<u32> = t
            .data()
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        // NaN payloads may be quieted by the f64 → f32 conversion; compare NaN as NaN.
        for (g, e) in got.iter().zip(&expected) {
            let (gf, ef) = (f32::from_bits(*g), f32::from_bits(*e));
            prop_assert!(
                g == e || (gf.is_nan() && ef.is_nan()),
                "{name}: {gf} vs {ef}"
            );
        }
        if options.reject_non_finite {
            prop_assert!(got.iter().all(|g| f32::from_bits(*g).is_finite()));
        }
    }
    Ok(())
}

/// Valid files to mutate: f32 and f64, both namings, with and without a prefix and extra
/// tensors.
fn seeds() -> Vec<Vec<u8>> {
    let net = reference();
    let net64 = Small::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(4));
    let mut prefixed = io_support::entries(&save_safetensors(&net, Naming::Names));
    for e in &mut prefixed {
        e.name = format!("model.{}", e.name);
    }
    prefixed.push(io_support::Entry::f32("input", &[2, 3], &[0.5; 6]));
    vec![
        save_safetensors(&net, Naming::Sequential),
        save_safetensors(&net64, Naming::Sequential),
        save_safetensors(&net, Naming::Names),
        io_support::build(&prefixed),
    ]
}

/// One random edit of a byte string.
#[derive(Clone, Debug)]
enum Edit {
    Flip(usize, u8),
    Set(usize, u8),
    Cut(usize),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Duplicate(usize, usize),
    /// A forged header length (safetensors) or count (blob) field.
    Word(usize, u64),
    /// Replace a token of a safetensors header by another.
    Token(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), 1..=255u8).prop_map(|(i, b)| Edit::Flip(i, b)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        1 => any::<usize>().prop_map(Edit::Cut),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, v)| Edit::Insert(i, v)),
        1 => (any::<usize>(), 1usize..32).prop_map(|(i, n)| Edit::Delete(i, n)),
        1 => (any::<usize>(), 1usize..32).prop_map(|(i, n)| Edit::Duplicate(i, n)),
        1 => (0usize..4, any::<u64>()).prop_map(|(i, w)| Edit::Word(i, w)),
        3 => (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Edit::Token(i, j)),
    ]
}

/// Tokens a safetensors header is made of, to swap for one another.
const TOKENS: &[&str] = &[
    "\"F32\"",
    "\"F64\"",
    "\"F16\"",
    "\"BF16\"",
    "\"I64\"",
    "\"U8\"",
    "\"BOOL\"",
    "\"F4\"",
    "\"C64\"",
    "\"dtype\"",
    "\"shape\"",
    "\"data_offsets\"",
    "\"__metadata__\"",
    "[]",
    "[0]",
    "[1]",
    "[4]",
    "[4,3]",
    "[3,4]",
    "[2]",
    "[0,0]",
    "[0,16]",
    "0",
    "1",
    "3",
    "4",
    "8",
    "16",
    "18446744073709551615",
    "-1",
    "1e3",
    "null",
    "{}",
    "\"\"",
    "\"0.weight\"",
    "\"0.bias\"",
    "\"fc.weight\"",
    "\"1.num_batches_tracked\"",
    "\"model.3.bias\"",
    ",",
    ":",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "\\",
    "\\u0000",
    " ",
];

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    let len = bytes.len();
    let at = |i: usize| if len == 0 { 0 } else { i % len };
    match *edit {
        Edit::Flip(i, b) if len > 0 => bytes[at(i)] ^= b,
        Edit::Set(i, b) if len > 0 => bytes[at(i)] = b,
        Edit::Cut(i) => bytes.truncate(i % (len + 1)),
        Edit::Insert(i, ref v) => {
            let i = i % (len + 1);
            bytes.splice(i..i, v.iter().copied());
        }
        Edit::Delete(i, n) if len > 0 => {
            let i = at(i);
            bytes.drain(i..(i + n).min(len));
        }
        Edit::Duplicate(i, n) if len > 0 => {
            let i = at(i);
            let piece = bytes[i..(i + n).min(len)].to_vec();
            bytes.splice(i..i, piece);
        }
        Edit::Word(_, w) if len >= 8 => bytes[..8].copy_from_slice(&w.to_le_bytes()),
        Edit::Token(i, j) => {
            // Swap an occurrence of one token (the i-th found, cyclically) for another.
            let from = TOKENS[i % TOKENS.len()].as_bytes();
            let to = TOKENS[j % TOKENS.len()].as_bytes();
            let hits: Vec<usize> = bytes
                .windows(from.len())
                .enumerate()
                .filter(|(_, w)| *w == from)
                .map(|(k, _)| k)
                .collect();
            if !hits.is_empty() {
                let k = hits[(i / TOKENS.len()) % hits.len()];
                bytes.splice(k..k + from.len(), to.iter().copied());
                // Keep the header length consistent half of the time, so that the parser
                // sees the edited header rather than a length mismatch.
                if j % 2 == 0 && bytes.len() >= 8 {
                    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as i128;
                    let n = n + to.len() as i128 - from.len() as i128;
                    if n >= 0 {
                        bytes[..8].copy_from_slice(&(n as u64).to_le_bytes());
                    }
                }
            }
        }
        _ => {}
    }
}

static SAFETENSORS: Tally = Tally::new();

#[test]
fn fuzz_safetensors_arbitrary_bytes() {
    run(
        "arbitrary bytes",
        prop::collection::vec(any::<u8>(), 0..600),
        |bytes| check_load(&bytes, &SAFETENSORS),
    );
    // Arbitrary bytes behind a plausible header length.
    run(
        "arbitrary header",
        (0u64..400, prop::collection::vec(any::<u8>(), 0..500)),
        |(n, rest)| {
            let mut bytes = n.to_le_bytes().to_vec();
            bytes.extend(rest);
            check_load(&bytes, &SAFETENSORS)
        },
    );
    SAFETENSORS.report("safetensors loader (all strategies so far)");
}

#[test]
fn fuzz_safetensors_mutated_valid_files() {
    let seeds = seeds();
    run(
        "mutated valid files",
        (0..seeds.len(), prop::collection::vec(edit(), 1..6)),
        |(seed, edits)| {
            let mut bytes = seeds[seed].clone();
            for e in &edits {
                apply(&mut bytes, e);
            }
            check_load(&bytes, &SAFETENSORS)
        },
    );
    SAFETENSORS.report("safetensors loader (all strategies so far)");
}

/// A tensor of a generated header: each field right or wrong.
#[derive(Clone, Debug)]
struct Gen {
    name: String,
    dtype: &'static str,
    shape: Vec<usize>,
    /// Data bytes; their count may disagree with the dtype and shape.
    data: Vec<u8>,
    /// Forged offsets, instead of the consistent ones.
    offsets: Option<(u64, u64)>,
}

fn element_bytes(dtype: &str) -> usize {
    match dtype {
        "F64" | "I64" | "U64" | "C64" => 8,
        "F32" | "I32" | "U32" => 4,
        "F16" | "BF16" | "I16" | "U16" => 2,
        _ => 1,
    }
}

/// The network's tensors: key and shape.
fn keys() -> Vec<(String, Vec<usize>)> {
    io::tensors(
        <Small<f32> as Network<f32, 3, 2>>::LAYERS,
        Naming::Sequential,
    )
    .map(|t| (t.to_string(), t.tensor.shape.to_vec()))
    .collect()
}

/// The tensor `key` of shape `shape`, about one time in four with one thing wrong: its key,
/// dtype, shape, offsets or data length, or a NaN or infinity among its values.
fn gen_for(key: String, shape: Vec<usize>) -> impl Strategy<Value = Gen> {
    let counter = key.ends_with("num_batches_tracked");
    (
        0u8..40,
        any::<bool>(),
        prop::sample::select(vec![
            "F16", "BF16", "I64", "I32", "U8", "BOOL", "F4", "F6_E2M3", "C64", "Q9",
        ]),
        prop::collection::vec(any::<u8>(), 0..8),
        any::<u64>(),
        any::<(u64, u64)>(),
        prop::collection::vec(0usize..6, 0..4),
    )
        .prop_map(
            move |(fault, f64s, odd, noise, seed, offsets, other_shape)| {
                let mut g = Gen {
                    name: key.clone(),
                    dtype: match (counter, f64s) {
                        (true, _) => "I64",
                        (false, true) => "F64",
                        (false, false) => "F32",
                    },
                    shape: shape.clone(),
                    data: Vec::new(),
                    offsets: None,
                };
                match fault {
                    0 => g.name = format!("{key}x"),
                    1 => g.name = format!("model.{key}"),
                    2 => g.shape = other_shape,
                    3 => g.offsets = Some((offsets.0 % 4096, offsets.1 % 4096)),
                    4 => g.name = String::from_utf8_lossy(&noise).into_owned(),
                    5 => g.dtype = odd,
                    6 if counter => g.dtype = "F32",
                    _ => {}
                }
                let n: usize = g.shape.iter().product::<usize>() * element_bytes(g.dtype);
                let mut state = seed;
                g.data = (0..n)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        (state >> 56) as u8
                    })
                    .collect();
                // Small finite floats, as real weights are, unless the fault is a non-finite
                // value or a short data block.
                if g.dtype == "F32" {
                    for c in g.data.chunks_exact_mut(4) {
                        c[3] &= 0x3f;
                    }
                }
                if g.dtype == "F64" {
                    for c in g.data.chunks_exact_mut(8) {
                        c[7] &= 0x3f;
                    }
                }
                match fault {
                    7 if g.dtype == "F32" && !g.data.is_empty() => {
                        let at = 4 * (seed as usize % (g.data.len() / 4));
                        g.data[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
                    }
                    8 if g.dtype == "F64" && !g.data.is_empty() => {
                        let at = 8 * (seed as usize % (g.data.len() / 8));
                        g.data[at..at + 8].copy_from_slice(&f64::NEG_INFINITY.to_le_bytes());
                    }
                    9 if !g.data.is_empty() => {
                        g.data.pop();
                    }
                    _ => {}
                }
                g
            },
        )
}

/// Any tensor of the network, perhaps faulty.
fn gen_tensor() -> impl Strategy<Value = Gen> {
    prop::sample::select(keys()).prop_flat_map(|(key, shape)| gen_for(key, shape))
}

/// A file with every tensor of the network, each perhaps faulty or (one time in twenty)
/// left out, in a random order, perhaps with an extra tensor: these get past the parser
/// and reach the later checks (shape, dtype, values) or load.
fn gen_complete_file() -> impl Strategy<Value = Vec<u8>> {
    let all: Vec<_> = keys()
        .into_iter()
        .map(|(key, shape)| (gen_for(key, shape), 0u8..20))
        .collect();
    (
        all,
        any::<bool>(),
        any::<u64>(),
        prop::option::weighted(0.1, gen_tensor()),
    )
        .prop_map(|(tensors, metadata, order, extra)| {
            let mut kept: Vec<Gen> = tensors
                .into_iter()
                .filter(|(_, drop)| *drop != 0)
                .map(|(g, _)| g)
                .collect();
            kept.extend(extra);
            let n = kept.len().max(1);
            kept.rotate_left(order as usize % n);
            if order % 3 == 0 {
                kept.reverse();
            }
            gen_file(&kept, metadata, 0)
        })
}

/// A header and data made of generated tensors, with or without metadata.
fn gen_file(tensors: &[Gen], metadata: bool, pad: usize) -> Vec<u8> {
    let mut h = String::from("{");
    if metadata {
        h.push_str(r#""__metadata__":{"format":"pt"}"#);
    }
    let mut offset = 0u64;
    let mut data = Vec::new();
    for (i, t) in tensors.iter().enumerate() {
        if metadata || i > 0 {
            h.push(',');
        }
        let (a, b) = t.offsets.unwrap_or((offset, offset + t.data.len() as u64));
        offset += t.data.len() as u64;
        let shape: Vec<String> = t.shape.iter().map(|d| d.to_string()).collect();
        h.push_str(&format!(
            r#"{:?}:{{"dtype":"{}","shape":[{}],"data_offsets":[{a},{b}]}}"#,
            t.name,
            t.dtype,
            shape.join(",")
        ));
        data.extend_from_slice(&t.data);
    }
    h.push('}');
    h.push_str(&" ".repeat(pad % 8));
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(h.as_bytes());
    out.extend(data);
    out
}

#[test]
fn fuzz_safetensors_generated_headers() {
    // The network's nine tensors, each perhaps faulty, some dropped or repeated, in any order.
    run(
        "generated headers",
        (
            prop::collection::vec(gen_tensor(), 0..12),
            any::<bool>(),
            0usize..8,
        ),
        |(tensors, metadata, pad)| check_load(&gen_file(&tensors, metadata, pad), &SAFETENSORS),
    );
    run("complete generated files", gen_complete_file(), |bytes| {
        check_load(&bytes, &SAFETENSORS)
    });
    SAFETENSORS.report("safetensors loader (all strategies so far)");
}

// ---------------------------------------------------------------------------------------
// Blobs

static BLOBS: Tally = Tally::new();

fn valid_blob() -> Vec<u8> {
    let mut out = vec![0; Small::<f32>::BLOB_BYTES];
    to_bytes(&reference(), &mut out).unwrap();
    out
}

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

/// Makes both checksums of a (possibly edited) blob right again, where it is long enough.
fn reseal(b: &mut [u8]) {
    if b.len() >= 40 {
        let payload = crc32(&b[40..]);
        b[32..36].copy_from_slice(&payload.to_le_bytes());
        let header = crc32(&b[..36]);
        b[36..40].copy_from_slice(&header.to_le_bytes());
    }
}

/// The property: a blob is refused (network unchanged) or is byte for byte the blob the
/// loaded network writes.
fn check_blob(bytes: &[u8]) -> Result<(), TestCaseError> {
    let before = target();
    let mut net = before;
    let result = from_bytes(&mut net, bytes);
    let name = match &result {
        Ok(()) => "Ok".to_string(),
        Err(e) => format!("{e:?}")
            .split([' ', '{'])
            .next()
            .unwrap()
            .to_string(),
    };
    BLOBS.add(&name);
    match result {
        Err(e) => {
            prop_assert_eq!(bits(&net), bits(&before));
            prop_assert!(!e.to_string().is_empty());
        }
        Ok(()) => {
            let mut again = vec![0; Small::<f32>::BLOB_BYTES];
            to_bytes(&net, &mut again).unwrap();
            // Every byte: the reserved one, both checksums and the NaN payloads included.
            prop_assert_eq!(bytes, &again[..]);
        }
    }
    Ok(())
}

#[test]
fn fuzz_blob() {
    run(
        "arbitrary bytes",
        prop::collection::vec(any::<u8>(), 0..300),
        |b| check_blob(&b),
    );
    let good = valid_blob();
    run(
        "arbitrary bytes behind the magic",
        prop::collection::vec(any::<u8>(), 0..300),
        |b| check_blob(&[&io::MAGIC[..], &1u16.to_le_bytes(), &b].concat()),
    );
    run(
        "mutated valid blobs",
        (prop::collection::vec(edit(), 1..5), any::<bool>()),
        |(edits, resealed)| {
            let mut b = good.clone();
            for e in &edits {
                match *e {
                    // Forge one of the header's words rather than the safetensors length.
                    Edit::Word(i, w) => {
                        let at = 8 + 8 * (i % 3);
                        if let Some(word) = b.get_mut(at..at + 8) {
                            word.copy_from_slice(&w.to_le_bytes());
                        }
                    }
                    ref e => apply(&mut b, e),
                }
            }
            if resealed {
                reseal(&mut b);
            }
            check_blob(&b)
        },
    );
    run(
        "forged headers",
        (
            any::<u16>(),
            prop_oneof![Just(4u8), Just(8), any::<u8>()],
            any::<u8>(),
            prop_oneof![Just(Small::<f32>::FINGERPRINT), any::<u64>()],
            prop_oneof![Just(34u64), any::<u64>(), 0u64..64],
            prop_oneof![Just(8u64), any::<u64>(), 0u64..16],
            prop::collection::vec(any::<u8>(), 150..220),
        ),
        |(version, scalar, reserved, fingerprint, params, state, payload)| {
            let version = if version % 2 == 0 { 1 } else { version };
            let mut b = io::MAGIC.to_vec();
            b.extend(version.to_le_bytes());
            b.extend([scalar, reserved]);
            b.extend(fingerprint.to_le_bytes());
            b.extend(params.to_le_bytes());
            b.extend(state.to_le_bytes());
            b.extend([0; 8]);
            b.extend(payload);
            reseal(&mut b);
            check_blob(&b)
        },
    );
    let total = BLOBS.report("blob loader");
    assert!(total >= 4 * u64::from(cases()));
}

/// The safetensors tally is shared by three tests that may run in any order; this one
/// checks on its own inputs that every outcome, each error variant and success, is reached,
/// so that the fuzzing is known to get past the parser to every check.
#[test]
fn fuzzing_reaches_every_check() {
    let local = Tally::new();
    let seeds = seeds();
    let mut runner = TestRunner::new(Config {
        cases: cases().min(3_000),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(
            &(
                gen_complete_file(),
                0..seeds.len(),
                prop::collection::vec(edit(), 1..3),
                any::<bool>(),
            ),
            |(generated, seed, edits, use_generated)| {
                if use_generated {
                    check_load(&generated, &local)
                } else {
                    let mut b = seeds[seed].clone();
                    for e in &edits {
                        apply(&mut b, e);
                    }
                    check_load(&b, &local)
                }
            },
        )
        .unwrap();
    let map = local.0.lock().unwrap();
    for variant in [
        "Ok",
        "Truncated",
        "Malformed",
        "MissingTensor",
        "UnexpectedTensor",
        "WrongShape",
        "WrongDtype",
        "NonFinite",
        "NamingMismatch",
    ] {
        assert!(
            map.contains_key(variant),
            "no input ended in {variant}: {map:?}"
        );
    }
}
