"""PyTorch reference vectors for residual networks (float64), read by tests/torch_residual.rs.

Writes tests/fixtures/torch-residual/<case>.safetensors (run from the repository root:
`/work/venv/bin/python scripts/make_residual_vectors.py`). A residual block is the module
`Residual` below: its layers are the `nn.Sequential` attributes `body` and `projection`, so
a network's `state_dict` keys are those staticnn writes for `Residual(...)` in `network!`
(`3.body.0.weight`, `3.projection.0.weight`).

Tensors of each file (the names of tests/fixtures/torch-conv/README.md):
  model.<key>                  initial state_dict (BN parameters and statistics perturbed)
  input, target                batch [B, C, H, W] and class indices [B]
  expected.output, .loss       train-mode forward and cross-entropy loss
  expected.grad_input          gradient of the loss with respect to the input
  expected.grad.<key>          every parameter's gradient
  expected.after.<key>         running statistics after that forward
  expected.eval_output         eval-mode output after it
  expected.<opt>.step<k>.<key> parameters after k steps of <opt> (adam: Adam lr 0.01;
                               sgd: SGD lr 0.05, momentum 0.9, weight decay 0.001) from the
                               initial state, each step a train-mode forward on the batch
"""
import os
import sys

import torch
from safetensors.torch import save_file
from torch import nn

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "fixtures", "torch-residual")


class Residual(nn.Module):
    """`body(x) + x`, or `body(x) + projection(x)` when a projection is given."""

    def __init__(self, body, projection=None):
        super().__init__()
        self.body = nn.Sequential(*body)
        self.projection = nn.Sequential(*projection) if projection is not None else None

    def forward(self, x):
        skip = x if self.projection is None else self.projection(x)
        return self.body(x) + skip


def conv(i, o, k, stride=1, padding=0, bias=True):
    return nn.Conv2d(i, o, k, stride=stride, padding=padding, bias=bias)


def basic_block(i, o, stride):
    """Two 3x3 convolutions with batch norm (the second without ReLU); a 1x1 projection
    when the shape changes."""
    body = [conv(i, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(),
            conv(o, o, 3, 1, 1, bias=False), nn.BatchNorm2d(o)]
    return body


def small_cnn():
    """(a) `Residual` with a projection followed by batch norm, and one without."""
    return nn.Sequential(
        conv(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        Residual(basic_block(4, 8, 2), [conv(4, 8, 1, stride=2, bias=False), nn.BatchNorm2d(8)]),
        nn.ReLU(),
        Residual(basic_block(8, 8, 1)),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5),
    )


def resnet8():
    """(b) ResNet-8 of MLPerf Tiny's image classification: 3x32x32 in, 10 classes out."""
    return nn.Sequential(
        conv(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        Residual(basic_block(16, 16, 1)), nn.ReLU(),
        Residual(basic_block(16, 32, 2), [conv(16, 32, 1, stride=2)]), nn.ReLU(),
        Residual(basic_block(32, 64, 2), [conv(32, 64, 1, stride=2)]), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
    )


def initial_state(build, seed):
    torch.manual_seed(seed)
    net = build()
    g = torch.Generator().manual_seed(seed + 7)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.uniform_(-0.5, 0.5, generator=g)
                m.running_mean.uniform_(-0.2, 0.2, generator=g)
                m.running_var.uniform_(0.5, 1.5, generator=g)
    return net.state_dict()


def fresh(build, state):
    net = build()
    net.load_state_dict(state)
    return net


OPTIMISERS = {
    "adam": lambda p: torch.optim.Adam(p, lr=0.01),
    "sgd": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.001),
}


def make_case(name, build, in_shape, classes, batch, seed, saved_steps):
    state = initial_state(build, seed)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, *in_shape, generator=g) * 1.5
    t = torch.randint(0, classes, (batch,), generator=g)
    tensors = {"model." + k: v.clone() for k, v in state.items()
               if not k.endswith("num_batches_tracked")}
    tensors["input"] = x.clone()
    tensors["target"] = t.double()
    net = fresh(build, state).train()
    xi = x.clone().requires_grad_(True)
    out = net(xi)
    loss = nn.functional.cross_entropy(out, t)
    loss.backward()
    tensors["expected.output"] = out.detach().clone()
    tensors["expected.loss"] = loss.detach().reshape(1).clone()
    tensors["expected.grad_input"] = xi.grad.clone()
    for k, p in net.named_parameters():
        tensors["expected.grad." + k] = p.grad.clone()
    for k, v in net.state_dict().items():
        if "running" in k:
            tensors["expected.after." + k] = v.clone()
    net.eval()
    with torch.no_grad():
        tensors["expected.eval_output"] = net(x).clone()
    for opt_name, make in OPTIMISERS.items():
        net2 = fresh(build, state).train()
        opt = make(net2.parameters())
        for s in range(1, max(saved_steps) + 1):
            opt.zero_grad()
            nn.functional.cross_entropy(net2(x), t).backward()
            opt.step()
            if s in saved_steps:
                for k, p in net2.named_parameters():
                    tensors[f"expected.{opt_name}.step{s}.{k}"] = p.detach().clone()
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name + ".safetensors")
    save_file({k: v.contiguous() for k, v in tensors.items()}, path)
    params = sum(p.numel() for p in net.parameters())
    print(f"{path}: {params} parameters, batch {batch}")


make_case("small_cnn", small_cnn, [2, 8, 8], 5, batch=6, seed=300, saved_steps=[1, 2, 3])
make_case("resnet8", resnet8, [3, 32, 32], 10, batch=2, seed=301, saved_steps=[1, 3])
