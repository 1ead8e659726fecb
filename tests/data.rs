//! The data module: batching, splits, pre-processing, augmentation and test-time
//! augmentation, each checked against hand-worked values or exhaustive bookkeeping; the
//! typed errors; and that none of it touches the heap (the counting allocator of
//! `tests/common/counting_alloc.rs`).
//!
//! Samples in the batching tests carry their own identity: sample `i` is `[i, 100 + i]`
//! with label `i % 3`, so a batch can be read back and checked column by column.

use std::collections::BTreeSet;
use std::hint::black_box;

use staticnn::data::{
    ChannelMean, Chw, DataError, GaussianNoise, MeanImage, RandomCrop, RandomFlip, RandomTranslate,
    Ratio, Standardise, Window, shuffle, split, split_stratified, tta,
};
use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};

#[allow(dead_code)]
#[path = "../examples/common/digits.rs"]
mod digits;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::heap_ops;

// ---------------------------------------------------------------------------------------
// Fixtures.

/// Samples in the batching tests.
const N: usize = 23;
/// Batch size in the batching tests; `N % B == 3`.
const B: usize = 5;

fn rng(seed: u64) -> Xoshiro128PlusPlus {
    Xoshiro128PlusPlus::seed_from_u64(seed)
}

/// Sample `i` is `[i, 100 + i]`.
fn inputs<const M: usize>() -> [[f32; 2]; M] {
    std::array::from_fn(|i| [i as f32, 100.0 + i as f32])
}

/// Label of sample `i`.
fn labels<const M: usize>() -> [usize; M] {
    std::array::from_fn(|i| i % 3)
}

/// The samples in the first `valid` columns of a batch, after checking that each column
/// is a whole sample with its own label and that padded columns are zero.
fn read_batch<const C: usize>(
    x: &SMatrix<f32, 2, C>,
    y: &[ClassIndex<3>; C],
    valid: usize,
) -> Vec<usize> {
    (0..C)
        .filter_map(|b| {
            if b >= valid {
                assert_eq!((x[(0, b)], x[(1, b)], y[b].get()), (0.0, 0.0, 0), "padding");
                return None;
            }
            let id = x[(0, b)] as usize;
            assert_eq!(x[(1, b)], 100.0 + id as f32, "column {b} mixes samples");
            assert_eq!(y[b].get(), id % 3, "column {b} has another sample's label");
            Some(id)
        })
        .collect()
}

/// Every epoch as the list of its batches (samples and valid count).
type Epoch = Vec<(Vec<usize>, usize)>;

/// Runs `epochs` epochs (started with `start_epoch`) and records them.
fn run_epochs<const C: usize>(
    data: Dataset<'_, f32, 2, usize>,
    policy: Remainder,
    seed: u64,
    epochs: usize,
) -> Vec<Epoch> {
    let mut order = vec![0usize; data.len()];
    let mut loader = Loader::new(data, &mut order, policy).expect("valid loader");
    let mut x = SMatrix::<f32, 2, C>::zeros();
    let mut y = [ClassIndex::<3>::default(); C];
    let mut rng = rng(seed);
    (0..epochs)
        .map(|_| {
            loader.start_epoch(&mut rng);
            let announced = loader.remaining();
            let mut epoch = Vec::new();
            while let Some(valid) = loader.next_batch(&mut x, &mut y, &mut rng) {
                epoch.push((read_batch(&x, &y, valid), valid));
                assert_eq!(loader.remaining(), announced - epoch.len());
            }
            assert_eq!(
                epoch.len(),
                announced,
                "remaining() at the start of the epoch"
            );
            assert_eq!(loader.next_batch(&mut x, &mut y, &mut rng), None);
            epoch
        })
        .collect()
}

fn samples_of(epoch: &Epoch) -> Vec<usize> {
    epoch.iter().flat_map(|(s, _)| s.iter().copied()).collect()
}

// ---------------------------------------------------------------------------------------
// Dataset and its errors.

#[test]
fn dataset_rejects_mismatched_lengths() {
    let xs = inputs::<4>();
    assert_eq!(
        Dataset::new(&xs, &[0usize; 3]).unwrap_err(),
        DataError::LengthMismatch {
            inputs: 4,
            targets: 3
        }
    );
    assert_eq!(
        Dataset::<f32, 2, usize>::new(&[], &[1]).unwrap_err(),
        DataError::LengthMismatch {
            inputs: 0,
            targets: 1
        }
    );
    let flat = [0.0f32; 7];
    assert_eq!(
        Dataset::<_, 3, _>::from_flat(&flat, &[0u8, 1]).unwrap_err(),
        DataError::RaggedInputs { len: 7, width: 3 }
    );
    assert_eq!(
        Dataset::<_, 3, _>::from_flat(&flat[..6], &[0u8]).unwrap_err(),
        DataError::LengthMismatch {
            inputs: 2,
            targets: 1
        }
    );
}

#[test]
fn selection_reads_the_chosen_rows() {
    let xs = inputs::<6>();
    let ys = labels::<6>();
    let all = Dataset::new(&xs, &ys).unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(all.get(6), None);
    let rows = [5, 0, 3];
    let some = all.select(&rows).unwrap();
    assert_eq!(some.len(), 3);
    assert_eq!(some.row(0), Some(5));
    assert_eq!(some.row(3), None);
    assert_eq!(some.get(2), Some((&[3.0, 103.0], &0)));
    let read: Vec<_> = some.iter().map(|(x, y)| (x[0], *y)).collect();
    assert_eq!(read, [(5.0, 2), (0.0, 0), (3.0, 0)]);
    // Selecting from a selection numbers rows in the original slices.
    assert_eq!(some.select(&[1]).unwrap().get(0).unwrap().0[0], 1.0);
    assert_eq!(
        all.select(&[2, 6]).unwrap_err(),
        DataError::RowOutOfRange { row: 6, rows: 6 }
    );
}

#[test]
fn loader_rejects_bad_configurations_and_labels() {
    let xs = inputs::<N>();
    let mut ys = labels::<N>();
    let data = Dataset::new(&xs, &ys).unwrap();

    type Classes = [ClassIndex<3>; B];
    let mut short = [0usize; N - 1];
    let err = Loader::<_, 2, _, Classes, B>::new(data, &mut short, Remainder::Drop);
    assert_eq!(
        err.err(),
        Some(DataError::BufferLength {
            expected: N,
            found: N - 1
        })
    );

    let none = Dataset::<f32, 2, usize>::new(&[], &[]).unwrap();
    let err = Loader::<_, 2, _, Classes, B>::new(none, &mut [], Remainder::Pad);
    assert_eq!(err.err(), Some(DataError::Empty));

    let few = data.select(&[0, 1, 2]).unwrap();
    let mut order = [0usize; 3];
    let err = Loader::<_, 2, _, Classes, B>::new(few, &mut order, Remainder::Drop);
    assert_eq!(
        err.err(),
        Some(DataError::TooFewSamples {
            samples: 3,
            batch: B
        })
    );
    // Wrap and Pad cope with fewer samples than a batch.
    assert!(Loader::<_, 2, _, Classes, B>::new(few, &mut order, Remainder::Wrap).is_ok());
    assert!(Loader::<_, 2, _, Classes, B>::new(few, &mut order, Remainder::Pad).is_ok());

    // Labels are checked against the class count of the batch targets, by row.
    ys[17] = 3;
    let data = Dataset::new(&xs, &ys).unwrap();
    let mut order = [0usize; N];
    let err = Loader::<_, 2, _, Classes, B>::new(data, &mut order, Remainder::Drop);
    assert_eq!(
        err.err(),
        Some(DataError::LabelOutOfRange {
            row: 17,
            label: 3,
            classes: 3
        })
    );
    // Four classes admit it; a selection without row 17 does not contain it.
    type Four = [ClassIndex<4>; B];
    assert!(Loader::<_, 2, _, Four, B>::new(data, &mut order, Remainder::Drop).is_ok());
    let rows: Vec<usize> = (0..N).filter(|&r| r != 17).collect();
    let mut order = vec![0usize; N - 1];
    let without = data.select(&rows).unwrap();
    assert!(Loader::<_, 2, _, Classes, B>::new(without, &mut order, Remainder::Drop).is_ok());
    // The row reported is the row of the original slices, also through a selection.
    let mut order = [0usize; 2];
    let picked = data.select(&[3, 17]).unwrap();
    let err = Loader::<_, 2, _, [ClassIndex<3>; 2], 2>::new(picked, &mut order, Remainder::Drop);
    assert_eq!(
        err.err(),
        Some(DataError::LabelOutOfRange {
            row: 17,
            label: 3,
            classes: 3
        })
    );

    // u8 labels, and labels that are already `ClassIndex`.
    let small = [0u8, 1, 2, 200];
    let xs4 = inputs::<4>();
    let data = Dataset::new(&xs4, &small).unwrap();
    let mut order = [0usize; 4];
    let err = Loader::<_, 2, _, [ClassIndex<3>; 2], 2>::new(data, &mut order, Remainder::Drop);
    assert_eq!(
        err.err(),
        Some(DataError::LabelOutOfRange {
            row: 3,
            label: 200,
            classes: 3
        })
    );
    let typed = [ClassIndex::<3>::new(2).unwrap(); 4];
    let data = Dataset::new(&xs4, &typed).unwrap();
    assert!(
        Loader::<_, 2, _, [ClassIndex<3>; 2], 2>::new(data, &mut order, Remainder::Drop).is_ok()
    );
}

#[test]
fn no_batch_before_an_epoch_starts() {
    let xs = inputs::<N>();
    let ys = labels::<N>();
    let mut order = [0usize; N];
    let mut loader = Loader::new(Dataset::new(&xs, &ys).unwrap(), &mut order, Remainder::Drop)
        .expect("valid loader");
    let mut x = SMatrix::<f32, 2, B>::zeros();
    let mut y = [ClassIndex::<3>::default(); B];
    assert_eq!(loader.remaining(), 0);
    assert_eq!(loader.next_batch(&mut x, &mut y, &mut rng(0)), None);
    assert_eq!(x, SMatrix::<f32, 2, B>::zeros(), "nothing written");
}

// ---------------------------------------------------------------------------------------
// Batching.

#[test]
fn drop_covers_all_but_the_remainder_once_per_epoch() {
    let xs = inputs::<N>();
    let ys = labels::<N>();
    let epochs = run_epochs::<B>(Dataset::new(&xs, &ys).unwrap(), Remainder::Drop, 7, 20);
    let mut left_out = BTreeSet::new();
    for epoch in &epochs {
        assert_eq!(epoch.len(), N / B);
        assert!(epoch.iter().all(|(s, valid)| *valid == B && s.len() == B));
        let seen = samples_of(epoch);
        let distinct: BTreeSet<_> = seen.iter().copied().collect();
        assert_eq!(distinct.len(), N / B * B, "a sample came twice");
        assert!(distinct.iter().all(|&i| i < N));
        left_out.extend((0..N).filter(|i| !distinct.contains(i)));
    }
    // Reshuffling leaves out a different remainder each time: over 20 epochs, most samples
    // have been left out at least once.
    assert!(left_out.len() > N / 2, "left out: {left_out:?}");
}

#[test]
fn same_seed_same_batches_and_every_epoch_reshuffled() {
    let xs = inputs::<N>();
    let ys = labels::<N>();
    let data = Dataset::new(&xs, &ys).unwrap();
    let a = run_epochs::<B>(data, Remainder::Drop, 42, 6);
    let b = run_epochs::<B>(data, Remainder::Drop, 42, 6);
    assert_eq!(a, b, "same seed, same batches");
    let c = run_epochs::<B>(data, Remainder::Drop, 43, 6);
    assert_ne!(a, c, "another seed, other batches");
    for (i, e) in a.iter().enumerate() {
        for f in &a[i + 1..] {
            assert_ne!(samples_of(e), samples_of(f), "two epochs in the same order");
        }
    }
    // Not the identity order either.
    assert_ne!(samples_of(&a[0]), (0..N / B * B).collect::<Vec<_>>());
}

#[test]
fn order_is_fisher_yates_from_the_callers_generator() {
    let xs = inputs::<N>();
    let ys = labels::<N>();
    let mut order = [0usize; N];
    let mut loader = Loader::new(Dataset::new(&xs, &ys).unwrap(), &mut order, Remainder::Drop)
        .expect("valid loader");
    let mut x = SMatrix::<f32, 2, B>::zeros();
    let mut y = [ClassIndex::<3>::default(); B];
    let mut r = rng(9);
    loader.start_epoch(&mut r);
    // The same draws by hand.
    let mut expected: Vec<usize> = (0..N).collect();
    let mut by_hand = rng(9);
    for i in (1..N).rev() {
        let j = by_hand.random_range(0..=i);
        expected.swap(i, j);
    }
    assert_eq!(loader.order(), &expected[..]);
    loader.next_batch(&mut x, &mut y, &mut r);
    assert_eq!(read_batch(&x, &y, B), expected[..B]);
    // `shuffle` is the same algorithm.
    let mut again: Vec<usize> = (0..N).collect();
    shuffle(&mut again, &mut rng(9));
    assert_eq!(again, expected);
}

#[test]
fn wrap_streams_whole_permutations_back_to_back() {
    let xs = inputs::<N>();
    let ys = labels::<N>();
    let data = Dataset::new(&xs, &ys).unwrap();
    let epochs = run_epochs::<B>(data, Remainder::Wrap, 5, 12);
    // Batches are always full; epoch lengths follow the carried-over offset.
    let mut offset = 0;
    for epoch in &epochs {
        assert!(epoch.iter().all(|(s, valid)| *valid == B && s.len() == B));
        assert_eq!(epoch.len(), (N - offset).div_ceil(B), "offset {offset}");
        offset = (offset + epoch.len() * B) % N;
    }
    let stream: Vec<usize> = epochs.iter().flat_map(samples_of).collect();
    let whole = stream.len() / N;
    assert!(whole >= 10);
    let mut perms = Vec::new();
    for chunk in stream.chunks(N).take(whole) {
        let set: BTreeSet<_> = chunk.iter().copied().collect();
        assert_eq!(set.len(), N, "each stretch of N samples is a permutation");
        perms.push(chunk.to_vec());
    }
    let distinct: BTreeSet<_> = perms.iter().collect();
    assert_eq!(distinct.len(), perms.len(), "every permutation is fresh");
    // Deterministic too.
    assert_eq!(epochs, run_epochs::<B>(data, Remainder::Wrap, 5, 12));
}

#[test]
fn wrap_with_fewer_samples_than_a_batch() {
    let xs = inputs::<3>();
    let ys = labels::<3>();
    let epochs = run_epochs::<8>(Dataset::new(&xs, &ys).unwrap(), Remainder::Wrap, 1, 6);
    let stream: Vec<usize> = epochs.iter().flat_map(samples_of).collect();
    assert_eq!(stream.len(), 6 * 8);
    for chunk in stream.chunks_exact(3) {
        let set: BTreeSet<_> = chunk.iter().copied().collect();
        assert_eq!(set, BTreeSet::from([0, 1, 2]));
    }
}

#[test]
fn pad_fills_the_last_batch_with_zeros_and_reports_it() {
    let xs = inputs::<N>();
    let ys = labels::<N>();
    let data = Dataset::new(&xs, &ys).unwrap();
    for epoch in run_epochs::<B>(data, Remainder::Pad, 3, 4) {
        let valid: Vec<_> = epoch.iter().map(|(_, v)| *v).collect();
        assert_eq!(valid, [5, 5, 5, 5, 3]);
        let mut seen = samples_of(&epoch);
        seen.sort_unstable();
        assert_eq!(
            seen,
            (0..N).collect::<Vec<_>>(),
            "every sample exactly once"
        );
    }
    // Fewer samples than a batch: one padded batch.
    let few = data.select(&[4, 9]).unwrap();
    let mut order = [0usize; 2];
    let mut loader = Loader::new(few, &mut order, Remainder::Pad).expect("valid loader");
    let mut x = SMatrix::<f32, 2, B>::from_element(7.0);
    let mut y = [ClassIndex::<3>::new(2).unwrap(); B];
    loader.start_in_order();
    assert_eq!(loader.next_batch(&mut x, &mut y, &mut rng(0)), Some(2));
    assert_eq!(read_batch(&x, &y, 2), [4, 9]);
    assert_eq!(loader.next_batch(&mut x, &mut y, &mut rng(0)), None);
}

#[test]
fn in_order_epochs_follow_the_data() {
    let xs = inputs::<N>();
    let ys = labels::<N>();
    let rows: Vec<usize> = (0..N).rev().collect();
    let data = Dataset::new(&xs, &ys).unwrap().select(&rows).unwrap();
    let mut order = [0usize; N];
    let mut loader = Loader::new(data, &mut order, Remainder::Wrap).expect("valid loader");
    let mut x = SMatrix::<f32, 2, B>::zeros();
    let mut y = [ClassIndex::<3>::default(); B];
    let mut r = rng(0);
    loader.start_epoch(&mut r); // a shuffled epoch first, cut short
    loader.next_batch(&mut x, &mut y, &mut r);
    loader.start_in_order();
    let mut seen = Vec::new();
    while let Some(valid) = loader.next_batch(&mut x, &mut y, &mut r) {
        seen.extend(read_batch(&x, &y, valid));
    }
    // The selection's order (rows 22 down to 0), wrapping round to its start.
    let expected: Vec<usize> = (0..25).map(|k| N - 1 - k % N).collect();
    assert_eq!(seen, expected);
}

#[test]
fn target_vectors_become_target_matrices() {
    let xs = inputs::<N>();
    let ts: [[f64; 3]; N] = std::array::from_fn(|i| [i as f64, -(i as f64), 0.5]);
    let xs64: [[f64; 2]; N] = xs.map(|x| x.map(f64::from));
    let data = Dataset::new(&xs64, &ts).unwrap();
    let mut order = [0usize; N];
    let mut loader = Loader::new(data, &mut order, Remainder::Pad).expect("valid loader");
    let mut x = SMatrix::<f64, 2, B>::zeros();
    let mut t = SMatrix::<f64, 3, B>::from_element(9.0);
    let mut r = rng(2);
    loader.start_epoch(&mut r);
    let mut count = 0;
    while let Some(valid) = loader.next_batch(&mut x, &mut t, &mut r) {
        for b in 0..B {
            let id = x[(0, b)];
            let expected = if b < valid { [id, -id, 0.5] } else { [0.0; 3] };
            assert_eq!([t[(0, b)], t[(1, b)], t[(2, b)]], expected);
        }
        count += valid;
    }
    assert_eq!(count, N);
}

// ---------------------------------------------------------------------------------------
// Splits.

/// Checks that the three parts are sorted, disjoint and cover `0..n`.
fn assert_partition(s: &staticnn::data::Split<'_>, n: usize) {
    let mut all = Vec::new();
    for part in [s.train, s.validation, s.test] {
        assert!(part.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
        all.extend_from_slice(part);
    }
    all.sort_unstable();
    assert_eq!(all, (0..n).collect::<Vec<_>>(), "disjoint and complete");
}

#[test]
fn split_is_deterministic_disjoint_and_follows_the_rule() {
    let mut rows = [0usize; 50];
    let s = split(&mut rows, 10, 5, &mut rng(4)).unwrap();
    assert_eq!(
        (s.train.len(), s.validation.len(), s.test.len()),
        (35, 10, 5)
    );
    assert_partition(&s, 50);
    let (train, validation, test) = (s.train.to_vec(), s.validation.to_vec(), s.test.to_vec());

    // The documented rule, by hand.
    let mut perm: Vec<usize> = (0..50).collect();
    shuffle(&mut perm, &mut rng(4));
    let mut parts = [
        perm[..35].to_vec(),
        perm[35..45].to_vec(),
        perm[45..].to_vec(),
    ];
    parts.iter_mut().for_each(|p| p.sort_unstable());
    assert_eq!([train.clone(), validation.clone(), test.clone()], parts);

    let mut again = [0usize; 50];
    let s2 = split(&mut again, 10, 5, &mut rng(4)).unwrap();
    assert_eq!(
        (s2.train, s2.validation, s2.test),
        (&train[..], &validation[..], &test[..])
    );
    let mut other = [0usize; 50];
    let s3 = split(&mut other, 10, 5, &mut rng(5)).unwrap();
    assert_ne!(s3.test, &test[..]);

    let mut rows = [0usize; 4];
    assert_eq!(
        split(&mut rows, 3, 2, &mut rng(0)).unwrap_err(),
        DataError::SplitTooLarge {
            samples: 4,
            requested: 5
        }
    );
    let s = split(&mut rows, 0, 4, &mut rng(0)).unwrap();
    assert_eq!((s.train.len(), s.test.len()), (0, 4));
}

#[test]
fn stratified_split_keeps_class_proportions_by_the_rule() {
    // 3 classes of 21, 10 and 3 samples: class 1 interleaved with class 0, class 2 last.
    let labels: Vec<u16> = (0..34)
        .map(|i| match i {
            31.. => 2,
            i if i % 3 == 1 => 1,
            _ => 0,
        })
        .collect();
    let count = |c| labels.iter().filter(|&&l| l == c).count();
    let sizes = [count(0), count(1), count(2)];
    assert_eq!(sizes, [21, 10, 3]);
    let ratio = Ratio {
        train: 3,
        validation: 1,
        test: 1,
    };
    let mut rows = vec![0usize; 34];
    let s = split_stratified::<3>(&labels, &mut rows, ratio, &mut rng(8)).unwrap();
    assert_partition(&s, 34);

    // The rule: within each class, in permutation order, k mod 5 in 0..3 → train, 3 →
    // validation, 4 → test.
    let mut perm: Vec<usize> = (0..34).collect();
    shuffle(&mut perm, &mut rng(8));
    let mut seen = [0usize; 3];
    let mut parts = [Vec::new(), Vec::new(), Vec::new()];
    for &r in &perm {
        let c = labels[r] as usize;
        let part = match seen[c] % 5 {
            0..=2 => 0,
            3 => 1,
            _ => 2,
        };
        seen[c] += 1;
        parts[part].push(r);
    }
    parts.iter_mut().for_each(|p| p.sort_unstable());
    assert_eq!(
        [s.train.to_vec(), s.validation.to_vec(), s.test.to_vec()],
        parts
    );
    // So the per-class counts are exact functions of the class sizes.
    for (c, &m) in sizes.iter().enumerate() {
        let in_part = |p: &[usize]| p.iter().filter(|&&r| labels[r] as usize == c).count();
        let (full, rest) = (m / 5, m % 5);
        assert_eq!(in_part(s.train), 3 * full + rest.min(3), "class {c}");
        assert_eq!(
            in_part(s.validation),
            full + usize::from(rest > 3),
            "class {c}"
        );
        assert_eq!(in_part(s.test), full, "class {c}");
    }

    let mut again = vec![0usize; 34];
    let s2 = split_stratified::<3>(&labels, &mut again, ratio, &mut rng(8)).unwrap();
    assert_eq!(s, s2, "deterministic");

    let mut rows = vec![0usize; 34];
    let zero = Ratio {
        train: 0,
        validation: 0,
        test: 0,
    };
    assert_eq!(
        split_stratified::<3>(&labels, &mut rows, zero, &mut rng(0)).unwrap_err(),
        DataError::EmptyRatio
    );
    assert_eq!(
        split_stratified::<2>(&labels, &mut rows, ratio, &mut rng(0)).unwrap_err(),
        DataError::LabelOutOfRange {
            row: 31,
            label: 2,
            classes: 2
        }
    );
    assert_eq!(
        split_stratified::<3>(&labels, &mut rows[..30], ratio, &mut rng(0)).unwrap_err(),
        DataError::BufferLength {
            expected: 34,
            found: 30
        }
    );
}

#[test]
fn split_rows_select_datasets() {
    let xs = inputs::<N>();
    let ys = labels::<N>();
    let data = Dataset::new(&xs, &ys).unwrap();
    let mut rows = [0usize; N];
    let s = split_stratified::<3>(
        &ys,
        &mut rows,
        Ratio {
            train: 4,
            validation: 0,
            test: 1,
        },
        &mut rng(1),
    )
    .unwrap();
    let train = data.select(s.train).unwrap();
    let test = data.select(s.test).unwrap();
    assert_eq!(train.len() + test.len(), N);
    for (x, y) in test.iter() {
        assert!(s.test.contains(&(x[0] as usize)));
        assert_eq!(*y, x[0] as usize % 3);
    }
}

// ---------------------------------------------------------------------------------------
// Pre-processing.

fn mean_and_std(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = values.clone().count() as f64;
    let mean = values.clone().sum::<f64>() / n;
    let var = values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[test]
fn standardisation_gives_mean_zero_and_std_one_on_the_training_set() {
    let mut r = rng(12);
    // Features of very different scales and offsets, one constant, one almost constant.
    let scales = [1.0, 1e-4, 1e4, 3.0, 0.0, 0.5];
    let offsets = [0.0, 5.0, -1e5, 1e3, 7.25, 0.0];
    let mut xs: Vec<[f64; 6]> = (0..200)
        .map(|_| std::array::from_fn(|k| offsets[k] + scales[k] * r.random_range(-1.0..1.0)))
        .collect();
    let ys = vec![(); xs.len()];
    let s = Standardise::fit(&Dataset::new(&xs, &ys).unwrap()).unwrap();
    assert_eq!(s.std[4], 1.0, "a constant feature keeps σ = 1");
    assert_eq!(s.mean[4], 7.25);
    let probe = [offsets[0], 0.0, 0.0, 0.0, 8.25, 0.0];
    s.apply_all(&mut xs);
    for k in 0..6 {
        let (mean, std) = mean_and_std(xs.iter().map(|x| x[k]));
        // Feature 1 varies by 1e-4 around 5: rounding μ costs ~1e-16·5/σ ≈ 1e-11.
        assert!(mean.abs() < 1e-9, "feature {k}: mean {mean}");
        let want = if k == 4 { 0.0 } else { 1.0 };
        assert!((std - want).abs() < 1e-9, "feature {k}: σ {std}");
    }
    // Applied elsewhere, it uses the training statistics: the constant feature is centred.
    let mut p = probe;
    s.apply(&mut p);
    assert_eq!(p[4], 1.0);

    // f32 data, statistics accumulated in f64.
    let xs32: Vec<[f32; 6]> = (0..1000)
        .map(|_| {
            std::array::from_fn(|k| (offsets[k] + scales[k] * r.random_range(-1.0..1.0)) as f32)
        })
        .collect();
    let ys = vec![0u8; xs32.len()];
    let s = Standardise::fit(&Dataset::new(&xs32, &ys).unwrap()).unwrap();
    let mut batch = SMatrix::<f32, 6, 1000>::from_fn(|k, b| xs32[b][k]);
    s.apply_batch(&mut batch);
    // (Feature 1, 5 ± 1e-4, is left out: f32 cannot hold its mean to better than 2e-7,
    // which is 4e-3 of its σ.)
    for k in [0, 2, 3, 5] {
        let (mean, std) = mean_and_std(batch.row(k).iter().map(|&v| f64::from(v)));
        assert!(mean.abs() < 1e-4, "f32 feature {k}: mean {mean}");
        assert!((std - 1.0).abs() < 1e-4, "f32 feature {k}: σ {std}");
    }
    assert!(batch.row(4).iter().all(|&v| v == 0.0));

    let none: [[f32; 6]; 0] = [];
    assert_eq!(
        Standardise::fit(&Dataset::new(&none, &[(); 0]).unwrap()).unwrap_err(),
        DataError::Empty
    );
}

#[test]
fn standardisation_on_a_selection_uses_only_its_rows() {
    let xs = [[0.0f64], [2.0], [100.0], [4.0]];
    let data = Dataset::new(&xs, &[(); 4]).unwrap();
    let s = Standardise::fit(&data.select(&[0, 1, 3]).unwrap()).unwrap();
    assert_eq!(s.mean, [2.0]);
    assert!((s.std[0] - (8.0f64 / 3.0).sqrt()).abs() < 1e-15);
}

#[test]
fn standardisation_replaces_the_digits_examples_own() {
    let data = digits::load();
    let ds = Dataset::new(&data.train_x, &data.train_y).unwrap();
    let s = Standardise::fit(&ds).unwrap();
    // The formula examples/digits.rs writes out, in f64.
    let n = data.train_x.len() as f64;
    for k in 0..digits::FEATURES {
        let (mean, std) = mean_and_std(data.train_x.iter().map(|x| f64::from(x[k])));
        assert!((f64::from(s.mean[k]) - mean).abs() < 1e-6);
        if std > 1e-3 {
            assert!(
                (f64::from(s.std[k]) - std).abs() < 1e-6 * std.max(1.0),
                "pixel {k}"
            );
        } else {
            assert_eq!(std, 0.0, "pixel {k}: rarely-lit pixels have σ > 1e-3 here");
            assert_eq!(s.std[k], 1.0);
        }
    }
    let mut train = data.train_x.clone();
    s.apply_all(&mut train);
    for k in 0..digits::FEATURES {
        let (mean, std) = mean_and_std(train.iter().map(|x| f64::from(x[k])));
        assert!(mean.abs() < 1e-5, "pixel {k}: mean {mean}");
        assert!((std - 1.0).abs() < 1e-4 || std == 0.0, "pixel {k}: σ {std}");
    }
    assert!(n > 1000.0);
}

#[test]
fn mean_image_and_channel_mean_by_hand() {
    // Two 2-channel 1×3 images.
    let xs = [
        [1.0f64, 2.0, 3.0, 10.0, 20.0, 30.0],
        [3.0, 4.0, 5.0, 30.0, 40.0, 50.0],
    ];
    let data = Dataset::new(&xs, &[(); 2]).unwrap();

    let m = MeanImage::fit(&data).unwrap();
    assert_eq!(m.mean, [2.0, 3.0, 4.0, 20.0, 30.0, 40.0]);
    let mut x = xs[1];
    m.apply(&mut x);
    assert_eq!(x, [1.0, 1.0, 1.0, 10.0, 10.0, 10.0]);

    let c = ChannelMean::<f64, 2>::fit(&data).unwrap();
    assert_eq!(c.mean, [3.0, 30.0]);
    let mut batch = SMatrix::<f64, 6, 2>::from_fn(|k, b| xs[b][k]);
    c.apply_batch(&mut batch);
    assert_eq!(
        batch.as_slice(),
        [
            -2.0, -1.0, 0.0, -20.0, -10.0, 0.0, 0.0, 1.0, 2.0, 0.0, 10.0, 20.0
        ]
    );
    let mut again = xs;
    c.apply_all(&mut again);
    assert_eq!(again.as_flattened(), batch.as_slice());
}

// ---------------------------------------------------------------------------------------
// Augmentation.

/// A 2-channel 3×4 image, pixel `(c, r, w)` = `100c + 10r + w`.
fn image() -> [f32; 24] {
    std::array::from_fn(|i| {
        let (c, r, w) = (i / 12, (i / 4) % 3, i % 4);
        (100 * c + 10 * r + w) as f32
    })
}

type Img = Chw<2, 3, 4>;

#[test]
fn flip_mirrors_each_row() {
    let mut x = image();
    Img::hflip(&mut x);
    #[rustfmt::skip]
    let expected = [
        3., 2., 1., 0.,   13., 12., 11., 10.,   23., 22., 21., 20.,
        103., 102., 101., 100.,   113., 112., 111., 110.,   123., 122., 121., 120.,
    ];
    assert_eq!(x, expected);
    assert_eq!(Img::index(1, 2, 3), 23);
    assert_eq!(x[Img::index(1, 2, 3)], 120.0);

    let (never, always) = (
        RandomFlip::<2, 3, 4>::new(0.0),
        RandomFlip::<2, 3, 4>::new(1.0),
    );
    let mut r = rng(0);
    let mut x = image();
    never.augment(&mut x, &mut r);
    assert_eq!(x, image());
    always.augment(&mut x, &mut r);
    assert_eq!(x, expected);

    // p = 0.5: each column flips or not, about half of them.
    let mut batch = SMatrix::<f32, 24, 400>::from_fn(|k, _| image()[k]);
    RandomFlip::<2, 3, 4>::default().augment_batch(&mut batch, &mut r);
    let flipped = batch
        .column_iter()
        .filter(|c| {
            let c: [f32; 24] = c.as_slice().try_into().unwrap();
            assert!(c == image() || c == expected);
            c == expected
        })
        .count();
    assert!((160..240).contains(&flipped), "{flipped} of 400 flipped");
}

#[test]
fn translation_moves_pixels_and_fills_zeros() {
    // Down 1, left 2: pixel (c, r, w) takes (c, r − 1, w + 2).
    let mut x = image();
    Img::translate(&mut x, 1, -2);
    #[rustfmt::skip]
    let expected = [
        0., 0., 0., 0.,   2., 3., 0., 0.,   12., 13., 0., 0.,
        0., 0., 0., 0.,   102., 103., 0., 0.,   112., 113., 0., 0.,
    ];
    assert_eq!(x, expected);

    // Up 2, right 1.
    let mut x = image();
    Img::translate(&mut x, -2, 1);
    #[rustfmt::skip]
    let expected = [
        0., 20., 21., 22.,   0., 0., 0., 0.,   0., 0., 0., 0.,
        0., 120., 121., 122.,   0., 0., 0., 0.,   0., 0., 0., 0.,
    ];
    assert_eq!(x, expected);

    // Every move against a direct formula, including moves off the image.
    for dy in -4isize..=4 {
        for dx in -5isize..=5 {
            let mut x = image();
            Img::translate(&mut x, dy, dx);
            for c in 0..2 {
                for r in 0..3isize {
                    for w in 0..4isize {
                        let (sr, sw) = (r - dy, w - dx);
                        let want = if (0..3).contains(&sr) && (0..4).contains(&sw) {
                            image()[Img::index(c, sr as usize, sw as usize)]
                        } else {
                            0.0
                        };
                        let got = x[Img::index(c, r as usize, w as usize)];
                        assert_eq!(got, want, "move ({dy}, {dx}) at ({c}, {r}, {w})");
                    }
                }
            }
        }
    }
    let mut x = image();
    Img::translate(&mut x, 0, 0);
    assert_eq!(x, image());
}

#[test]
fn random_translation_draws_every_offset_in_range() {
    let aug = RandomTranslate::<2, 3, 4>::new(1, 2);
    let mut r = rng(3);
    let mut offsets = BTreeSet::new();
    for _ in 0..600 {
        let mut x = image();
        aug.augment(&mut x, &mut r);
        let found: Vec<_> = (-1isize..=1)
            .flat_map(|dy| (-2isize..=2).map(move |dx| (dy, dx)))
            .filter(|&(dy, dx)| {
                let mut y = image();
                Img::translate(&mut y, dy, dx);
                y == x
            })
            .collect();
        assert_eq!(found.len(), 1, "not a move within range: {x:?}");
        offsets.insert(found[0]);
    }
    assert_eq!(offsets.len(), 15, "every offset drawn");
}

#[test]
fn gaussian_noise_has_the_requested_spread_and_the_same_draws_in_f32_and_f64() {
    let noise = GaussianNoise { std: 0.5 };
    let mut x = SMatrix::<f64, 100, 100>::from_element(2.0);
    noise.augment_batch(&mut x, &mut rng(6));
    let (mean, std) = mean_and_std(x.iter().copied());
    assert!((mean - 2.0).abs() < 0.02, "mean {mean}");
    assert!((std - 0.5).abs() < 0.02, "σ {std}");

    let mut a = [0.0f64; 16];
    let mut b = [0.0f32; 16];
    noise.augment(&mut a, &mut rng(7));
    noise.augment(&mut b, &mut rng(7));
    assert_eq!(a.map(|v| v as f32), b);
}

#[test]
fn augmentations_chain_in_order() {
    // Flip (always), then a horizontal move: flipping after moving would differ.
    let chain = (
        RandomFlip::<2, 3, 4>::new(1.0),
        RandomTranslate::<2, 3, 4>::new(0, 1),
    );
    let mut r = rng(0);
    let mut moves = BTreeSet::new();
    for _ in 0..30 {
        let mut x = image();
        chain.augment(&mut x, &mut r);
        let dx = (-1isize..=1)
            .find(|&dx| {
                let mut y = image();
                Img::hflip(&mut y);
                Img::translate(&mut y, 0, dx);
                y == x
            })
            .expect("a flip followed by a move");
        if dx != 0 {
            let mut other = image();
            Img::translate(&mut other, 0, dx);
            Img::hflip(&mut other);
            assert_ne!(other, x);
        }
        moves.insert(dx);
    }
    assert_eq!(moves.len(), 3);

    // Three in a row: flip, no noise, flip again.
    let triple = (
        RandomFlip::<2, 3, 4>::new(1.0),
        GaussianNoise { std: 0.0 },
        RandomFlip::<2, 3, 4>::new(1.0),
    );
    let mut batch = SMatrix::<f32, 24, 2>::from_fn(|k, _| image()[k]);
    triple.augment_batch(&mut batch, &mut r);
    assert!(batch.column_iter().all(|c| c.as_slice() == image()));
}

// ---------------------------------------------------------------------------------------
// Crops and test-time augmentation.

#[test]
fn windows_crop_where_they_should() {
    type Win = Window<2, 3, 4, 2, 2>;
    let x = image();
    let mut out = [0.0f32; 8];
    let cases: [(Win, [f32; 8]); 6] = [
        (Win::TOP_LEFT, [0., 1., 10., 11., 100., 101., 110., 111.]),
        (Win::TOP_RIGHT, [2., 3., 12., 13., 102., 103., 112., 113.]),
        (
            Win::BOTTOM_LEFT,
            [10., 11., 20., 21., 110., 111., 120., 121.],
        ),
        (
            Win::BOTTOM_RIGHT,
            [12., 13., 22., 23., 112., 113., 122., 123.],
        ),
        // H − CH = 1, W − CW = 2: round(0.5) = 0 (half to even), round(1.0) = 1.
        (Win::CENTRE, [1., 2., 11., 12., 101., 102., 111., 112.]),
        (
            Win::BOTTOM_RIGHT.mirror(),
            [13., 12., 23., 22., 113., 112., 123., 122.],
        ),
    ];
    for (w, expected) in cases {
        w.extract(&x, &mut out);
        assert_eq!(out, expected, "{w:?}");
    }
    assert_eq!((Win::CENTRE.top(), Win::CENTRE.left()), (0, 1));
    assert!(Win::CENTRE.mirror().is_mirrored() && !Win::CENTRE.mirror().mirror().is_mirrored());
    assert_eq!(Win::new(1, 2), Some(Win::BOTTOM_RIGHT));
    assert_eq!(Win::new(2, 0), None);
    assert_eq!(Win::new(0, 3), None);
    assert_eq!((Win::IN, Win::OUT), (24, 8));

    // Rounding half to even, as torchvision: margins 1, 3, 5, 7 → 0, 2, 2, 4.
    assert_eq!(Window::<1, 2, 2, 1, 1>::CENTRE.top(), 0);
    assert_eq!(Window::<1, 4, 4, 1, 1>::CENTRE.top(), 2);
    assert_eq!(Window::<1, 6, 6, 1, 1>::CENTRE.top(), 2);
    assert_eq!(Window::<1, 8, 8, 1, 1>::CENTRE.top(), 4);
    assert_eq!(Window::<1, 8, 8, 4, 4>::CENTRE.top(), 2);

    // A batch: each column cropped alike.
    let batch = SMatrix::<f32, 24, 3>::from_fn(|k, b| x[k] + 1000.0 * b as f32);
    let mut crops = SMatrix::<f32, 8, 3>::zeros();
    Win::CENTRE.extract_batch(&batch, &mut crops);
    for b in 0..3 {
        let want: Vec<f32> = [1., 2., 11., 12., 101., 102., 111., 112.]
            .iter()
            .map(|v| v + 1000.0 * b as f32)
            .collect();
        assert_eq!(crops.column(b).as_slice(), &want[..]);
    }
}

#[test]
fn random_crops_are_windows_and_reach_every_place() {
    let crop = RandomCrop::<2, 3, 4, 2, 2>;
    let mut r = rng(10);
    let mut places = BTreeSet::new();
    let x = image();
    for _ in 0..300 {
        let w = crop.window(&mut r);
        places.insert((w.top(), w.left()));
        assert!(!w.is_mirrored());
    }
    assert_eq!(places.len(), 2 * 3);
    let batch = SMatrix::<f32, 24, 50>::from_fn(|k, _| x[k]);
    let mut out = SMatrix::<f32, 8, 50>::zeros();
    crop.apply_batch(&batch, &mut out, &mut r);
    for column in out.column_iter() {
        // Pixel (0, 0, 0) of a crop gives its place.
        let (top, left) = ((column[0] / 10.0) as usize, (column[0] % 10.0) as usize);
        let mut want = [0.0f32; 8];
        Window::<2, 3, 4, 2, 2>::new(top, left)
            .unwrap()
            .extract(&x, &mut want);
        assert_eq!(column.as_slice(), want);
    }
}

network! {
    /// Output 0 is the first pixel of a 1×2×2 crop; output 1 is always 0.
    struct Probe {
        input: 4,
        fc: Linear(2),
    }
}

fn probe() -> Probe<f64> {
    let mut net = Probe::<f64>::new(&mut rng(0));
    let p = net.params_mut();
    p.fc.weight = SMatrix::<f64, 2, 4>::new(1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    p.fc.bias = SVector::<f64, 2>::zeros();
    net
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

#[test]
fn ten_crop_averages_softmax_probabilities() {
    // A 1×3×3 image; the network sees 2×2 crops, and class 0's probability on a crop is
    // sigmoid(first pixel of the crop).
    let img = [0.5, -1.0, 2.0, 1.5, 0.0, -2.5, 3.0, 1.0, -0.5];
    let x = SMatrix::<f64, 9, 1>::from_column_slice(&img);
    let net = probe();
    let views = Window::<1, 3, 3, 2, 2>::TEN_CROP;
    let p = tta::probabilities(&net, &x, &views);

    // First pixels of the ten views: the corners (0,0) (0,1) (1,0) (1,1), the centre at
    // round(0.5) = 0 → (0,0); mirrored, the first pixel is the window's top-right one.
    let first = [
        img[0], img[1], img[3], img[4], img[0], img[1], img[2], img[4], img[5], img[1],
    ];
    let want = first.iter().map(|&z| sigmoid(z)).sum::<f64>() / 10.0;
    assert!((p[(0, 0)] - want).abs() < 1e-15, "{} vs {want}", p[(0, 0)]);
    assert!((p[(0, 0)] + p[(1, 0)] - 1.0).abs() < 1e-15);

    // One view is the plain softmax of the network on that crop.
    let p1 = tta::probabilities(&net, &x, &[Window::<1, 3, 3, 2, 2>::BOTTOM_RIGHT]);
    assert!((p1[(0, 0)] - sigmoid(img[4])).abs() < 1e-15);

    // A batch: each column on its own; `classify` takes the larger average.
    let x2 = SMatrix::<f64, 9, 2>::from_fn(|k, b| if b == 0 { img[k] } else { -img[k] });
    let p2 = tta::probabilities(&net, &x2, &views);
    assert!((p2[(0, 0)] - want).abs() < 1e-15);
    let want_neg = first.iter().map(|&z| sigmoid(-z)).sum::<f64>() / 10.0;
    assert!((p2[(0, 1)] - want_neg).abs() < 1e-15);
    let expected_classes = [usize::from(want < 0.5), usize::from(want_neg < 0.5)];
    assert_eq!(tta::classify(&net, &x2, &views), expected_classes);
}

// ---------------------------------------------------------------------------------------
// End to end, and no heap.

network! {
    /// A small digits classifier.
    struct Digits {
        input: 64,
        Linear(32),
        ReLU,
        Linear(10),
        loss: SoftmaxCrossEntropy,
    }
}

#[test]
fn digits_train_through_the_data_module() {
    let data = digits::load();
    let train = Dataset::new(&data.train_x, &data.train_y).unwrap();
    let norm = Standardise::fit(&train).unwrap();
    let mut test_x = data.test_x.clone();
    norm.apply_all(&mut test_x);

    let mut rng = rng(2026);
    let mut net = Digits::<f32>::new(&mut rng);
    let mut tape = Digits::<f32>::tape::<16>();
    let mut grads = Digits::<f32>::gradients();
    let mut sgd = Sgd::new(0.05f32);
    let mut order = vec![0usize; train.len()];
    let mut loader = Loader::new(train, &mut order, Remainder::Drop).unwrap();
    let mut x = SMatrix::<f32, 64, 16>::zeros();
    let mut y = [ClassIndex::<10>::default(); 16];
    for _ in 0..10 {
        loader.start_epoch(&mut rng);
        while loader.next_batch(&mut x, &mut y, &mut rng).is_some() {
            norm.apply_batch(&mut x);
            net.train_step(&x, &y, &mut grads, &mut tape, &mut sgd, &mut rng)
                .unwrap();
        }
    }
    let test = Dataset::new(&test_x, &data.test_y).unwrap();
    let mut order = vec![0usize; test.len()];
    let mut loader = Loader::new(test, &mut order, Remainder::Pad).unwrap();
    loader.start_in_order();
    let (mut correct, mut total) = (0, 0);
    while let Some(valid) = loader.next_batch(&mut x, &mut y, &mut rng) {
        let predicted = net.classify(&x);
        correct += (0..valid).filter(|&b| predicted[b] == y[b].get()).count();
        total += valid;
    }
    assert_eq!(total, 355);
    let accuracy = correct as f64 / total as f64;
    assert!(accuracy > 0.9, "accuracy {accuracy}");
}

#[test]
fn nothing_here_allocates() {
    let (v, n) = heap_ops(|| Vec::<u8>::with_capacity(1));
    drop(v);
    assert!(n >= 1, "the counting allocator is not in effect");

    let xs = inputs::<N>();
    let ys = labels::<N>();
    let images: [[f32; 24]; 8] = std::array::from_fn(|i| image().map(|v| v + i as f32));
    let image_labels = [0u8, 1, 2, 0, 1, 2, 0, 1];
    let net = probe();
    let mut results: Vec<(&str, usize)> = Vec::new();
    let mut r = rng(1);

    let mut order = [0usize; N];
    let mut rows = [0usize; N];
    let ((), n) = heap_ops(|| {
        let data = Dataset::new(&xs, &ys).unwrap();
        let s = split(&mut rows, 4, 4, &mut r).unwrap();
        let train = data.select(s.train).unwrap();
        black_box(Standardise::fit(&train).unwrap());
    });
    results.push(("dataset, split, select, fit", n));

    let data = Dataset::new(&xs, &ys).unwrap();
    for policy in [Remainder::Drop, Remainder::Wrap, Remainder::Pad] {
        let (count, n) = heap_ops(|| {
            let mut loader = Loader::new(data, &mut order, policy).unwrap();
            let mut x = SMatrix::<f32, 2, B>::zeros();
            let mut y = [ClassIndex::<3>::default(); B];
            let mut count = 0;
            for _ in 0..3 {
                loader.start_epoch(&mut r);
                while loader.next_batch(&mut x, &mut y, &mut r).is_some() {
                    count += 1;
                }
            }
            loader.start_in_order();
            while loader.next_batch(&mut x, &mut y, &mut r).is_some() {
                count += 1;
            }
            count
        });
        assert!(count > 0);
        results.push(("loader epochs", n));
    }

    let mut rows = [0usize; N];
    let (_, n) = heap_ops(|| {
        let ratio = Ratio {
            train: 3,
            validation: 1,
            test: 1,
        };
        split_stratified::<3>(&ys, &mut rows, ratio, &mut r).map(|s| s.test.len())
    });
    results.push(("split_stratified", n));

    let image_data = Dataset::new(&images, &image_labels).unwrap();
    let mut batch = SMatrix::<f32, 24, 8>::from_fn(|k, b| images[b][k]);
    let (_, n) = heap_ops(|| {
        let s = Standardise::fit(&image_data).unwrap();
        let m = MeanImage::fit(&image_data).unwrap();
        let c = ChannelMean::<f32, 2>::fit(&image_data).unwrap();
        s.apply_batch(&mut batch);
        m.apply_batch(&mut batch);
        c.apply_batch(&mut batch);
    });
    results.push(("pre-processing", n));

    let (_, n) = heap_ops(|| {
        let aug = (
            RandomFlip::<2, 3, 4>::default(),
            RandomTranslate::<2, 3, 4>::new(1, 1),
            GaussianNoise { std: 0.1 },
        );
        aug.augment_batch(&mut batch, &mut r);
        let mut crops = SMatrix::<f32, 8, 8>::zeros();
        RandomCrop::<2, 3, 4, 2, 2>.apply_batch(&batch, &mut crops, &mut r);
        Window::<2, 3, 4, 2, 2>::CENTRE.extract_batch(&batch, &mut crops);
        crops
    });
    results.push(("augmentation and crops", n));

    let x = SMatrix::<f64, 9, 4>::from_fn(|k, b| (k * b) as f64 / 10.0);
    let (_, n) = heap_ops(|| {
        let views = Window::<1, 3, 3, 2, 2>::TEN_CROP;
        (
            tta::probabilities(&net, &x, &views),
            tta::classify(&net, &x, &views),
        )
    });
    results.push(("test-time augmentation", n));

    let offenders: Vec<_> = results.iter().filter(|(_, n)| *n != 0).collect();
    assert!(offenders.is_empty(), "heap operations: {offenders:?}");
    assert_eq!(results.len(), 8);
}

#[test]
fn errors_explain_themselves() {
    let errors = [
        DataError::LengthMismatch {
            inputs: 3,
            targets: 2,
        },
        DataError::RaggedInputs { len: 7, width: 3 },
        DataError::RowOutOfRange { row: 9, rows: 4 },
        DataError::LabelOutOfRange {
            row: 1,
            label: 12,
            classes: 10,
        },
        DataError::BufferLength {
            expected: 5,
            found: 4,
        },
        DataError::Empty,
        DataError::TooFewSamples {
            samples: 3,
            batch: 8,
        },
        DataError::SplitTooLarge {
            samples: 4,
            requested: 5,
        },
        DataError::EmptyRatio,
    ];
    let messages: BTreeSet<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), errors.len());
    assert_eq!(
        errors[3].to_string(),
        "row 1 has label 12, but there are 10 classes"
    );
}
