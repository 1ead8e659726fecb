#!/usr/bin/env python3
"""PyTorch's times for the performance issue's workloads, for BENCHMARKS.md.

The issue asks W3 (a training step of 784-128-64-10 with ReLU, batch 64, softmax
cross-entropy, SGD) to be more than twice as fast as PyTorch on the CPU, and quotes PyTorch
at 41-90 µs per W1 call (2-16-16-1 with tanh, one sample). This script times both on this
machine, one thread, f32, in the same shape as `benches/mlp.rs` and `benches/conv.rs`:

- W1: `model(x)` under `torch.inference_mode()`, one sample.
- W2: 64-64-64-10 with ReLU, batch 32, `model(x)` under `torch.inference_mode()`.
- W3: `opt.zero_grad(set_to_none=False)`, forward, `F.cross_entropy` (mean over the batch),
  `loss.backward()`, `opt.step()` with `torch.optim.SGD(lr=0.001)`: what staticnn's
  `train_step` does (it also checks that every gradient is finite; PyTorch does not).
- W6: LeNet-5 on `[1, 28, 28]` (Conv 6@5x5 pad 2, ReLU, MaxPool 2, Conv 16@5x5, ReLU,
  MaxPool 2, Flatten, 120, ReLU, 84, ReLU, 10), as `benches/conv.rs`: a train step at batch
  32 (`zero_grad(set_to_none=False)`, forward, `F.cross_entropy`, `loss.backward()`; no
  optimiser step, as the bench leaves it out) and `model(x)` of one sample under
  `torch.inference_mode()`.
- W7: the DS-CNN on `[1, 49, 10]` (Conv 64@10x4 stride 2 padding (4, 1), BN, ReLU, four
  depthwise 3x3 + pointwise 1x1 blocks with BN and ReLU after each convolution, global
  average pooling, Linear 12) in eval mode, `model(x)` of one sample under
  `torch.inference_mode()` (batch norm not folded, as in the bench's "staticnn" variant;
  its "staticnn folded" variant is the inference form, batch norms folded).

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
# FLOPs per sample of W6's forward and W7's, as benches/conv.rs counts them.
LENET_FWD = 2 * (25 * 6 * 784 + 150 * 16 * 100 + 400 * 120 + 120 * 84 + 84 * 10)
DS_FWD = 2 * (40 * 64 * 120 + 4 * (9 * 64 * 120 + 64 * 64 * 120) + 64 * 12)


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

    w6 = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )
    x6 = torch.rand(32, 1, 28, 28) * 2 - 1
    t6 = torch.tensor([b % 10 for b in range(32)])
    x6_1 = torch.rand(1, 1, 28, 28) * 2 - 1

    def ds_block():
        return [
            nn.Conv2d(64, 64, 3, padding=1, groups=64), nn.BatchNorm2d(64), nn.ReLU(),
            nn.Conv2d(64, 64, 1), nn.BatchNorm2d(64), nn.ReLU(),
        ]

    w7 = nn.Sequential(
        nn.Conv2d(1, 64, (10, 4), stride=2, padding=(4, 1)), nn.BatchNorm2d(64), nn.ReLU(),
        *[m for _ in range(4) for m in ds_block()],
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 12),
    ).eval()
    x7 = torch.rand(1, 1, 49, 10) * 2 - 1

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

    def step6():
        w6.zero_grad(set_to_none=False)
        loss = F.cross_entropy(w6(x6), t6)
        loss.backward()

    # Warm up every case (allocator caches, first-call dispatch).
    calls = [infer(w1, x1), infer(w2, x2), step, step6, infer(w6, x6_1), infer(w7, x7)]
    for call in calls:
        for _ in range(50):
            call()

    flops = {
        "W1 2-16-16-1 tanh B=1": 608,
        "W2 64-64-64-10 ReLU B=32": 17_664 * 32,
        "W3 784-128-64-10 B=64 SGD": 29_081_600,
        # As benches/conv.rs counts them: 2·multiply-adds of the convolutions and linears;
        # a train step adds the weight gradients and every input gradient but the first's.
        "W6 LeNet-5 train B=32": (3 * LENET_FWD - 2 * 25 * 6 * 784) * 32,
        "W6 LeNet-5 inference B=1": LENET_FWD,
        "W7 DS-CNN inference B=1": DS_FWD,
    }
    names = list(flops)
    times = rounds(list(zip(names, calls)))

    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, f32, {ROUNDS} interleaved rounds")
    print(f"{'workload':<32} {'median':>12} {'GFLOP/s':>8} {'best':>12} {'GFLOP/s':>8}")
    for name in names:
        ts = sorted(times[name])
        med, best = ts[len(ts) // 2], ts[0]

        def fmt(t):
            return f"{t * 1e6:9.2f} µs" if t < 1e-3 else f"{t * 1e3:9.3f} ms"

        print(
            f"{name:<32} {fmt(med):>12} {flops[name] / med / 1e9:8.2f} "
            f"{fmt(best):>12} {flops[name] / best / 1e9:8.2f}"
        )


if __name__ == "__main__":
    main()
