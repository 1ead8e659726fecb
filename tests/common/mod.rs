//! Test-only helpers: reads the PyTorch reference tensors in `tests/fixtures/torch/` and
//! compares results against them.
//!
//! Every fixture tensor is float64 and row-major, in PyTorch's layout: a `Linear` weight is
//! `[out, in]`, a batch is `[B, features]` (one sample per *row*). staticnn keeps one sample
//! per *column*, so batches are transposed on the way in and on the way out.

use std::collections::BTreeMap;
use std::path::PathBuf;

use safetensors::{Dtype, SafeTensors};
use staticnn::{ClassIndex, SMatrix, Scalar};

/// One tensor of a fixture: its shape and its values in row-major order.
pub struct Tensor {
    /// Name in the fixture file, for messages.
    pub name: String,
    /// PyTorch shape.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f64>,
}

/// All tensors of one `.safetensors` fixture, by name.
pub struct Fixture {
    case: String,
    path: PathBuf,
    tensors: BTreeMap<String, Tensor>,
}

impl Fixture {
    /// Reads `tests/fixtures/torch/<case>.safetensors`; every tensor must be float64.
    pub fn load(case: &str) -> Fixture {
        Fixture::load_from("torch", case)
    }

    /// Reads `tests/fixtures/<dir>/<case>.safetensors`; every tensor must be float64.
    pub fn load_from(dir: &str, case: &str) -> Fixture {
        let path: PathBuf = [
            env!("CARGO_MANIFEST_DIR"),
            "tests",
            "fixtures",
            dir,
            &format!("{case}.safetensors"),
        ]
        .iter()
        .collect();
        let bytes =
            std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let file =
            SafeTensors::deserialize(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut tensors = BTreeMap::new();
        for (name, view) in file.iter() {
            assert_eq!(
                view.dtype(),
                Dtype::F64,
                "{case}: tensor `{name}` is {:?}, expected F64",
                view.dtype()
            );
            let data = view
                .data()
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("chunks of 8 bytes")))
                .collect::<Vec<_>>();
            assert_eq!(
                data.len(),
                view.shape().iter().product::<usize>(),
                "{case}: `{name}` has the wrong byte count"
            );
            tensors.insert(
                name.to_string(),
                Tensor {
                    name: name.to_string(),
                    shape: view.shape().to_vec(),
                    data,
                },
            );
        }
        Fixture {
            case: case.to_string(),
            path,
            tensors,
        }
    }

    /// The file the fixture was read from.
    #[allow(dead_code)]
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The tensor called `name`; panics with the list of names when there is none.
    pub fn get(&self, name: &str) -> &Tensor {
        self.tensors.get(name).unwrap_or_else(|| {
            let names: Vec<_> = self.tensors.keys().collect();
            panic!(
                "{}: no tensor `{name}`; the file holds {names:?}",
                self.case
            )
        })
    }

    /// The case's name, for messages.
    pub fn case(&self) -> &str {
        &self.case
    }

    /// The names of the tensors that start with `prefix`, sorted.
    pub fn names(&self, prefix: &str) -> Vec<String> {
        self.tensors
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// An `R × C` matrix from the row-major `[R, C]` tensor `name` (a `[R]` tensor when
    /// `C = 1`), each value rounded to `T`.
    pub fn matrix<T: Scalar, const R: usize, const C: usize>(
        &self,
        name: &str,
    ) -> SMatrix<T, R, C> {
        matrix_from_rows(self.get(name))
    }

    /// A batch of `B` samples of `N` features, one per column, from the `[B, N]` tensor `name`.
    pub fn batch<T: Scalar, const N: usize, const B: usize>(&self, name: &str) -> SMatrix<T, N, B> {
        batch_from_rows(self.get(name))
    }

    /// The single value of the `[1]` (or `[]`) tensor `name`, rounded to `T`.
    pub fn scalar<T: Scalar>(&self, name: &str) -> T {
        let t = self.get(name);
        assert_eq!(
            t.data.len(),
            1,
            "{}: `{name}` has shape {:?}, expected a single value",
            self.case,
            t.shape
        );
        T::of(t.data[0])
    }

    /// Asserts that `actual`, given in row-major order, matches the tensor `name` to within
    /// `rel` (see [`assert_close`]).
    pub fn assert_close(&self, name: &str, actual: &[f64], rel: f64) {
        let t = self.get(name);
        assert_close(
            &format!("{}: {name}", self.case),
            &t.shape,
            actual,
            &t.data,
            rel,
        );
    }
}

/// Fills an `R × C` matrix from a row-major `[R, C]` tensor (or `[R]` when `C = 1`).
pub fn matrix_from_rows<T: Scalar, const R: usize, const C: usize>(t: &Tensor) -> SMatrix<T, R, C> {
    let fits = t.shape == [R, C] || (C == 1 && t.shape == [R]);
    assert!(
        fits,
        "`{}` has shape {:?}, expected [{R}, {C}]",
        t.name, t.shape
    );
    SMatrix::from_fn(|r, c| T::of(t.data[r * C + c]))
}

/// Fills a batch matrix (`N` features × `B` samples, one sample per column) from a `[B, N]`
/// tensor (one sample per row), transposing it.
pub fn batch_from_rows<T: Scalar, const N: usize, const B: usize>(t: &Tensor) -> SMatrix<T, N, B> {
    matrix_from_rows::<T, B, N>(t).transpose()
}

/// The values of a matrix in row-major order, as `f64`.
pub fn row_major<T: Scalar, const R: usize, const C: usize>(m: &SMatrix<T, R, C>) -> Vec<f64> {
    (0..R)
        .flat_map(|r| (0..C).map(move |c| m[(r, c)].as_f64()))
        .collect()
}

/// The values of a batch matrix (one sample per column) in the `[B, N]` row-major order of a
/// PyTorch batch, as `f64`.
pub fn batch_rows<T: Scalar, const N: usize, const B: usize>(m: &SMatrix<T, N, B>) -> Vec<f64> {
    row_major(&m.transpose())
}

/// A target as stored in a fixture: class indices (stored as floats) or a `[B, N]` batch of
/// target values.
pub trait FromTarget {
    /// Reads the target from its tensor.
    fn from_target(t: &Tensor) -> Self;
}

impl<const N: usize, const B: usize> FromTarget for [ClassIndex<N>; B] {
    fn from_target(t: &Tensor) -> Self {
        assert_eq!(
            t.shape,
            [B],
            "`{}` has shape {:?}, expected [{B}] class indices",
            t.name,
            t.shape
        );
        core::array::from_fn(|b| {
            let v = t.data[b];
            assert!(
                v >= 0.0 && v.fract() == 0.0,
                "`{}`[{b}] = {v} is not a class index",
                t.name
            );
            ClassIndex::new(v as usize)
                .unwrap_or_else(|| panic!("`{}`[{b}] = {v} is not below {N}", t.name))
        })
    }
}

impl<T: Scalar, const N: usize, const B: usize> FromTarget for SMatrix<T, N, B> {
    fn from_target(t: &Tensor) -> Self {
        batch_from_rows(t)
    }
}

/// Asserts `|a − e| ≤ rel · max(1, |e|)` for every element: a relative error for values
/// above 1 in magnitude, an absolute one below (so that values near zero, whose relative
/// error means nothing, are not held to an impossible standard).
///
/// On failure, reports the worst element (by its error over its allowance) with its index
/// in `shape`, both values, and how many elements failed.
pub fn assert_close(what: &str, shape: &[usize], actual: &[f64], expected: &[f64], rel: f64) {
    assert_eq!(
        actual.len(),
        expected.len(),
        "{what}: {} values computed, {} expected (shape {shape:?})",
        actual.len(),
        expected.len()
    );
    let ratio = |a: f64, e: f64| {
        let r = (a - e).abs() / (rel * e.abs().max(1.0));
        if r.is_nan() { f64::INFINITY } else { r }
    };
    let failures = actual
        .iter()
        .zip(expected)
        .filter(|&(&a, &e)| ratio(a, e) > 1.0)
        .count();
    if failures == 0 {
        return;
    }
    let (worst, _) = actual
        .iter()
        .zip(expected)
        .map(|(&a, &e)| ratio(a, e))
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |best, (i, r)| {
            if r > best.1 { (i, r) } else { best }
        });
    let (a, e) = (actual[worst], expected[worst]);
    panic!(
        "{what}: {failures} of {} elements differ by more than {rel:e} (relative, floor 1); \
         worst at {:?}: got {a:e}, expected {e:e}, |difference| = {:e}",
        actual.len(),
        unflatten(worst, shape),
        (a - e).abs(),
    );
}

/// The multi-index of row-major position `i` in `shape`.
fn unflatten(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (slot, &n) in index.iter_mut().zip(shape).rev() {
        *slot = i % n.max(1);
        i /= n.max(1);
    }
    index
}
