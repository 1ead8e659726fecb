#!/usr/bin/env python3
"""PyTorch's times for the performance issue's workloads, for BENCHMARKS.md.

The issue asks W3 (a training step of 784-128-64-10 with ReLU, batch 64, softmax
cross-entropy, SGD) to be more than twice as fast as PyTorch on the CPU, and quotes PyTorch
at 41-90 µs per W1 call (2-16-16-1 with tanh, one sample). This script times both on this
machine, one thread, f32, in the same shape as `benches/mlp.rs`:

- W1: `model(x)` under `torch.inference_mode()`, one sample.
- W2: 64-64-64-10 with ReLU, batch 32, `model(x)` under `torch.inference_mode()`.
- W3: `opt.zero_grad(set_to_none=False)`, forward, `F.cross_entropy` (mean over the batch),
  `loss.backward()`, `opt.step()` with `torch.optim.SGD(lr=0.001)`: what staticnn's
  `train_step` does (it also checks that every gradient is finite; PyTorch does not).

Like the bench's summary it runs 21 rounds of about 8 ms per case, interleaved, and prints
the median round and the best round (each round is the mean of its calls). Run it right
after `SUMMARY_ONLY=W cargo bench --features std` and compare times: the two do not share a
process, so take the ratio of medians and of best rounds from runs close together.

Usage::

    python scripts/torch_baseline.py
"""

import time

import torch
import torch.nn.functional as F
from torch import nn

ROUNDS = 21
SLICE = 0.008


def rounds(cases):
    """Interleaved rounds of about SLICE seconds per case; per case the mean time per call of
    each round."""
    times = {name: [] for name, _ in cases}
    for _ in range(ROUNDS):
        for name, call in cases:
            start = time.perf_counter()
            calls = 0
            while True:
                call()
                calls += 1
                elapsed = time.perf_counter() - start
                if elapsed >= SLICE:
                    break
            times[name].append(elapsed / calls)
    return times


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)

    w1 = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))
    x1 = torch.rand(1, 2)

    w2 = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    x2 = torch.rand(32, 64)

    w3 = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    x3 = torch.rand(64, 784)
    t3 = torch.tensor([(b * 7 + 3) % 10 for b in range(64)])
    opt = torch.optim.SGD(w3.parameters(), lr=0.001)

    def infer(model, x):
        def call():
            with torch.inference_mode():
                model(x)

        return call

    def step():
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(w3(x3), t3)
        loss.backward()
        opt.step()

    # Warm up every case (allocator caches, first-call dispatch).
    for call in (infer(w1, x1), infer(w2, x2), step):
        for _ in range(50):
            call()

    flops = {
        "W1 2-16-16-1 tanh B=1": 608,
        "W2 64-64-64-10 ReLU B=32": 17_664 * 32,
        "W3 784-128-64-10 B=64 SGD": 29_081_600,
    }
    names = list(flops)
    times = rounds([(names[0], infer(w1, x1)), (names[1], infer(w2, x2)), (names[2], step)])

    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, f32, {ROUNDS} interleaved rounds")
    print(f"{'workload':<30} {'median':>12} {'GFLOP/s':>8} {'best':>12} {'GFLOP/s':>8}")
    for name in names:
        ts = sorted(times[name])
        med, best = ts[len(ts) // 2], ts[0]

        def fmt(t):
            return f"{t * 1e6:9.2f} µs" if t < 1e-3 else f"{t * 1e3:9.3f} ms"

        print(
            f"{name:<30} {fmt(med):>12} {flops[name] / med / 1e9:8.2f} "
            f"{fmt(best):>12} {flops[name] / best / 1e9:8.2f}"
        )


if __name__ == "__main__":
    main()
