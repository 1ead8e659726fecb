#!/usr/bin/env python3
"""Load a safetensors file written by staticnn into the matching PyTorch model and run it.

The file's header records the network's layers (``staticnn.layers``) and how its tensors
are keyed (``staticnn.naming``); from them this script builds the matching
``nn.Sequential`` (with an ``OrderedDict`` of the layer names for files saved with
``Naming::Names``), loads the file with ``load_state_dict(..., strict=True)`` (every key
and shape must match, nothing may be left over), switches to eval mode and prints the
outputs for a batch, one sample per line.

Usage::

    python scripts/check_in_pytorch.py net.safetensors
    python scripts/check_in_pytorch.py net.safetensors --input '[[0.1, 0.2, 0.3]]'
    python scripts/check_in_pytorch.py net.safetensors --set 2.negative_slope=0.1
    python scripts/check_in_pytorch.py net.safetensors \\
        --model 'nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))'

Without ``--input`` the batch is four samples with ``x[b][i] = sin(b * IN + i)``, which is
easy to build on the Rust side too::

    let x = SMatrix::<f32, IN, 4>::from_fn(|i, b| ((b * IN + i) as f32).sin());

The layers are built with PyTorch's default hyperparameters (LeakyReLU slope 0.01, ELU
alpha 1, BatchNorm eps 1e-5); the file records widths, not hyperparameters. Set others with
``--set KEY.ATTRIBUTE=VALUE`` (``KEY`` is the layer's key in the file, as ``2`` or ``fc1``),
or give the whole model with ``--model``, a Python expression that may use ``torch``,
``nn``, ``Maxout`` and ``Normalize``. A ``Normalize`` layer becomes the ``Normalize``
module below (buffers ``mean`` and ``std``). A ``Maxout`` layer becomes the ``Maxout`` module below (weight
``[k, out, in]``, bias ``[k, out]``, the maximum over the ``k`` affine pieces). A custom
layer needs ``--model``.

Needs ``torch`` and ``safetensors`` (``pip install torch safetensors``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import OrderedDict

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torch import nn


class Maxout(nn.Module):
    """staticnn's Maxout: ``y_o = max_k (W_k x + b_k)_o``; ties go to the lowest ``k``."""

    def __init__(self, inputs: int, outputs: int, k: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(k, outputs, inputs))
        self.bias = nn.Parameter(torch.empty(k, outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # [B, in] x [k, out, in] -> [k, B, out]
        pieces = torch.einsum("bi,koi->kbo", x, self.weight) + self.bias[:, None, :]
        return pieces.max(dim=0).values


class Normalize(nn.Module):
    """staticnn's Normalize: ``(x - mean) / std`` per feature, or per channel of a
    ``[B, C, ...]`` batch; ``mean`` and ``std`` are buffers (state, not parameters)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        view = (-1,) + (1,) * (x.dim() - 2)
        return (x - self.mean.view(view)) / self.std.view(view)


def build_layer(layer: dict) -> nn.Module:
    """The PyTorch module for one entry of ``staticnn.layers``."""
    kind, inputs, outputs = layer["kind"], layer["in"], layer["out"]
    if kind == "Linear":
        return nn.Linear(inputs, outputs)
    if kind == "Maxout":
        k = layer["params"] // (inputs * outputs + outputs)
        return Maxout(inputs, outputs, k)
    if kind == "BatchNorm":
        return nn.BatchNorm1d(outputs)
    if kind == "Normalize":
        return Normalize(outputs)
    if kind == "PReLU":
        return nn.PReLU()
    if kind == "LeakyReLU":
        return nn.LeakyReLU()
    if kind == "ELU":
        return nn.ELU()
    if kind == "ReLU":
        return nn.ReLU()
    if kind == "Tanh":
        return nn.Tanh()
    if kind == "Sigmoid":
        return nn.Sigmoid()
    if kind == "Softmax":
        return nn.Softmax(dim=1)
    if kind == "Dropout":
        return nn.Dropout()  # the identity in eval mode, whatever its probability
    raise SystemExit(
        f"layer {layer['key']} is a custom layer ({kind}); describe the model with --model"
    )


def build_model(layers: list[dict], naming: str) -> nn.Module:
    """The ``nn.Sequential`` matching the file's layers."""
    modules = [(layer["key"], build_layer(layer)) for layer in layers]
    if naming == "names":
        return nn.Sequential(OrderedDict(modules))
    return nn.Sequential(*(m for _, m in modules))


def parse_value(text: str):
    """A number, a boolean or None from the command line."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="a .safetensors file written by staticnn")
    parser.add_argument("--model", help="a Python expression building the model")
    parser.add_argument("--input", help="the batch as JSON: a list of samples")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY.ATTRIBUTE=VALUE",
        help="set a layer's attribute, as 2.negative_slope=0.1 (repeatable)",
    )
    args = parser.parse_args()

    with safe_open(args.file, framework="pt") as f:
        metadata = f.metadata() or {}
    state = load_file(args.file)
    floats = {t.dtype for t in state.values() if t.is_floating_point()}
    dtype = torch.float64 if torch.float64 in floats else torch.float32

    layers = json.loads(metadata.get("staticnn.layers", "[]"))
    if args.model:
        names = {"torch": torch, "nn": nn, "Maxout": Maxout, "Normalize": Normalize}
        model = eval(args.model, names)  # noqa: S307
    elif layers:
        model = build_model(layers, metadata.get("staticnn.naming", "sequential"))
    else:
        raise SystemExit("the file does not describe its layers; give the model with --model")
    for setting in args.set:
        target, _, value = setting.partition("=")
        key, _, attribute = target.rpartition(".")
        if not key or not attribute or not value:
            raise SystemExit(f"--set {setting}: expected KEY.ATTRIBUTE=VALUE")
        setattr(model.get_submodule(key), attribute, parse_value(value))

    model = model.to(dtype)
    model.load_state_dict(state, strict=True)
    model.eval()

    if layers:
        inputs = layers[0]["in"]
    else:
        first = next(m for m in model.modules() if isinstance(m, (nn.Linear, Maxout)))
        inputs = first.weight.shape[-1]
    if args.input:
        x = torch.tensor(json.loads(args.input), dtype=dtype)
    else:
        x = torch.tensor(
            [[math.sin(b * inputs + i) for i in range(inputs)] for b in range(4)], dtype=dtype
        )
    with torch.no_grad():
        y = model(x)

    name = metadata.get("staticnn.network", "the network")
    print(f"{name}: {len(state)} tensors loaded with strict=True into", file=sys.stderr)
    print(model, file=sys.stderr)
    for row in y.tolist():
        print(" ".join(repr(v) for v in row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
