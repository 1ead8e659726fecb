//! Networks as `const`/`static` values read from blobs in `const` evaluation
//! (`network_from_blob!`): the value is what `io::from_bytes` loads, bit for bit, padding
//! included. A blob that does not fit is a compile error (`tests/ui/data/blob-*`).
//!
//! The blobs under `tests/fixtures/` are written by `to_bytes` from seeded networks; the test
//! `fixtures_are_what_to_bytes_writes` checks them and rewrites them with
//! `STATICNN_WRITE_FIXTURES=1`.

use staticnn::io;
use staticnn::prelude::*;
use staticnn::rand::SeedableRng;
use staticnn::rand::rngs::Xoshiro128PlusPlus;

network! { pub struct Small { input: 2, Linear(3), Tanh, Linear(1) } }

network! {
    /// State (running statistics, `Normalize`'s statistics) and a convolution.
    pub struct Stateful {
        input: [2, 5],
        Normalize,
        Conv1d(3, kernel = 3),
        BatchNorm,
        ReLU,
        Flatten,
        Linear(2),
    }
}

/// The seeded networks whose blobs are the fixtures, with state that is not the default.
fn small<T: Scalar>() -> Small<T> {
    Small::new(&mut Xoshiro128PlusPlus::seed_from_u64(7))
}

fn stateful() -> Stateful<f64> {
    let mut net = Stateful::<f64>::new(&mut Xoshiro128PlusPlus::seed_from_u64(8));
    // The layers' state, not the padding of x86-64 after it (which stays 0).
    let n: usize = <Stateful<f64> as Network<f64, 10, 2>>::LAYERS
        .iter()
        .map(|l| l.state)
        .sum();
    let s = staticnn::block::as_mut_slice::<f64, _>(&mut net.state);
    for (k, v) in s[..n].iter_mut().enumerate() {
        *v = 0.5 + k as f64 / 8.0;
    }
    net
}

fn blob<T: Scalar, N: Network<T, IN, OUT>, const IN: usize, const OUT: usize>(net: &N) -> Vec<u8> {
    let mut bytes = vec![0u8; io::blob_bytes::<T, N, IN, OUT>()];
    io::to_bytes(net, &mut bytes).unwrap();
    bytes
}

#[test]
fn fixtures_are_what_to_bytes_writes() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for (file, bytes) in [
        ("net-2-3-1.snnb", blob(&small::<f32>())),
        ("net-2-3-1-f64.snnb", blob(&small::<f64>())),
        ("stateful-f64.snnb", blob(&stateful())),
    ] {
        let path = dir.join(file);
        if std::env::var_os("STATICNN_WRITE_FIXTURES").is_some() {
            std::fs::write(&path, &bytes).unwrap();
        }
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{file} is stale");
    }
}

static SMALL: Small<f32> =
    staticnn::network_from_blob!(Small<f32>, include_bytes!("fixtures/net-2-3-1.snnb"));
const SMALL_F64: Small<f64> =
    staticnn::network_from_blob!(Small<f64>, include_bytes!("fixtures/net-2-3-1-f64.snnb"));
static STATEFUL: Stateful<f64> =
    staticnn::network_from_blob!(Stateful<f64>, include_bytes!("fixtures/stateful-f64.snnb"));

/// The `const` value equals the seeded network (the padding zero), so it equals what
/// `from_bytes` loads; with state, too.
#[test]
fn const_networks_equal_the_loaded_ones() {
    assert_eq!(SMALL, small::<f32>());
    assert_eq!(SMALL_F64, small::<f64>());
    assert_eq!(STATEFUL, stateful());
    let mut loaded = Stateful::<f64>::zeroed();
    io::from_bytes(&mut loaded, include_bytes!("fixtures/stateful-f64.snnb")).unwrap();
    assert_eq!(
        bytemuck::bytes_of(&STATEFUL),
        bytemuck::bytes_of(&loaded),
        "every byte, padding included"
    );
    // In a `let` too: the macro is a `const` block, evaluated at compile time.
    let local = staticnn::network_from_blob!(Small<f32>, include_bytes!("fixtures/net-2-3-1.snnb"));
    let x = SVector::<f32, 2>::new(0.25, -1.0);
    assert_eq!(local.predict(&x), small::<f32>().predict(&x));
}

network! {
    /// The sine firmware's network (`embedded/sine`).
    pub struct Sine { input: 1, fc1: Linear(16), act1: Tanh, fc2: Linear(16), act2: Tanh, out: Linear(1), loss: Mse }
}

/// The host half of `embedded/README.md`'s "Weights in flash" (its first snippet).
fn export_for_firmware(
    net: Sine<f32>,
    dir: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut blob = vec![0u8; Sine::<f32>::BLOB_BYTES];
    staticnn::io::to_bytes(&net, &mut blob)?;
    std::fs::write(dir.join("trained.snnb"), &blob)?; // `dir`: the firmware crate's `src/`
    Ok(())
}

/// The snippets of `embedded/README.md`'s "Weights in flash" are code that runs: the first is
/// [`export_for_firmware`] (run here; the blob it writes loads back into the network), the
/// second is the definition of `TRAINED` in `embedded/sine/src/trained.rs`, which
/// `embedded/check.sh` builds for both cores and checks against the host's network.
#[test]
fn embedded_readme_snippets_are_tested_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("embedded/README.md")).unwrap();
    let section = readme.split("## Weights in flash").nth(1).unwrap();
    let section = section.split("\n## ").next().unwrap();
    let snippets: Vec<&str> = section
        .split("```rust,ignore\n")
        .skip(1)
        .map(|s| s.split("```").next().unwrap())
        .collect();
    assert_eq!(snippets.len(), 2, "{section}");
    let trimmed = |s: &str| s.lines().map(str::trim).collect::<Vec<_>>().join("\n");
    let this = trimmed(include_str!("io_const.rs"));
    assert!(this.contains(&trimmed(snippets[0])), "{}", snippets[0]);
    let trained = std::fs::read_to_string(root.join("embedded/sine/src/trained.rs")).unwrap();
    assert!(
        trimmed(&trained).contains(&trimmed(snippets[1])),
        "{}",
        snippets[1]
    );

    let net = Sine::<f32>::new(&mut Xoshiro128PlusPlus::seed_from_u64(42));
    let dir = std::env::temp_dir().join(format!("staticnn-io-const-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    export_for_firmware(net, &dir).unwrap();
    let blob = std::fs::read(dir.join("trained.snnb")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let mut loaded = Sine::<f32>::zeroed();
    io::from_bytes(&mut loaded, &blob).unwrap();
    assert_eq!(loaded, net);
}
