#!/usr/bin/env bash
# Compile-time figures for BENCHMARKS.md: clean and incremental builds of the digits example,
# and the cost of `network!` as a network gets deeper.
#
#   bash scripts/compile_time.sh            # release profile, as the README's main command
#   PROFILE=dev bash scripts/compile_time.sh
#
# Builds go to a private target directory under target/, so the figures include every
# dependency on the clean run. Times are wall-clock seconds and CPU seconds (user + sys) of
# the cargo invocation; on a busy machine compare the CPU column.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
profile=${PROFILE:-release}
flag=$([ "$profile" = release ] && echo --release || echo)
target=$root/target/compile-time
export CARGO_TARGET_DIR=$target

measure() { # label, command...
    local label=$1; shift
    /usr/bin/time -o "$target/time.txt" -f '%e %U %S' "$@" >/dev/null 2>&1
    read -r wall user sys <"$target/time.txt"
    printf '%-46s %8.1f s wall %8.1f s CPU\n' "$label" "$wall" "$(echo "$user + $sys" | bc)"
}

echo "rustc: $(rustc --version)  profile: $profile  cores: $(nproc)"
rm -rf "$target"
mkdir -p "$target"
measure "digits example, clean (all dependencies)" cargo build $flag --example digits --features plot
touch examples/digits.rs
measure "digits example, after touching the example" cargo build $flag --example digits --features plot
touch src/lib.rs
measure "digits example, after touching the library" cargo build $flag --example digits --features plot

# Depth: a crate with one network of `depth` Linear(32)+ReLU blocks, built against the
# already compiled library; only this crate is rebuilt.
scratch=$target/depth
mkdir -p "$scratch/src"
cat >"$scratch/Cargo.toml" <<TOML
[package]
name = "depth"
version = "0.0.0"
edition = "2024"
publish = false
[workspace]
[dependencies]
staticnn = { path = "$root" }
TOML
for depth in 4 8 16 32 64; do
    {
        echo 'use staticnn::prelude::*;'
        echo 'network! { pub struct Deep { input: 16,'
        for _ in $(seq "$depth"); do echo '    Linear(32), ReLU,'; done
        echo '    Linear(10), loss: SoftmaxCrossEntropy, } }'
        echo 'fn main() {'
        echo '    use staticnn::rand::{SeedableRng, rngs::Xoshiro128PlusPlus};'
        echo '    let mut rng = Xoshiro128PlusPlus::seed_from_u64(1);'
        echo '    let mut net = Deep::<f32>::new(&mut rng);'
        echo '    let x = SMatrix::<f32, 16, 8>::zeros();'
        echo '    let t = [ClassIndex::<10>::new(0).unwrap(); 8];'
        echo '    let (mut g, mut tape) = (Deep::<f32>::gradients(), Deep::<f32>::tape::<8>());'
        echo '    let _ = net.train_step(&x, &t, &mut g, &mut tape, &mut Sgd::new(0.1), &mut rng);'
        echo '    println!("{}", net.forward(&x)[0]);'
        echo '}'
    } >"$scratch/src/main.rs"
    (cd "$scratch" && cargo build $flag -q 2>/dev/null) # dependencies, first time only
    touch "$scratch/src/main.rs"
    measure "network of depth $depth (Linear+ReLU blocks)" \
        bash -c "cd '$scratch' && cargo build $flag"
done
