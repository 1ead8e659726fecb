//! Every way a weights file can be wrong gives its own typed error that says what is wrong,
//! never a panic, and leaves the network as it was: each `LoadError` and `BlobError`
//! variant is produced by a crafted file, a valid file is cut at every length, and every
//! byte of it is altered in turn.
#![cfg(feature = "safetensors")]

#[allow(dead_code)]
mod io_support;

use io_support::{Entry, Small, bits, build, entries};
use safetensors::Dtype;
use staticnn::io::{
    BlobError, FORMAT_VERSION, HEADER_BYTES, LoadError, LoadOptions, MAGIC, Naming, from_bytes,
    load_safetensors, save_safetensors, to_bytes,
};
use staticnn::prelude::*;
use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};

fn reference() -> Small<f32> {
    Small::new(&mut Xoshiro128PlusPlus::seed_from_u64(1))
}

/// A network that is not the reference, to load into.
fn target() -> Small<f32> {
    Small::new(&mut Xoshiro128PlusPlus::seed_from_u64(2))
}

fn valid_file() -> Vec<u8> {
    save_safetensors(&reference(), Naming::Sequential)
}

/// Loads `bytes` into a fresh target with `options`; on error, checks that the target is
/// unchanged.
fn load_with(bytes: &[u8], options: &LoadOptions<'_>) -> Result<(), LoadError> {
    let mut net = target();
    let result = load_safetensors(&mut net, bytes, options);
    if result.is_err() {
        assert_eq!(
            bits(&net),
            bits(&target()),
            "a failed load changed the network"
        );
    } else {
        assert_ne!(bits(&net), bits(&target()));
    }
    result
}

fn load(bytes: &[u8]) -> Result<(), LoadError> {
    load_with(bytes, &LoadOptions::new())
}

/// `valid_file()` with one change to its tensors.
fn edited(edit: impl FnOnce(&mut Vec<Entry>)) -> Vec<u8> {
    let mut tensors = entries(&valid_file());
    edit(&mut tensors);
    build(&tensors)
}

fn position(tensors: &[Entry], name: &str) -> usize {
    tensors.iter().position(|e| e.name == name).unwrap()
}

#[test]
fn the_valid_file_loads() {
    let mut net = target();
    load_safetensors(&mut net, &valid_file(), &LoadOptions::new()).unwrap();
    assert_eq!(bits(&net), bits(&reference()));
}

/// Cut at every length, the file is reported truncated, with the length it needs: 8 bytes
/// for the header length, then the header, then the data.
#[test]
fn truncated_at_every_length() {
    let file = valid_file();
    let header = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    for len in 0..file.len() {
        let needed = if len < 8 {
            8
        } else if len < 8 + header {
            8 + header
        } else {
            file.len()
        };
        assert_eq!(
            load(&file[..len]),
            Err(LoadError::Truncated { needed, found: len }),
            "cut at {len}"
        );
    }
    assert_eq!(
        LoadError::Truncated {
            needed: 8,
            found: 3
        }
        .to_string(),
        "the file is truncated: it has 3 bytes, but needs at least 8"
    );
}

/// Not safetensors at all, or corrupt: a PyTorch `.pt` file (a zip archive), text, an
/// empty JSON header, a header that is not JSON, bytes after the data, overlapping
/// offsets.
#[test]
fn not_safetensors_or_corrupt_is_malformed() {
    let reason = |bytes: &[u8]| match load(bytes) {
        Err(LoadError::Malformed { reason }) => reason,
        other => panic!("expected Malformed, got {other:?}"),
    };
    let mut zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec();
    zip.resize(200, 0x5a);
    assert!(
        reason(&zip).contains("over the 100 MB limit"),
        "{}",
        reason(&zip)
    );

    let text = b"hello, this is not a weights file at all".to_vec();
    assert!(load(&text).is_err());

    let header = |h: &str| {
        let mut f = (h.len() as u64).to_le_bytes().to_vec();
        f.extend_from_slice(h.as_bytes());
        f
    };
    assert!(reason(&header("not json")).contains("not a safetensors JSON header"));
    assert!(reason(&header("[1, 2, 3]")).contains("not a safetensors JSON header"));
    assert!(reason(&header("{\"a\": 1}")).contains("not a safetensors JSON header"));
    let mut not_utf8 = header("{\"x\":  }");
    not_utf8[12] = 0xff;
    assert_eq!(reason(&not_utf8), "the header is not UTF-8 text");
    let overlap = header(
        r#"{"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"0.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
    );
    let mut overlap = overlap;
    overlap.extend_from_slice(&[0; 8]);
    assert!(
        reason(&overlap).contains("invalid data offsets"),
        "{}",
        reason(&overlap)
    );
    let bad_size = header(r#"{"0.bias":{"dtype":"F32","shape":[3],"data_offsets":[0,4]}}"#);
    let mut bad_size = bad_size;
    bad_size.extend_from_slice(&[0; 4]);
    assert!(reason(&bad_size).contains("do not match its shape"));

    let mut trailing = valid_file();
    trailing.extend_from_slice(&[0; 5]);
    assert_eq!(
        reason(&trailing),
        "5 bytes follow the end of the tensor data"
    );
    assert_eq!(
        LoadError::Malformed {
            reason: "5 bytes follow the end of the tensor data".into()
        }
        .to_string(),
        "not a valid safetensors file: 5 bytes follow the end of the tensor data"
    );
}

#[test]
fn a_missing_tensor_is_named() {
    for name in ["0.weight", "1.running_var", "3.bias"] {
        let file = edited(|t| {
            let i = position(t, name);
            t.remove(i);
        });
        let err = load(&file).unwrap_err();
        assert_eq!(err, LoadError::MissingTensor { name: name.into() });
        assert_eq!(
            err.to_string(),
            format!("tensor `{name}` of the network is missing from the file")
        );
    }
}

#[test]
fn an_unexpected_tensor_is_named() {
    for name in ["4.weight", "fc.weight", "1.momentum", "0.weight_orig"] {
        let file = edited(|t| t.push(Entry::f32(name, &[1], &[0.5])));
        let err = load(&file).unwrap_err();
        assert_eq!(err, LoadError::UnexpectedTensor { name: name.into() });
        assert_eq!(
            err.to_string(),
            format!("the file holds tensor `{name}`, which the network does not have")
        );
    }
    // Under a prefix, tensors without it are ignored, and tensors with it must belong.
    let mut tensors = entries(&valid_file());
    for e in &mut tensors {
        e.name = format!("model.{}", e.name);
    }
    tensors.push(Entry::f32("optimizer.step", &[1], &[3.0]));
    assert_eq!(
        load_with(&build(&tensors), &LoadOptions::new().prefix("model.")),
        Ok(())
    );
    tensors.push(Entry::f32("model.9.bias", &[1], &[3.0]));
    assert_eq!(
        load_with(&build(&tensors), &LoadOptions::new().prefix("model.")),
        Err(LoadError::UnexpectedTensor {
            name: "model.9.bias".into()
        })
    );
}

#[test]
fn a_wrong_shape_gives_both_shapes() {
    // The weight written in staticnn's own orientation, [in, out], instead of PyTorch's.
    let file = edited(|t| {
        let i = position(t, "0.weight");
        t[i].shape = vec![3, 4];
    });
    let err = load(&file).unwrap_err();
    assert_eq!(
        err,
        LoadError::WrongShape {
            name: "0.weight".into(),
            expected: &[4, 3],
            found: vec![3, 4]
        }
    );
    assert_eq!(
        err.to_string(),
        "tensor `0.weight` has shape [3, 4] in the file, but [4, 3] in the network"
    );
    // A scalar for a one-element vector, and a flattened matrix.
    let file = edited(|t| {
        let i = position(t, "3.bias");
        t[i] = Entry::f32("3.bias", &[1, 2], &[1.0, 2.0]);
    });
    assert!(matches!(load(&file), Err(LoadError::WrongShape { .. })));
    let file = edited(|t| {
        let i = position(t, "3.weight");
        t[i].shape = vec![8];
    });
    assert!(matches!(load(&file), Err(LoadError::WrongShape { .. })));
}

/// `num_batches_tracked` is a scalar (`[]`) in PyTorch; a file that holds it in another
/// shape is refused, as PyTorch's strict `load_state_dict` refuses it ("size mismatch for
/// 1.num_batches_tracked"), though its value is never read.
#[test]
fn a_counter_of_the_wrong_shape_is_refused() {
    for shape in [vec![3], vec![1], vec![0], vec![1, 1]] {
        let n: usize = shape.iter().product();
        let file = edited(|t| {
            let i = position(t, "1.num_batches_tracked");
            t[i].shape = shape.clone();
            t[i].data = vec![0; 8 * n];
        });
        let err = load(&file).unwrap_err();
        assert_eq!(
            err,
            LoadError::WrongShape {
                name: "1.num_batches_tracked".into(),
                expected: &[],
                found: shape.clone()
            }
        );
        assert_eq!(
            err.to_string(),
            format!(
                "tensor `1.num_batches_tracked` has shape {shape:?} in the file, but [] in the network"
            )
        );
    }
}

#[test]
fn a_wrong_dtype_is_named() {
    for (dtype, size) in [
        (Dtype::F16, 2),
        (Dtype::BF16, 2),
        (Dtype::I32, 4),
        (Dtype::I64, 8),
        (Dtype::U8, 1),
        (Dtype::BOOL, 1),
        (Dtype::F8_E4M3, 1),
    ] {
        let file = edited(|t| {
            let i = position(t, "1.bias");
            t[i].dtype = dtype;
            t[i].data = vec![0; 4 * size];
        });
        let err = load(&file).unwrap_err();
        assert_eq!(
            err,
            LoadError::WrongDtype {
                name: "1.bias".into(),
                expected: "F32 or F64",
                found: dtype.to_string()
            }
        );
        assert_eq!(
            err.to_string(),
            format!("tensor `1.bias` is of dtype {dtype}, but must be F32 or F64")
        );
    }
}

/// NaN and infinity load unless the caller rejects them; then the first is named with its
/// element (in PyTorch's row-major order) and value.
#[test]
fn non_finite_values_are_rejected_on_request() {
    let reject = LoadOptions::new().reject_non_finite(true);
    for (value, name, index) in [
        (f32::NAN, "0.weight", 5usize),
        (f32::INFINITY, "1.running_mean", 0),
        (f32::NEG_INFINITY, "3.bias", 1),
    ] {
        let file = edited(|t| {
            let i = position(t, name);
            t[i].data[4 * index..4 * index + 4].copy_from_slice(&value.to_le_bytes());
        });
        assert_eq!(load(&file), Ok(()));
        let err = load_with(&file, &reject).unwrap_err();
        match &err {
            LoadError::NonFinite {
                name: n,
                index: i,
                value: v,
            } => {
                assert_eq!((n.as_str(), *i), (name, index));
                assert_eq!(v.to_bits(), f64::from(value).to_bits());
            }
            other => panic!("expected NonFinite, got {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            format!(
                "tensor `{name}` holds {} at element {index}, which is not finite in the network's scalar type",
                f64::from(value)
            )
        );
    }
    // In F64 too.
    let net = Small::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(3));
    let mut tensors = entries(&save_safetensors(&net, Naming::Sequential));
    let i = position(&tensors, "3.weight");
    tensors[i].data[8 * 7..8 * 8].copy_from_slice(&f64::NAN.to_le_bytes());
    let err = load_with(&build(&tensors), &reject).unwrap_err();
    assert!(
        matches!(err, LoadError::NonFinite { index: 7, .. }),
        "{err:?}"
    );
}

/// Found by `io_fuzz`: a finite F64 value beyond f32's range becomes infinity in an f32
/// network, so it is rejected as non-finite there (with its value in the file), and loads
/// into an f64 network.
#[test]
fn an_f64_value_too_large_for_f32_is_non_finite_in_f32() {
    let reject = LoadOptions::new().reject_non_finite(true);
    let net = Small::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(3));
    let mut tensors = entries(&save_safetensors(&net, Naming::Sequential));
    let i = position(&tensors, "0.bias");
    tensors[i].data[8..16].copy_from_slice(&1e300f64.to_le_bytes());
    let file = build(&tensors);
    assert_eq!(
        load_with(&file, &reject),
        Err(LoadError::NonFinite {
            name: "0.bias".into(),
            index: 1,
            value: 1e300
        })
    );
    // Printed short, not as the 301 digits of `{}`.
    assert_eq!(
        load_with(&file, &reject).unwrap_err().to_string(),
        "tensor `0.bias` holds 1e300 at element 1, which is not finite in the network's scalar type"
    );
    let mut net64 = Small::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(4));
    load_safetensors(&mut net64, &file, &reject).unwrap();
    assert_eq!(net64.params.fc.bias[1], 1e300);
}

/// Every byte of a valid file altered in turn: the load fails with an error (leaving the
/// network unchanged) or, for a byte of tensor data, loads the altered value. No panic.
#[test]
fn every_byte_altered() {
    let file = valid_file();
    let header = 8 + u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let mut rejected = 0;
    for i in 0..file.len() {
        for flip in [0x01u8, 0x20, 0x80, 0xff] {
            let mut bad = file.clone();
            bad[i] ^= flip;
            let result = load(&bad);
            if i >= header {
                assert_eq!(result, Ok(()), "a data byte at {i}");
            } else if result.is_err() {
                rejected += 1;
            }
        }
    }
    // Many header changes are harmless (a letter of the metadata's description of the
    // layers), the others are rejected.
    assert!(
        rejected > header,
        "{rejected} of {} header changes rejected",
        4 * header
    );
}

// ---------------------------------------------------------------------------------------
// Blobs

fn blob() -> Vec<u8> {
    let mut out = vec![0; Small::<f32>::BLOB_BYTES];
    assert_eq!(to_bytes(&reference(), &mut out), Ok(out.len()));
    out
}

fn read_blob(bytes: &[u8]) -> Result<(), BlobError> {
    let mut net = target();
    let result = from_bytes(&mut net, bytes);
    if result.is_err() {
        assert_eq!(
            bits(&net),
            bits(&target()),
            "a failed read changed the network"
        );
    }
    result
}

/// Recomputes the header checksum after an edit of the header (a forged but consistent
/// header), with zlib's CRC-32.
fn reseal(blob: &mut [u8]) {
    let crc = crc32(&blob[..36]);
    blob[36..40].copy_from_slice(&crc.to_le_bytes());
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

#[test]
fn the_blob_header_is_as_documented() {
    let b = blob();
    assert_eq!(&b[0..4], &MAGIC);
    assert_eq!(u16::from_le_bytes([b[4], b[5]]), FORMAT_VERSION);
    assert_eq!(b[6], 4);
    assert_eq!(b[7], 0);
    assert_eq!(
        u64::from_le_bytes(b[8..16].try_into().unwrap()),
        Small::<f32>::FINGERPRINT
    );
    assert_eq!(
        u64::from_le_bytes(b[16..24].try_into().unwrap()),
        Small::<f32>::PARAMS as u64
    );
    assert_eq!(u64::from_le_bytes(b[24..32].try_into().unwrap()), 8);
    assert_eq!(
        u32::from_le_bytes(b[32..36].try_into().unwrap()),
        crc32(&b[40..])
    );
    assert_eq!(
        u32::from_le_bytes(b[36..40].try_into().unwrap()),
        crc32(&b[..36])
    );
    assert_eq!(HEADER_BYTES, 40);
    // The payload is the parameter block then the state block, little-endian.
    let net = reference();
    let w = net.params.fc.weight[(2, 1)];
    let at = 40 + 4 * (4 + 2); // column-major: column 1 (4 rows before it), row 2
    assert_eq!(f32::from_le_bytes(b[at..at + 4].try_into().unwrap()), w);
}

#[test]
fn every_blob_error() {
    let good = blob();
    let mut small = vec![0u8; good.len() - 1];
    let err = to_bytes(&reference(), &mut small).unwrap_err();
    assert_eq!(
        err,
        BlobError::BufferTooSmall {
            needed: good.len(),
            found: good.len() - 1
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "the output buffer holds {} bytes, but the blob needs {}",
            good.len() - 1,
            good.len()
        )
    );
    assert!(small.iter().all(|&b| b == 0), "nothing is written");

    let n = good.len();
    let cases: Vec<(Vec<u8>, BlobError, String)> = vec![
        (
            good[..10].to_vec(),
            BlobError::WrongLength {
                expected: good.len(),
                found: 10,
            },
            format!("the blob is truncated: 10 bytes, but this network's blob is {n}"),
        ),
        (
            [&good[..], &[0, 0]].concat(),
            BlobError::WrongLength {
                expected: good.len(),
                found: good.len() + 2,
            },
            format!(
                "the blob is {} bytes, but this network's blob is {n}",
                n + 2
            ),
        ),
        (
            {
                let mut b = good.clone();
                b[0] = b'X';
                b
            },
            BlobError::NotABlob,
            "not a staticnn blob (it does not start with `SNNB`)".into(),
        ),
        (
            {
                let mut b = good.clone();
                b[4] = 2;
                reseal(&mut b);
                b
            },
            BlobError::UnsupportedVersion { found: 2 },
            "blob format version 2 is not supported (this staticnn reads version 1)".into(),
        ),
        (
            {
                let mut b = good.clone();
                b[9] ^= 1;
                b
            },
            BlobError::CorruptHeader,
            "the blob header is corrupt (checksum mismatch)".into(),
        ),
        (
            {
                // Format version 1 says the reserved byte is 0, even under a right checksum.
                let mut b = good.clone();
                b[7] = 0x80;
                reseal(&mut b);
                b
            },
            BlobError::ReservedNotZero { found: 0x80 },
            "the blob header's reserved byte 7 is 0x80, but must be 0 in format version 1".into(),
        ),
        (
            {
                let mut b = good.clone();
                b[50] ^= 1;
                b
            },
            BlobError::CorruptPayload,
            "the blob's parameters are corrupt (checksum mismatch)".into(),
        ),
        (
            {
                let mut b = good.clone();
                b[6] = 8;
                reseal(&mut b);
                b
            },
            BlobError::WrongScalar {
                expected: 4,
                found: 8,
            },
            "the blob holds f64 scalars (8 bytes each), but the network computes in f32 (4 bytes)"
                .into(),
        ),
        (
            {
                let mut b = good.clone();
                b[8] ^= 1;
                reseal(&mut b);
                b
            },
            BlobError::WrongArchitecture {
                expected: Small::<f32>::FINGERPRINT,
                found: Small::<f32>::FINGERPRINT ^ 1,
            },
            String::new(),
        ),
        (
            {
                // The right fingerprint with a forged parameter count.
                let mut b = good.clone();
                b[16] ^= 1;
                reseal(&mut b);
                b
            },
            BlobError::WrongArchitecture {
                expected: Small::<f32>::FINGERPRINT,
                found: Small::<f32>::FINGERPRINT,
            },
            String::new(),
        ),
    ];
    assert_eq!(n, HEADER_BYTES + 4 * (Small::<f32>::PARAMS + 8));
    for (bytes, expected, message) in cases {
        let err = read_blob(&bytes).unwrap_err();
        assert_eq!(err, expected);
        if !message.is_empty() {
            assert_eq!(err.to_string(), message);
        }
    }
    let fp = Small::<f32>::FINGERPRINT;
    assert_eq!(
        BlobError::WrongArchitecture {
            expected: fp,
            found: 0x1234
        }
        .to_string(),
        format!(
            "the blob is for another architecture (fingerprint 0x0000000000001234; this network's is {fp:#018x})"
        )
    );
}

/// The checksums catch every change of a single byte and every cut or extension.
#[test]
fn every_blob_byte_altered_and_every_length() {
    let good = blob();
    assert_eq!(read_blob(&good), Ok(()));
    for i in 0..good.len() {
        for flip in 1..=255u8 {
            let mut bad = good.clone();
            bad[i] ^= flip;
            assert!(
                read_blob(&bad).is_err(),
                "byte {i} ^ {flip:#x} was accepted"
            );
        }
    }
    for len in 0..good.len() + 16 {
        if len != good.len() {
            let mut b = good.clone();
            b.resize(len, 0);
            assert!(read_blob(&b).is_err(), "length {len}");
        }
    }
}
