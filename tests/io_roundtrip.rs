//! Weight files round trip: safetensors save → load and blob write → read give back every
//! parameter and statistic bit for bit, in f32 and f64, under both namings; the keys, shapes
//! and storage orders are PyTorch's; files cross between scalar types.
#![cfg(feature = "safetensors")]

#[allow(dead_code)]
mod io_support;

use io_support::{Entry, Every, Small, bits, build, entries};
use safetensors::{Dtype, SafeTensors};
use staticnn::io::{
    self, BlobError, LoadError, LoadOptions, Naming, from_bytes, load_safetensors,
    save_safetensors, to_bytes,
};
use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

/// A network of every layer kind with random parameters and running statistics moved away
/// from their initial values by a few train-mode forwards.
fn trained<T: Scalar>(seed: u64) -> Every<T> {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut net = Every::<T>::new(&mut rng);
    let mut tape = Every::<T>::tape::<8>();
    for k in 0..3 {
        let x = SMatrix::<T, 4, 8>::from_fn(|i, j| T::of(((i * 8 + j + k) as f64).sin() * 2.0));
        net.forward_train(&x, &mut tape, &mut rng);
    }
    net
}

fn round_trip<T: Scalar>() {
    for naming in [Naming::Sequential, Naming::Names] {
        let mut net = trained::<T>(1);
        // Values that must survive exactly: signed zero, a subnormal, the extremes, and
        // (loaded when not rejected) NaN and infinity.
        net.params.fc1.bias[0] = T::of(-0.0);
        net.params.fc1.bias[1] = T::of(f64::from(f32::MIN_POSITIVE) / 8.0);
        net.params.fc1.bias[2] = T::of(f64::from(f32::MAX));
        net.params.out.bias[0] = T::of(f64::NAN);
        net.params.out.bias[1] = T::of(f64::NEG_INFINITY);
        let file = save_safetensors(&net, naming);
        let mut copy = trained::<T>(2);
        assert_ne!(bits(&copy), bits(&net));
        load_safetensors(&mut copy, &file, &LoadOptions::new().naming(naming)).unwrap();
        assert_eq!(bits(&copy), bits(&net), "{naming:?}");
        // The same again, as bytes.
        assert_eq!(save_safetensors(&copy, naming), file);

        let mut blob = vec![0u8; Every::<T>::BLOB_BYTES];
        assert_eq!(to_bytes(&net, &mut blob), Ok(Every::<T>::BLOB_BYTES));
        let mut copy = trained::<T>(3);
        from_bytes(&mut copy, &blob).unwrap();
        assert_eq!(bits(&copy), bits(&net));
    }
}

#[test]
fn f32_round_trips_are_bit_exact() {
    round_trip::<f32>();
}

#[test]
fn f64_round_trips_are_bit_exact() {
    round_trip::<f64>();
}

/// The keys, shapes and dtypes are those of the PyTorch modules, and the maxout and
/// custom layers follow the documented conventions.
#[test]
fn keys_and_shapes_are_pytorch_s() {
    let net = trained::<f32>(1);
    let shapes = |naming| -> Vec<(String, Vec<usize>, Dtype)> {
        entries(&save_safetensors(&net, naming))
            .into_iter()
            .map(|e| (e.name, e.shape, e.dtype))
            .collect()
    };
    let f = Dtype::F32;
    let i = Dtype::I64;
    let expected = [
        ("0.weight", vec![6, 4], f),
        ("0.bias", vec![6], f),
        ("1.weight", vec![6], f),
        ("1.bias", vec![6], f),
        ("1.running_mean", vec![6], f),
        ("1.running_var", vec![6], f),
        ("1.num_batches_tracked", vec![], i),
        ("2.weight", vec![1], f),
        ("4.weight", vec![3, 5, 6], f),
        ("4.bias", vec![3, 5], f),
        ("6.params", vec![5], f),
        ("6.state", vec![2], f),
        ("8.weight", vec![5], f),
        ("8.bias", vec![5], f),
        ("8.running_mean", vec![5], f),
        ("8.running_var", vec![5], f),
        ("8.num_batches_tracked", vec![], i),
        ("12.weight", vec![3, 5], f),
        ("12.bias", vec![3], f),
    ];
    // The same keys with the named layers' names.
    let rename = |key: &str| -> String {
        let (module, rest) = key.split_once('.').unwrap();
        let module = match module {
            "0" => "fc1",
            "4" => "mx",
            "8" => "norm",
            "12" => "out",
            other => other,
        };
        format!("{module}.{rest}")
    };
    let sorted = |key: &dyn Fn(&str) -> String| {
        let mut v: Vec<(String, Vec<usize>, Dtype)> = expected
            .iter()
            .map(|(k, s, d)| (key(k), s.clone(), *d))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert_eq!(shapes(Naming::Sequential), sorted(&|k| k.to_string()));
    assert_eq!(shapes(Naming::Names), sorted(&rename));
}

/// Values sit where PyTorch expects them: `weight[o][i]` of a linear layer is row `o`,
/// column `i` of staticnn's matrix, `weight[k][o][i]` of maxout is the same entry of piece
/// `k`, and a custom layer's tensors are its blocks in storage order.
#[test]
fn values_are_in_pytorch_order() {
    let net = trained::<f64>(4);
    let file = save_safetensors(&net, Naming::Names);
    let get = |name: &str| -> Vec<f64> {
        let all = entries(&file);
        let e = all.iter().find(|e| e.name == name).unwrap();
        e.data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect()
    };
    let w = get("fc1.weight");
    for o in 0..6 {
        for i in 0..4 {
            assert_eq!(w[o * 4 + i], net.params.fc1.weight[(o, i)]);
        }
    }
    let w = get("mx.weight");
    let b = get("mx.bias");
    for k in 0..3 {
        for o in 0..5 {
            assert_eq!(b[k * 5 + o], net.params.mx.bias[k][o]);
            for i in 0..6 {
                assert_eq!(w[(k * 5 + o) * 6 + i], net.params.mx.weight[k][(o, i)]);
            }
        }
    }
    assert_eq!(get("6.params"), net.params.layer6.to_vec());
    assert_eq!(get("6.state"), net.state.layer6.to_vec());
    assert_eq!(get("6.state")[0], 3.0, "three train-mode forwards");
    assert_eq!(
        get("norm.running_var"),
        net.state.norm.running_var.as_slice()
    );
    assert_eq!(get("2.weight"), [net.params.layer2.slope]);
}

/// A file records its naming: the default options follow it, so a `Naming::Names` file
/// loads as saved; an explicit naming that contradicts it is a typed error, and the network
/// is left alone.
#[test]
fn files_describe_their_naming() {
    let net = trained::<f32>(1);
    for naming in [Naming::Sequential, Naming::Names] {
        let file = save_safetensors(&net, naming);
        let mut copy = trained::<f32>(2);
        load_safetensors(&mut copy, &file, &LoadOptions::new()).unwrap();
        assert_eq!(bits(&copy), bits(&net), "{naming:?}");
    }

    let mut other = trained::<f32>(2);
    let named = save_safetensors(&net, Naming::Names);
    let err = load_safetensors(
        &mut other,
        &named,
        &LoadOptions::new().naming(Naming::Sequential),
    )
    .unwrap_err();
    assert_eq!(
        err,
        LoadError::NamingMismatch {
            requested: Naming::Sequential,
            file: Naming::Names
        }
    );
    assert_eq!(
        err.to_string(),
        "the options ask for `Naming::Sequential` (`0.weight`) keys, but the file records \
         that it was saved with `Naming::Names` (`fc1.weight`) keys (leave \
         `LoadOptions::naming` unset to follow the file)"
    );
    let sequential = save_safetensors(&net, Naming::Sequential);
    assert_eq!(
        load_safetensors(
            &mut other,
            &sequential,
            &LoadOptions::new().naming(Naming::Names)
        ),
        Err(LoadError::NamingMismatch {
            requested: Naming::Names,
            file: Naming::Sequential
        })
    );
    assert_eq!(bits(&other), bits(&trained::<f32>(2)));
}

/// A file without metadata (as PyTorch writes it) is read with `nn.Sequential` keys unless
/// the options say otherwise: the first missing key is named.
#[test]
fn files_without_metadata_default_to_sequential() {
    let net = trained::<f32>(1);
    let mut other = trained::<f32>(2);
    let named = build(&entries(&save_safetensors(&net, Naming::Names)));
    assert_eq!(
        load_safetensors(&mut other, &named, &LoadOptions::new()),
        Err(LoadError::MissingTensor {
            name: "0.weight".into()
        })
    );
    let sequential = build(&entries(&save_safetensors(&net, Naming::Sequential)));
    let options = LoadOptions::new().naming(Naming::Names);
    assert_eq!(
        load_safetensors(&mut other, &sequential, &options),
        Err(LoadError::MissingTensor {
            name: "fc1.weight".into()
        })
    );
    assert_eq!(bits(&other), bits(&trained::<f32>(2)));
    load_safetensors(&mut other, &sequential, &LoadOptions::new()).unwrap();
    load_safetensors(&mut other, &named, &options).unwrap();
    assert_eq!(bits(&other), bits(&net));
}

/// A file that records a naming this library does not know is refused as malformed.
#[test]
fn unknown_recorded_naming_is_malformed() {
    let net = trained::<f32>(1);
    let mut file = save_safetensors(&net, Naming::Names);
    let (from, to) = (
        br#""staticnn.naming":"names""#,
        br#""staticnn.naming":"nicks""#,
    );
    let at = file.windows(from.len()).position(|w| w == from).unwrap();
    file[at..at + to.len()].copy_from_slice(to);
    let mut other = trained::<f32>(2);
    let err = load_safetensors(&mut other, &file, &LoadOptions::new()).unwrap_err();
    assert!(
        matches!(&err, LoadError::Malformed { reason } if reason.contains("`nicks`")),
        "{err}"
    );
}

/// An f32 file loads into an f64 network exactly; an f64 file into an f32 network rounds
/// each value to nearest.
#[test]
fn files_cross_scalar_types() {
    let net32 = trained::<f32>(5);
    let mut net64 = trained::<f64>(6);
    load_safetensors(
        &mut net64,
        &save_safetensors(&net32, Naming::Sequential),
        &LoadOptions::new(),
    )
    .unwrap();
    assert_eq!(
        net64.params.mx.weight[2],
        net32.params.mx.weight[2].cast::<f64>()
    );
    assert_eq!(
        net64.state.norm.running_mean,
        net32.state.norm.running_mean.cast::<f64>()
    );

    let net64 = trained::<f64>(7);
    let mut net32 = trained::<f32>(8);
    load_safetensors(
        &mut net32,
        &save_safetensors(&net64, Naming::Sequential),
        &LoadOptions::new(),
    )
    .unwrap();
    assert_eq!(
        net32.params.fc1.weight,
        net64.params.fc1.weight.cast::<f32>()
    );
    assert_eq!(net32.params.layer2.slope, net64.params.layer2.slope as f32);
    // A blob does not cross: it is refused with both scalar types named.
    let mut blob = vec![0u8; Every::<f64>::BLOB_BYTES];
    to_bytes(&net64, &mut blob).unwrap();
    let err = from_bytes(&mut net32, &blob).unwrap_err();
    assert_eq!(
        err,
        BlobError::WrongScalar {
            expected: 4,
            found: 8
        }
    );
    assert_eq!(
        err.to_string(),
        "the blob holds f64 scalars (8 bytes each), but the network computes in f32 (4 bytes)"
    );
}

/// `num_batches_tracked` may be any integer dtype and any value, or absent; a float one is
/// refused.
#[test]
fn num_batches_tracked_is_accepted_and_ignored() {
    let reference = Small::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(1));
    let valid = entries(&save_safetensors(&reference, Naming::Sequential));
    let counter = valid
        .iter()
        .position(|e| e.name == "1.num_batches_tracked")
        .unwrap();
    let fresh = || Small::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(2));
    for (dtype, data) in [
        (Dtype::I64, 12345i64.to_le_bytes().to_vec()),
        (Dtype::I32, 7i32.to_le_bytes().to_vec()),
        (Dtype::U8, vec![3]),
        (Dtype::U64, u64::MAX.to_le_bytes().to_vec()),
    ] {
        let mut file = valid.clone();
        file[counter].dtype = dtype;
        file[counter].data = data;
        let mut net = fresh();
        load_safetensors(&mut net, &build(&file), &LoadOptions::new()).unwrap();
        assert_eq!(bits(&net), bits(&reference));
    }
    let mut without = valid.clone();
    without.remove(counter);
    let mut net = fresh();
    load_safetensors(&mut net, &build(&without), &LoadOptions::new()).unwrap();
    assert_eq!(bits(&net), bits(&reference));

    let mut float = valid.clone();
    float[counter] = Entry::f32("1.num_batches_tracked", &[], &[1.0]);
    let mut net = fresh();
    let err = load_safetensors(&mut net, &build(&float), &LoadOptions::new()).unwrap_err();
    assert_eq!(
        err,
        LoadError::WrongDtype {
            name: "1.num_batches_tracked".into(),
            expected: "an integer dtype",
            found: "F32".into()
        }
    );
    assert_eq!(bits(&net), bits(&fresh()));
}

/// The header records the format, the network and its layers, for
/// `scripts/check_in_pytorch.py`.
#[test]
fn metadata_describes_the_network() {
    let net = Small::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(1));
    let file = save_safetensors(&net, Naming::Names);
    let (_, metadata) = SafeTensors::read_metadata(&file).unwrap();
    let m = metadata.metadata().as_ref().unwrap();
    assert_eq!(m["format"], "pt");
    assert_eq!(m["staticnn.network"], "Small");
    assert_eq!(m["staticnn.naming"], "names");
    assert_eq!(
        m["staticnn.layers"],
        concat!(
            r#"[{"key":"fc","kind":"Linear","in":3,"out":4,"params":16},"#,
            r#"{"key":"1","kind":"BatchNorm","in":4,"out":4,"params":8},"#,
            r#"{"key":"2","kind":"ReLU","in":4,"out":4,"params":0},"#,
            r#"{"key":"3","kind":"Linear","in":4,"out":2,"params":10}]"#
        )
    );
}

/// The blob's size is a constant of the network, its fingerprint depends on the
/// architecture only (not on names or the scalar type), and a blob of another architecture
/// (even one with as many parameters) is refused.
#[test]
fn blobs_are_sized_and_fingerprinted_at_compile_time() {
    network! { struct A { input: 3, Linear(4), Tanh, Linear(2) } }
    network! { struct Renamed { input: 3, hidden: Linear(4), act: Tanh, out: Linear(2) } }
    network! { struct OtherAct { input: 3, Linear(4), ReLU, Linear(2) } }
    network! { struct SameCount { input: 5, Linear(3), Tanh, Linear(2) } }
    const BYTES: usize = A::<f32>::BLOB_BYTES;
    assert_eq!(BYTES, 40 + 4 * (3 * 4 + 4 + 4 * 2 + 2));
    assert_eq!(A::<f64>::BLOB_BYTES, 40 + 8 * 26);
    assert_eq!(io::blob_bytes::<f32, A<f32>, 3, 2>(), A::<f32>::BLOB_BYTES);
    assert_eq!(A::<f32>::FINGERPRINT, A::<f64>::FINGERPRINT);
    assert_eq!(A::<f32>::FINGERPRINT, Renamed::<f32>::FINGERPRINT);
    assert_eq!(
        A::<f32>::FINGERPRINT,
        io::fingerprint(<A as Network<f32, 3, 2>>::LAYERS)
    );
    assert_ne!(A::<f32>::FINGERPRINT, OtherAct::<f32>::FINGERPRINT);
    assert_ne!(A::<f32>::FINGERPRINT, SameCount::<f32>::FINGERPRINT);
    assert_eq!(SameCount::<f32>::PARAMS, A::<f32>::PARAMS);

    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);
    let a = A::<f32>::new(&mut rng);
    let mut blob = [0u8; BYTES];
    to_bytes(&a, &mut blob).unwrap();
    let mut renamed = Renamed::<f32>::new(&mut rng);
    from_bytes(&mut renamed, &blob).unwrap();
    assert_eq!(renamed.params.hidden.weight, a.params.layer0.weight);
    let mut other = OtherAct::<f32>::new(&mut rng);
    let before = other;
    assert_eq!(
        from_bytes(&mut other, &blob),
        Err(BlobError::WrongArchitecture {
            expected: OtherAct::<f32>::FINGERPRINT,
            found: A::<f32>::FINGERPRINT,
        })
    );
    assert_eq!(other, before);
}

/// The inference-only form is another architecture, with its own keys: a file saved from
/// it loads into a fresh inference network, and a training network's blob is refused.
#[test]
fn the_inference_form_has_its_own_tensors() {
    let net = trained::<f32>(9);
    let inference = net.to_inference();
    let file = save_safetensors(&inference, Naming::Sequential);
    let keys: Vec<String> = entries(&file).into_iter().map(|e| e.name).collect();
    // fc1 (batch norm folded), PReLU, maxout, tanh, offset, leaky ReLU, norm (kept: it
    // follows an activation), ELU, sigmoid, ReLU, out, softmax.
    assert_eq!(
        keys,
        [
            "0.bias",
            "0.weight",
            "1.weight",
            "10.bias",
            "10.weight",
            "2.bias",
            "2.weight",
            "4.params",
            "4.state",
            "6.bias",
            "6.num_batches_tracked",
            "6.running_mean",
            "6.running_var",
            "6.weight",
        ]
    );
    let mut copy = trained::<f32>(10).to_inference();
    load_safetensors(&mut copy, &file, &LoadOptions::new()).unwrap();
    assert_eq!(bits(&copy), bits(&inference));

    let mut blob = vec![0u8; Every::<f32>::BLOB_BYTES];
    to_bytes(&net, &mut blob).unwrap();
    assert!(matches!(
        from_bytes(&mut copy, &blob),
        Err(BlobError::WrongArchitecture { .. })
    ));
}

network! {
    /// About 2.1 million parameters (8 MB in f32): far more than a test thread's stack.
    struct Big {
        input: 1024,
        Linear(1024),
        ReLU,
        Linear(1024),
        Linear(16),
    }
}

/// Loading and saving a network bigger than the stack works in place on a boxed network:
/// nothing is copied onto the stack.
#[test]
fn a_network_bigger_than_the_stack_loads_in_place() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(11);
    let net = Big::<f32>::new_boxed(&mut rng);
    let file = save_safetensors(&*net, Naming::Sequential);
    let mut copy = staticnn::block::zeroed_box::<Big<f32>>();
    load_safetensors(
        &mut *copy,
        &file,
        &LoadOptions::new().reject_non_finite(true),
    )
    .unwrap();
    assert!(bits(&*copy) == bits(&*net));

    let mut blob = vec![0u8; Big::<f32>::BLOB_BYTES];
    to_bytes(&*net, &mut blob).unwrap();
    let mut copy = staticnn::block::zeroed_box::<Big<f32>>();
    from_bytes(&mut *copy, &blob).unwrap();
    assert!(bits(&*copy) == bits(&*net));
}
