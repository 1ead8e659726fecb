//! The small inference workloads alone: W1 (2-16-16-1 tanh) and W2 (64-64-64-10 ReLU) at
//! batch 1, in a program that declares no other network (but W1 with dropout, whose
//! inference twin has W1's layers: the row `staticnn inference`), next to the same
//! baselines as in `benches/mlp.rs` (which declares every workload). W1's `forward_train`
//! at B = 1 and 8 too. Issue #20: a kernel entry point that
//! LLVM inlined into W1's `predict` in a program of W1 alone was called out of line in a
//! program that declared W2–W5 too, doubling W1's time; the two programs compare that.
//!
//! `cargo bench --features std --bench small` runs criterion and the summary;
//! `SUMMARY_ONLY= cargo bench --features std --bench small` the summary alone (as in
//! `benches/mlp.rs`).

include!("common/mod.rs");
include!("common/mlps.rs");

fn main() {
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(2026);
    let mut cases = peak_cases();
    cases.extend(w1_cases(&mut rng));
    cases.extend(w1_train_cases::<1>("W1 forward_train B=1"));
    cases.extend(w1_train_cases::<8>("W1 forward_train B=8"));
    cases.extend(w2_cases::<1>("W2 64-64-64-10 ReLU B=1", &mut rng));
    bench_main(cases);
}
