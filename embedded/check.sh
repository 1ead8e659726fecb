#!/usr/bin/env bash
# The embedded check: lints the firmware workspace, builds the firmware for Cortex-M0+
# (thumbv6m-none-eabi) and Cortex-M4F (thumbv7em-none-eabihf), checks the images with
# binutils, runs them under QEMU and prints the footprint table. `.ci/run` calls it after
# installing the tools; it also runs on its own: `bash embedded/check.sh`.
#
# Needs the two rustup targets. Needs `qemu-system-arm` and the `arm-none-eabi-*` binutils
# (Debian packages qemu-system-arm, binutils-arm-none-eabi) for the runs and the image
# checks: when either is missing, the checks that need it are skipped with a loud warning.
# Exits non-zero when anything that was checked failed.
#
# Environment: EMBEDDED_TARGET_DIR (default: target/embedded in the repository), QEMU_TIMEOUT
# (seconds per QEMU run, default 300).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
target_dir=${EMBEDDED_TARGET_DIR:-$root/target/embedded}
images=$target_dir/images
qemu_timeout=${QEMU_TIMEOUT:-300}
cd "$here"

targets=(thumbv6m-none-eabi thumbv7em-none-eabihf)
bins=(infer train train_f64init blob digits infer_int8 digits_int8)
# The images whose measurement build counts the instructions of one inference (SysTick under
# `-icount shift=0`), and the int8 images, which must hold no floating point at all.
counted=(infer digits infer_int8 digits_int8)
int8_bins=(infer_int8 digits_int8)
# The QEMU machine of each target: the BBC micro:bit is a Cortex-M0 (ARMv6-M, no FPU); the
# MPS2 AN386 is a Cortex-M4 with single-precision FPU, which hard-float code needs
# (lm3s6965evb is a Cortex-M3 and would fault on the first FPU instruction).
declare -A qemu_machine=(
    [thumbv6m-none-eabi]="-machine microbit"
    [thumbv7em-none-eabihf]="-machine mps2-an386 -cpu cortex-m4"
)
# Start of RAM on both machines: anything below is flash (or the SSRAM that stands in for it).
ram_origin=$((0x20000000))

# Footprint goals of the issues, on thumbv7em-none-eabihf: enforced for inference and for
# `train` (the library's single-precision initialisation), which meet them; reported for
# `train_f64init`, whose flash follows the library's default `f64` initialisation
# (FOOTPRINT.md says why). Training RAM may be parameters + gradients + tape + data: the
# first three are the image's statics, so the stack may take at most the data's bytes (the
# firmware prints them; the data itself is in flash).
infer_flash_goal=4096
infer_ram_goal=512
train_flash_goal=5120
# The digits CNN (issue 16), on thumbv7em-none-eabihf: flash at most its weights (the size
# of DIGITS_NET) + 6 KiB; RAM (static + peak stack) at most the two largest adjacent
# activations of one sample (the firmware prints them, a `const` of staticnn-digits) + 1 KiB.
digits_flash_slack=6144
digits_ram_slack=1024
# Issue 17: on thumbv6m-none-eabi the int8 digits network takes at least this many times
# fewer instructions per inference than the f32 one.
int8_speedup_goal=4

failures=0
fail() {
    echo "FAILED: $*" >&2
    failures=$((failures + 1))
}
loud() {
    printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' >&2
    printf '!!! %s\n' "$@" >&2
    printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n' >&2
}
section() {
    printf '\n--> embedded: %s\n' "$*"
}

have_binutils=1
for tool in arm-none-eabi-nm arm-none-eabi-size arm-none-eabi-objdump; do
    command -v "$tool" >/dev/null || have_binutils=0
done
have_qemu=1
command -v qemu-system-arm >/dev/null || have_qemu=0
[ "$have_binutils" = 1 ] || loud "arm-none-eabi binutils missing (apt-get install binutils-arm-none-eabi):" \
    "the image checks (weights in flash, no f64, no formatting) and the footprint table are SKIPPED"
[ "$have_qemu" = 1 ] || loud "qemu-system-arm missing (apt-get install qemu-system-arm):" \
    "the firmware is built but NOT RUN"

# Not `--all`: that would also take in the library, a path dependency, which the main
# workspace's own fmt step covers.
section "cargo fmt --check"
cargo fmt -- --check --color=never

# One host run lints every crate, firmware included: none of the workspace's own code depends
# on the target, and the host's check of the dependencies is shared with the exporter's.
section "cargo clippy --workspace --all-features (on the host)"
cargo clippy --workspace --all-features --target-dir "$target_dir" -- -D warnings

# The generated sources must be what the exporter writes today: it trains the sine model on
# the host with the firmware's arithmetic (`--cfg staticnn_portable`, .cargo/config.toml),
# so a change to the library's numerics shows up here, and the firmware's comparison with
# the host's weights stays exact.
section "generated sources up to date (staticnn-sine-export --check)"
cargo run --release -q -p staticnn-sine-export --target-dir "$target_dir" -- --check
# The digits: `--check` trains nothing (training takes minutes); it recomputes the shipped
# images and the host's predictions from the compiled weights, and the weights' source.
section "generated sources up to date (staticnn-digits-export --check)"
cargo run --release -q -p staticnn-digits-export --target-dir "$target_dir" -- --check

# Three builds per target: the minimal firmware (exit status only), measured for flash and
# static RAM; the measurement build (stack painting and a report), run for the stack; and,
# for the inference images, the counting build (instructions of one inference).
section "cargo build --release (minimal and --features measure)"
for t in "${targets[@]}"; do
    mkdir -p "$images/$t"
    cargo build --release --target "$t" --target-dir "$target_dir"
    for b in "${bins[@]}"; do cp "$target_dir/$t/release/$b" "$images/$t/$b"; done
    cargo build --release --target "$t" --target-dir "$target_dir" --features measure
    for b in "${bins[@]}"; do cp "$target_dir/$t/release/$b" "$images/$t/$b.measure"; done
    # The counting build: the instructions of one inference, in a build of its own (the
    # counted call changes the inlining, so the measurement build's frames would change).
    cargo build --release --target "$t" --target-dir "$target_dir" --features count
    for b in "${counted[@]}"; do cp "$target_dir/$t/release/$b" "$images/$t/$b.count"; done
done
echo "images in $images"

# The f64 routines in an image, on one line: compiler-builtins' soft double-precision
# arithmetic and conversions (every f64 operation on these targets: the M4F's FPU is single
# precision) and libm's f64 functions (those whose names do not end in `f`).
f64_symbols() {
    arm-none-eabi-nm -C "$1" | cut -c 12- |
        grep -E '(^|::)(__aeabi_(d[a-z0-9]+|[a-z0-9]+2d)|__[a-z0-9]*df[0-9]?|__fix[a-z]*df[a-z]*|__(extendsfdf2|truncdfsf2))$|^libm::math::[a-z0-9_]+::[a-z0-9_]*[a-eg-z0-9_]$' |
        grep -v '^libm::math::generic::' | sed 's/^compiler_builtins::.*:://' | sort -u | tr '\n' ' ' || true
}

declare -A weight_bytes
if [ "$have_binutils" = 1 ]; then
    section "image checks (arm-none-eabi-nm, arm-none-eabi-objdump)"
    for t in "${targets[@]}"; do
        # The inference weights: a data object in .rodata, below the start of RAM.
        for pair in infer:SINE_NET digits:DIGITS_NET infer_int8:SINE_NET_INT8 digits_int8:DIGITS_NET_INT8; do
            b=${pair%%:*}
            symbol=${pair#*:}
            row=$(arm-none-eabi-objdump -t "$images/$t/$b" | awk -v s="$symbol" '$NF == s {print $1, $(NF - 2), $(NF - 1)}')
            read -r addr sect size <<<"${row:-- - -}"
            if [ -z "$row" ]; then
                fail "$t $b: no symbol $symbol"
            elif [ "$sect" != ".rodata" ] || [ $((16#$addr)) -ge "$ram_origin" ]; then
                fail "$t $b: $symbol is in $sect at 0x$addr, not in .rodata in flash"
            else
                echo "$t $b: $symbol, $((16#$size)) bytes, in $sect at 0x$addr (flash): ok"
                weight_bytes[$t.$b]=$((16#$size))
            fi
        done
        # The f32 paths hold no f64 arithmetic, conversion or maths: inference, training with
        # the library's single-precision initialisation, and loading an f32 blob into an f32
        # network (the blob reader's same-width path: no `__aeabi_d2f`/`__aeabi_f2d`).
        for b in infer train blob digits "${int8_bins[@]}"; do
            f64=$(f64_symbols "$images/$t/$b")
            if [ -n "$f64" ]; then
                fail "$t $b: f64 routines linked in: $f64"
            else
                echo "$t $b: no f64 routine: ok"
            fi
        done
        # Neither image formats anything: no core::fmt at all, so no float formatting and no
        # panic messages.
        for b in "${bins[@]}"; do
            fmt=$(arm-none-eabi-nm -C "$images/$t/$b" | grep -E 'core::fmt|flt2dec|float_to_decimal|float_to_exponential' || true)
            if [ -n "$fmt" ]; then
                fail "$t $b: formatting code linked in:" "$fmt"
            else
                echo "$t $b: no formatting code: ok"
            fi
        done
        # The int8 images compute in integers only: no soft-float routine (`__aeabi_f*`,
        # `__aeabi_d*`, compiler-builtins' `__*sf*`/`__*df*`) and, on the M4F, no
        # floating-point instruction at all in the disassembly.
        for b in "${int8_bins[@]}"; do
            soft=$(arm-none-eabi-nm -C "$images/$t/$b" | cut -c 12- |
                grep -E '(^|::)(__aeabi_[fd][a-z0-9]*|__aeabi_[a-z0-9]*2[fd]|__[a-z0-9]*[sd]f[0-9]?|__fix[a-z]*[sd]f[a-z]*|__float[a-z]*[sd]f)$' |
                sed 's/^compiler_builtins::.*:://' | sort -u | tr '\n' ' ' || true)
            vfp=$(arm-none-eabi-objdump -d "$images/$t/$b" | grep -cE '\sv(add|sub|mul|div|cvt[a-z]*|fm[as]|fnm[as]|ml[as]|nml[as]|cmpe?|sqrt|abs|neg|mov|ldr|str|ldm|stm|push|pop)(\.[a-z0-9.]+)?\s' || true)
            if [ -n "$soft" ]; then
                fail "$t $b: soft-float routines linked in: $soft"
            elif [ "$vfp" != 0 ]; then
                fail "$t $b: $vfp floating-point instructions in the image"
            else
                echo "$t $b: no floating point (no soft-float routine, no FPU instruction): ok"
            fi
        done
        # The library's default initialisation draws in f64 by design; list what that costs.
        echo "$t train_f64init: f64 routines (from staticnn::init, see FOOTPRINT.md): $(f64_symbols "$images/$t/train_f64init")"
    done
fi

# Runs one image under QEMU; prints its output and returns its exit status.
# Extra QEMU options after the image path, e.g. `-icount shift=0`.
run() {
    local t=$1 image=$2
    shift 2
    # shellcheck disable=SC2086 # the machine options are words
    timeout "$qemu_timeout" qemu-system-arm ${qemu_machine[$t]} -display none -serial none \
        -monitor none -semihosting-config enable=on,target=native "$@" -kernel "$image" 2>&1 </dev/null
}

declare -A peak data_bytes activation_bytes instructions
if [ "$have_qemu" = 1 ]; then
    section "QEMU runs (exit status 0 = trained below the threshold / inferred within tolerance / the host's predictions)"
    for t in "${targets[@]}"; do
        for b in "${bins[@]}"; do
            variants=("" .measure)
            [[ " ${counted[*]} " != *" $b "* ]] || variants+=(.count)
            for variant in "${variants[@]}"; do
                start=$SECONDS
                status=0
                # The counting builds run with one instruction per nanosecond of virtual time,
                # so that SysTick counts instructions (deterministically).
                icount=()
                [ "$variant" != .count ] || icount=(-icount shift=0)
                output=$(run "$t" "$images/$t/$b$variant" "${icount[@]}") || status=$?
                [ -z "$output" ] || printf '%s\n' "$output"
                echo "$t $b$variant: exit status $status ($((SECONDS - start)) s)"
                case $status in
                    0) ;;
                    124) fail "$t $b$variant: timed out after $qemu_timeout s" ;;
                    *) fail "$t $b$variant: exit status $status (firmware/src/lib.rs, Status)" ;;
                esac
                if [ "$variant" = .count ]; then
                    instructions[$t.$b]=$(sed -n 's/.*: instructions per inference \([0-9]*\) .*/\1/p' <<<"$output")
                elif [ -n "$variant" ]; then
                    peak[$t.$b]=$(sed -n 's/.*peak stack \([0-9]*\) B.*/\1/p' <<<"$output")
                    data_bytes[$t.$b]=$(sed -n 's/.*; data \([0-9]*\) B in flash.*/\1/p' <<<"$output")
                    activation_bytes[$t.$b]=$(sed -n 's/.*, activations \([0-9]*\) B;.*/\1/p' <<<"$output")
                fi
            done
        done
    done
fi

if [ "$have_binutils" = 1 ]; then
    section "footprint (release, opt-level z, fat LTO; flash = text + data, RAM = data + bss + peak stack)"
    notes=()
    echo "| target | firmware | flash (B) | static RAM (B) | peak stack (B) | RAM (B) | weights (B) | instructions per inference |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    for t in "${targets[@]}"; do
        for b in "${bins[@]}"; do
            read -r text data bss _ <<<"$(arm-none-eabi-size "$images/$t/$b" | awk 'NR == 2')"
            flash=$((text + data))
            ram=$((data + bss))
            stack=${peak[$t.$b]:-}
            total=${stack:+$((ram + stack))}
            count=-
            [[ " ${counted[*]} " != *" $b "* ]] || count=${instructions[$t.$b]:-?}
            echo "| $t | $b | $flash | $ram | ${stack:-?} | ${total:-?} | ${weight_bytes[$t.$b]:--} | $count |"
            if [ "$t" = thumbv6m-none-eabi ] && [ "$b" = digits_int8 ]; then
                f32=${instructions[$t.digits]:-}
                int8=${instructions[$t.digits_int8]:-}
                if [ -z "$f32" ] || [ -z "$int8" ] || [ "$int8" = 0 ]; then
                    [ "$have_qemu" = 0 ] || notes+=("FAIL: no instruction count for digits / digits_int8 on $t")
                elif [ $((int8 * int8_speedup_goal)) -gt "$f32" ]; then
                    notes+=("FAIL: int8 digits takes $int8 instructions per inference on $t, not ${int8_speedup_goal}x fewer than f32's $f32")
                else
                    notes+=("digits_int8: $int8 instructions per inference on $t, $((f32 * 100 / int8 / 100)).$((f32 * 100 / int8 % 100))x fewer than f32's $f32 (goal ${int8_speedup_goal}x): ok")
                fi
            fi
            [ "$t" = thumbv7em-none-eabihf ] || continue
            case $b in
                infer)
                    [ "$flash" -le "$infer_flash_goal" ] ||
                        notes+=("FAIL: inference flash $flash B is over the goal of $infer_flash_goal B")
                    [ -z "$total" ] || [ "$total" -le "$infer_ram_goal" ] ||
                        notes+=("FAIL: inference RAM $total B is over the goal of $infer_ram_goal B")
                    ;;
                digits)
                    weights=${weight_bytes[$t.$b]:-}
                    if [ -z "$weights" ]; then
                        notes+=("FAIL: no weight size for digits (DIGITS_NET)")
                    elif [ "$flash" -gt $((weights + digits_flash_slack)) ]; then
                        notes+=("FAIL: digits flash $flash B is over the goal of weights $weights B + $digits_flash_slack B = $((weights + digits_flash_slack)) B")
                    else
                        notes+=("digits: flash $flash B within weights $weights B + $digits_flash_slack B = $((weights + digits_flash_slack)) B: ok")
                    fi
                    act=${activation_bytes[$t.$b]:-}
                    if [ -n "$total" ] && [ -z "$act" ]; then
                        notes+=("FAIL: digits printed no activation size")
                    elif [ -n "$total" ] && [ "$total" -gt $((act + digits_ram_slack)) ]; then
                        notes+=("FAIL: digits RAM $total B is over the goal of activations $act B + $digits_ram_slack B = $((act + digits_ram_slack)) B")
                    elif [ -n "$total" ]; then
                        notes+=("digits: RAM $total B within activations $act B + $digits_ram_slack B = $((act + digits_ram_slack)) B: ok")
                    fi
                    ;;
                train | train_f64init)
                    # FAIL for `train`, a note for `train_f64init`.
                    verdict=FAIL:
                    [ "$b" = train ] || verdict=note:
                    [ "$flash" -le "$train_flash_goal" ] ||
                        notes+=("$verdict training flash $flash B ($b) is over the goal of $train_flash_goal B (FOOTPRINT.md)")
                    bytes=${data_bytes[$t.$b]:-}
                    if [ -n "$stack" ] && [ -z "$bytes" ]; then
                        notes+=("FAIL: $b printed no data size")
                    elif [ -n "$stack" ] && [ "$stack" -gt "$bytes" ]; then
                        notes+=("$verdict training RAM $total B ($b) is over the goal of static RAM + data = $((ram + bytes)) B: the stack takes $stack B, more than the $bytes B of data (FOOTPRINT.md)")
                    fi
                    ;;
            esac
        done
    done
    for note in "${notes[@]}"; do
        case $note in
            FAIL:*) fail "${note#FAIL: }" ;;
            *) echo "$note" ;;
        esac
    done
fi

if [ "$failures" -ne 0 ]; then
    echo "embedded check: $failures failure(s)" >&2
    exit 1
fi
echo "embedded check passed"
