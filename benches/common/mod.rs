// The parts of the benchmark programs that all share (`include!`d by `benches/mlp.rs`,
// which declares every workload, `benches/small.rs`, which declares only W1 and W2, and
// `benches/conv.rs`): the FMA peak loops, the interleaved summary, the phase trace and the
// command line (`common/mlps.rs` holds W1's and W2's networks, cases and baselines). The
// first two print the same summary, so W1's and W2's figures can be compared between a
// program that declares only them and one that declares all the workloads (issue #20:
// inlining decisions in the kernels depended on what else a crate declared).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use staticnn::block::zeroed_box;
use staticnn::prelude::*;
use staticnn::rand::rngs::Xoshiro128PlusPlus;
use staticnn::rand::{RngExt, SeedableRng};

/// One benchmarked piece of work: `run` does it once.
struct Case {
    group: &'static str,
    name: &'static str,
    flops: u64,
    /// Name of the case (in this group, or `group/name`) this one is compared with.
    reference: Option<&'static str>,
    run: Box<dyn FnMut()>,
}

impl Case {
    fn new(
        group: &'static str,
        name: &'static str,
        flops: u64,
        reference: Option<&'static str>,
        run: impl FnMut() + 'static,
    ) -> Self {
        Case {
            group,
            name,
            flops,
            reference,
            run: Box::new(run),
        }
    }

    fn id(&self) -> String {
        format!("{}/{}", self.group, self.name)
    }
}

// ---------------------------------------------------------------------------------------
// Peaks: register-blocked FMA loops, one per instruction set.

/// Independent accumulators of the peak loops (vectors of 8 lanes for AVX2, 16 for
/// AVX-512): enough to cover the latency of two FMA pipes on either.
const ACC: usize = 12;
/// Loop trips per call of a peak case.
const PEAK_TRIPS: usize = 20_000;

/// FLOPs per call of a peak case with `lanes` lanes: one FMA (2 FLOPs) per lane,
/// accumulator and trip.
const fn peak_flops(lanes: usize) -> u64 {
    (PEAK_TRIPS * ACC * lanes * 2) as u64
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,fma")]
fn fma_loop_avx(trips: usize, a: f32, b: f32) -> f32 {
    use std::arch::x86_64::{_mm256_add_ps, _mm256_fmadd_ps, _mm256_set1_ps, _mm256_storeu_ps};
    let va = _mm256_set1_ps(a);
    let vb = _mm256_set1_ps(b);
    let mut acc = [_mm256_set1_ps(1.0); ACC];
    for _ in 0..trips {
        for v in &mut acc {
            *v = _mm256_fmadd_ps(*v, va, vb);
        }
    }
    let mut s = acc[0];
    for v in &acc[1..] {
        s = _mm256_add_ps(s, *v);
    }
    let mut out = [0.0f32; 8];
    // SAFETY: `out` holds 8 floats; an unaligned store needs nothing more.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), s) };
    out.iter().sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn fma_loop_avx512(trips: usize, a: f32, b: f32) -> f32 {
    use std::arch::x86_64::{_mm512_add_ps, _mm512_fmadd_ps, _mm512_reduce_add_ps, _mm512_set1_ps};
    let va = _mm512_set1_ps(a);
    let vb = _mm512_set1_ps(b);
    let mut acc = [_mm512_set1_ps(1.0); ACC];
    for _ in 0..trips {
        for v in &mut acc {
            *v = _mm512_fmadd_ps(*v, va, vb);
        }
    }
    let mut s = acc[0];
    for v in &acc[1..] {
        s = _mm512_add_ps(s, *v);
    }
    _mm512_reduce_add_ps(s)
}

/// The AVX2 loop on plain arrays, for targets without AVX + FMA.
fn fma_loop_portable(trips: usize, a: f32, b: f32) -> f32 {
    let mut acc = [[1.0f32; 8]; ACC];
    for _ in 0..trips {
        for v in &mut acc {
            for x in v.iter_mut() {
                *x = *x * a + b;
            }
        }
    }
    acc.iter().flatten().sum()
}

fn fma_loop(trips: usize, a: f32, b: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx") && is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX and FMA, checked just above.
        return unsafe { fma_loop_avx(trips, a, b) };
    }
    fma_loop_portable(trips, a, b)
}

/// The peak cases this CPU runs: the AVX2-FMA loop (or its portable twin), and the
/// AVX-512 loop when the CPU has AVX-512F. The last one is the widest: the summary's
/// "% peak" is against it.
fn peak_cases() -> Vec<Case> {
    let mut cases = vec![Case::new("peak", "avx2+fma", peak_flops(8), None, || {
        black_box(fma_loop(
            black_box(PEAK_TRIPS),
            black_box(0.999_9),
            black_box(1e-4),
        ));
    })];
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f") {
        cases.push(Case::new("peak", "avx512", peak_flops(16), None, || {
            // SAFETY: the CPU has AVX-512F, checked just above.
            black_box(unsafe {
                fma_loop_avx512(
                    black_box(PEAK_TRIPS),
                    black_box(0.999_9),
                    black_box(1e-4),
                )
            });
        }));
    }
    cases
}

/// The CPU's model name (`/proc/cpuinfo` on Linux), or what is known of it elsewhere.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| format!("unknown ({})", std::env::consts::ARCH))
}

/// The CPU and what runs on it, printed above the summary: which instruction sets each
/// variant uses, and the peak of each set measured in the run.
fn print_machine(cases: &[Case], median: &[f64]) {
    use staticnn::__private::kernels::{cpu_path, path};
    #[cfg(target_arch = "x86_64")]
    let has = |f: &str| match f {
        "avx2" => is_x86_feature_detected!("avx2"),
        "fma" => is_x86_feature_detected!("fma"),
        "avx512f" => is_x86_feature_detected!("avx512f"),
        _ => false,
    };
    #[cfg(not(target_arch = "x86_64"))]
    let has = |_: &str| false;
    let features: Vec<&str> = ["avx2", "fma", "avx512f"]
        .into_iter()
        .filter(|f| has(f))
        .collect();
    println!();
    println!(
        "cpu: {} ({}; the CPU has: {})",
        cpu_model(),
        std::env::consts::ARCH,
        if features.is_empty() {
            "none of avx2, fma, avx512f".to_string()
        } else {
            features.join(", ")
        }
    );
    let p = path();
    println!(
        "staticnn: {} path: {}{}",
        p.name(),
        p.instructions(),
        if p < cpu_path() {
            format!(" (capped by STATICNN_KERNELS; the CPU runs {})", cpu_path().name())
        } else {
            String::new()
        }
    );
    println!(
        "  variants `staticnn <path>`: the same case on that path, in the same rounds; single \
         samples of small layers take the plain loops (multiply, then add) on every path, \
         here {}",
        if staticnn::__private::avx2_forward() {
            "on AVX2 (256-bit): the networks' forward runs its copy compiled for AVX2 + FMA"
        } else if cfg!(target_feature = "avx2") {
            "on AVX2 (256-bit), which the target enables"
        } else {
            "on the target's baseline instructions (x86-64 without AVX2 enabled: SSE2)"
        }
    );
    let baselines = cases
        .iter()
        .any(|c| c.group != "peak" && !c.name.starts_with("staticnn"));
    if baselines {
        println!(
        "baselines: nalgebra's products and arrays+libm: Rust for the target's baseline \
         (x86-64: SSE2); matrixmultiply (nalgebra+mm, sgemm): its own run-time choice, \
         here {}",
        if has("avx512f") {
            "AVX-512F"
        } else if has("avx2") && has("fma") {
            "AVX2 + FMA"
        } else {
            "SSE2 / AVX"
        }
    );
    }
    let rate = |k: usize| cases[k].flops as f64 / median[k] / 1e9;
    let peaks: Vec<String> = (0..cases.len())
        .filter(|&k| cases[k].group == "peak")
        .map(|k| format!("{} {:.1} GFLOP/s", cases[k].name, rate(k)))
        .collect();
    println!(
        "measured FMA peaks (f32, one thread, median round): {}; \"% peak\" is against the \
         last, the widest",
        peaks.join(", ")
    );
}

// ---------------------------------------------------------------------------------------
// The interleaved summary.

/// Rounds of the summary; in each, every case runs for about `SLICE`.
const ROUNDS: usize = 21;
const SLICE: Duration = Duration::from_millis(8);

fn summary(cases: &mut [Case]) {
    // Calibrate: calls per slice.
    let calls: Vec<u32> = cases
        .iter_mut()
        .map(|c| {
            (c.run)();
            let start = Instant::now();
            let mut n = 0u32;
            while start.elapsed() < SLICE / 4 {
                (c.run)();
                n += 1;
            }
            (n * 4).max(1)
        })
        .collect();
    let mut samples = vec![Vec::with_capacity(ROUNDS); cases.len()];
    for _ in 0..ROUNDS {
        for ((c, &n), s) in cases.iter_mut().zip(&calls).zip(&mut samples) {
            // One call untimed first: the case before this one has just filled the caches
            // with its own data, and a round measures a case's steady state, as a training
            // loop or criterion's warm-up sees it, not the refill after another workload.
            (c.run)();
            let start = Instant::now();
            for _ in 0..n {
                (c.run)();
            }
            s.push(start.elapsed().as_secs_f64() / f64::from(n));
        }
    }
    for s in &mut samples {
        s.sort_by(f64::total_cmp);
    }
    let median: Vec<f64> = samples.iter().map(|s| s[s.len() / 2]).collect();
    // The fastest round: this virtual machine shares its caches (and sometimes its core)
    // with other tenants, which slows rounds at random, memory-bound cases most.
    let best: Vec<f64> = samples.iter().map(|s| s[0]).collect();
    let rate = |c: &Case, t: f64| c.flops as f64 / t / 1e9;
    // The widest peak loop: the last of the peak cases.
    let w = widest_peak(cases);
    let peak = rate(&cases[w], median[w]);
    let peak_best = rate(&cases[w], best[w]);
    print_machine(cases, &median);

    println!();
    println!(
        "summary: {ROUNDS} interleaved rounds, f32, one thread; peak ({}) = {peak:.1} GFLOP/s \
         (median), {peak_best:.1} (best round)",
        cases[w].name
    );
    println!(
        "{:<50} {:<18} {:>11} {:>8} {:>7} {:>11} {:>7}  ratio (medians)",
        "workload", "variant", "median", "GFLOP/s", "% peak", "best", "% peak"
    );
    for (k, c) in cases.iter().enumerate() {
        let ratio = c.reference.map_or(String::new(), |r| {
            let id = if r.contains('/') {
                r.to_string()
            } else {
                format!("{}/{r}", c.group)
            };
            match cases.iter().position(|o| o.id() == id) {
                Some(j) => format!("{:.2}x the speed of {id}", median[j] / median[k]),
                None => format!("(no case {id})"),
            }
        });
        println!(
            "{:<50} {:<18} {:>11} {:>8.2} {:>6.1}% {:>11} {:>6.1}%  {ratio}",
            c.group,
            c.name,
            format_time(median[k]),
            rate(c, median[k]),
            100.0 * rate(c, median[k]) / peak,
            format_time(best[k]),
            100.0 * rate(c, best[k]) / peak_best,
        );
    }
}

// ---------------------------------------------------------------------------------------
// Phases: call by call, to tell the machine's slow phases from the code's speed.

/// How long the phase trace alternates its two cases.
const PHASE_SPAN: Duration = Duration::from_secs(3);
/// Blocks of the phase trace (each the mean of its calls).
const PHASE_BLOCKS: usize = 30;

/// Alternates single calls of the peak loop and of `case` for `PHASE_SPAN`, timing each,
/// and prints both as rates in consecutive blocks of time, then the distribution of the
/// case's calls. A slow phase of the machine that slows the case but not the peak loop
/// shows as a run of slow blocks in the case's row only.
fn phases(peak: &mut Case, case: &mut Case) {
    let (mut tp, mut tc) = (Vec::new(), Vec::new());
    (peak.run)();
    (case.run)();
    let start = Instant::now();
    while start.elapsed() < PHASE_SPAN {
        for (c, t) in [(&mut *peak, &mut tp), (&mut *case, &mut tc)] {
            let s = Instant::now();
            (c.run)();
            t.push(s.elapsed().as_secs_f64());
        }
    }
    let mut sorted = tp.clone();
    sorted.sort_by(f64::total_cmp);
    let peak_rate = peak.flops as f64 / sorted[sorted.len() / 2];
    let percent = |c: &Case, t: f64| 100.0 * c.flops as f64 / t / peak_rate;
    let row = |c: &Case, t: &[f64]| {
        let blocks: Vec<String> = t
            .chunks(t.len().div_ceil(PHASE_BLOCKS))
            .map(|b| format!("{:.0}", percent(c, b.iter().sum::<f64>() / b.len() as f64)))
            .collect();
        blocks.join(" ")
    };
    println!();
    println!(
        "phases: {} alternating calls each over {:?}, as % of the peak loop's median call \
         ({:.1} GFLOP/s), in {PHASE_BLOCKS} consecutive blocks",
        tc.len(),
        PHASE_SPAN,
        peak_rate / 1e9
    );
    println!("{:<12} {}", peak.name, row(peak, &tp));
    println!("{:<12} {}", case.name, row(case, &tc));
    tc.sort_by(f64::total_cmp);
    let q = |f: f64| percent(case, tc[((tc.len() - 1) as f64 * f) as usize]);
    let fast = tc.iter().filter(|&&t| t <= 1.1 * tc[0]).count();
    println!(
        "{}/{}: % of peak: fastest call {:.1}; 10 % of calls at least {:.1}, half at least \
         {:.1}, 90 % at least {:.1}; {:.0} % of calls within 10 % of the fastest's time",
        case.group,
        case.name,
        q(0.0),
        q(0.1),
        q(0.5),
        q(0.9),
        100.0 * fast as f64 / tc.len() as f64
    );
}

/// The index of the widest peak case: the last case of the group `peak` (the peak cases
/// come first, narrowest first).
fn widest_peak(cases: &[Case]) -> usize {
    cases.iter().rposition(|c| c.group == "peak").unwrap_or(0)
}

fn format_time(s: f64) -> String {
    if s < 1e-6 {
        format!("{:.1} ns", s * 1e9)
    } else if s < 1e-3 {
        format!("{:.2} µs", s * 1e6)
    } else {
        format!("{:.3} ms", s * 1e3)
    }
}


/// The command line of both bench programs: criterion on every case, then the summary
/// (see `benches/mlp.rs` for `SUMMARY_ONLY` and `PHASES`).
fn bench_main(mut cases: Vec<Case>) {
    // The summary runs with `cargo bench`, not in test mode or under `--profile-time`.
    let args: Vec<String> = std::env::args().collect();
    let bench_mode =
        args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--profile-time");
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .configure_from_args();
    if let Ok(filter) = std::env::var("PHASES") {
        // The phase trace of the first case whose `group/variant` contains the filter.
        if bench_mode {
            match cases
                .iter()
                .position(|c| c.group != "peak" && c.id().contains(filter.as_str()))
            {
                Some(k) => {
                    // The widest peak loop (the peak cases come first).
                    let w = widest_peak(&cases);
                    let (peak, rest) = cases.split_at_mut(w + 1);
                    phases(&mut peak[w], &mut rest[k - w - 1]);
                }
                None => eprintln!("PHASES={filter:?} names no case (group/variant)"),
            }
        }
        return;
    }
    if let Ok(filter) = std::env::var("SUMMARY_ONLY") {
        // A quick look: the summary alone, on the peak and the cases whose group contains
        // the filter in `group/variant` (all of them when it is empty); a filter ending in
        // `$` keeps the cases whose `group/variant` ends with the rest (one variant alone,
        // for a profile: `SUMMARY_ONLY="SGD/staticnn$"`).
        if bench_mode {
            let keep = |id: &str| match filter.strip_suffix('$') {
                Some(end) => id.ends_with(end),
                None => id.contains(filter.as_str()),
            };
            cases.retain(|c| c.group == "peak" || keep(&c.id()));
            summary(&mut cases);
        }
        return;
    }
    let mut k = 0;
    while k < cases.len() {
        let group = cases[k].group;
        let end = cases[k..]
            .iter()
            .position(|c| c.group != group)
            .map_or(cases.len(), |n| k + n);
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(cases[k].flops));
        if cases[k].flops > 100_000_000 {
            // Steps of tens of milliseconds: fewer samples keep the suite short.
            g.sample_size(10);
        }
        for case in &mut cases[k..end] {
            g.bench_function(case.name, |b| b.iter(|| (case.run)()));
        }
        g.finish();
        k = end;
    }
    c.final_summary();
    if bench_mode {
        summary(&mut cases);
    }
}

