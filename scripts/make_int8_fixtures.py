#!/usr/bin/env python3
"""Writes the int8 fixtures of tests/int8_tflite.rs with TensorFlow Lite.

For each MLP below: Keras builds it with fixed float weights, the TFLite converter
quantises it fully to int8 (int8 input and output) with the calibration samples, and
TensorFlow Lite's *reference* kernels (OpResolverType.BUILTIN_REF) run int8 inputs through
it. The fixture records the float weights and calibration samples, every scale and zero
point the converter chose, its int8 weights and int32 biases, and the interpreter's int8
outputs, in a line-based text format (tests/fixtures/int8/README.md).

Run: /work/venv/bin/python scripts/make_int8_fixtures.py   (tensorflow-cpu 2.21)
"""

import os
import struct
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "int8")

# name: (inputs, [(units, activation)]); activation in relu, tanh, sigmoid, linear.
MODELS = {
    "mlp_relu": (8, [(16, "relu"), (12, "relu"), (4, "linear")]),
    "mlp_tanh_sigmoid": (6, [(10, "tanh"), (8, "sigmoid"), (3, "linear")]),
    "mlp_sigmoid_out": (5, [(9, "relu"), (7, "tanh"), (2, "sigmoid")]),
    # Digits-sized input: long accumulations.
    "mlp_wide": (48, [(64, "relu"), (32, "tanh"), (10, "linear")]),
}
CALIBRATION = 64
RANDOM_INT8 = 48
QUANTISED = 48


def hexf(values):
    """float32 values as their bit patterns, so that the fixture is exact."""
    a = np.asarray(values, dtype=np.float32).ravel()
    return " ".join("%08x" % struct.unpack("<I", struct.pack("<f", v))[0] for v in a)


def ints(values):
    return " ".join(str(int(v)) for v in np.asarray(values).ravel())


def build(name, inputs, layers, rng):
    keras_layers = [tf.keras.Input(shape=(inputs,))]
    weights = []
    fan_in = inputs
    for units, act in layers:
        keras_layers.append(tf.keras.layers.Dense(units, activation=act))
        # Weights wide enough that the hidden activations leave the sigmoid's linear part.
        w = rng.normal(0.0, 1.5 / np.sqrt(fan_in), size=(fan_in, units)).astype(np.float32)
        b = rng.normal(0.0, 0.3, size=(units,)).astype(np.float32)
        weights.append((w, b))
        fan_in = units
    model = tf.keras.Sequential(keras_layers)
    for layer, (w, b) in zip(model.layers, weights):
        layer.set_weights([w, b])
    return model, weights


def convert(model, calibration):
    def representative():
        for x in calibration:
            yield [x[None, :].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def float_ranges(model, calibration):
    """Min/max of each FULLY_CONNECTED output over the calibration samples, as the
    converter's calibration sees them: the float model on TFLite's builtin kernels
    (without XNNPACK), one sample at a time, ranges widened to include 0."""
    flat = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    interp = tf.lite.Interpreter(
        model_content=flat,
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interp.allocate_tensors()
    outs = [op["outputs"][0] for op in interp._get_ops_details() if op["op_name"] == "FULLY_CONNECTED"]
    ranges = [[np.float32(0), np.float32(0)] for _ in outs]
    for x in calibration:
        interp.set_tensor(interp.get_input_details()[0]["index"], x[None, :])
        interp.invoke()
        for r, i in zip(ranges, outs):
            t = interp.get_tensor(i)
            r[0], r[1] = min(r[0], t.min()), max(r[1], t.max())
    return ranges


def main():
    os.makedirs(OUT, exist_ok=True)
    for seed, (name, (inputs, layers)) in enumerate(MODELS.items()):
        rng = np.random.default_rng(1700 + seed)
        model, weights = build(name, inputs, layers, rng)
        calibration = rng.normal(0.2, 1.0, size=(CALIBRATION, inputs)).astype(np.float32)
        write_mlp(name, inputs, layers, model, weights, calibration, rng, [])


def normalized_main(name="mlp_normalized", seed=1710):
    """An MLP after a `Normalize` layer, as staticnn folds it into the first Linear layer:
    the Keras model is the folded network (W' = W / σ per input, b' = b − W'·μ). Weights,
    means and deviations are dyadic with few bits (σ a power of two), so that the fold is
    exact in f32 in any order and staticnn's folded weights are these bit for bit. The
    fixture also records μ, σ and the unfolded first layer."""
    inputs, layers = 8, [(12, "relu"), (6, "tanh"), (3, "linear")]
    rng = np.random.default_rng(seed)
    mean = (rng.integers(-16, 17, size=inputs) / 8).astype(np.float32)
    std = (2.0 ** rng.integers(-1, 3, size=inputs)).astype(np.float32)
    model, weights = build(name, inputs, layers, rng)
    weights = [((np.round(w * 1024) / 1024).astype(np.float32),
                (np.round(b * 256) / 256).astype(np.float32)) for w, b in weights]
    w0, b0 = weights[0]  # [in, out]
    wf = (w0 / std[:, None]).astype(np.float32)
    bf64 = b0.astype(np.float64) - (wf.astype(np.float64) * mean[:, None].astype(np.float64)).sum(0)
    bf = bf64.astype(np.float32)
    assert np.all(bf.astype(np.float64) == bf64), "the fold is not exact"
    folded = [(wf, bf)] + weights[1:]
    for layer, (w, b) in zip(model.layers, folded):
        layer.set_weights([w, b])
    calibration = (rng.normal(0.0, 1.2, size=(CALIBRATION, inputs)) * std + mean).astype(np.float32)
    extra = [
        "normalize_mean %s" % hexf(mean),
        "normalize_std %s" % hexf(std),
        "unfolded_weight %s" % hexf(w0.T),
        "unfolded_bias %s" % hexf(b0),
    ]
    write_mlp(name, inputs, layers, model, folded, calibration, rng, extra)


LEAKY_SLOPE = 0.2


def activations_main(name="mlp_leaky", seed=1712, layers=None,
                     resolver=tf.lite.experimental.OpResolverType.BUILTIN_REF):
    """An MLP with TFLite's int8 LEAKY_RELU op (two multipliers) after two Dense layers.
    (No ELU fixture: TensorFlow 2.21's converter leaves an ELU in float, between
    DEQUANTIZE and QUANTIZE, under full-integer quantisation, and the reference resolver
    has no ELU kernel.)"""
    inputs = 6
    layers = layers or [(10, "leaky"), (8, "leaky"), (3, "linear")]
    rng = np.random.default_rng(seed)
    L = tf.keras.layers
    keras_layers = [tf.keras.Input(shape=(inputs,))]
    weights, dense = [], []
    fan_in = inputs
    for units, act in layers:
        d = L.Dense(units, activation="elu" if act == "elu" else None)
        keras_layers.append(d)
        dense.append(d)
        if act == "leaky":
            keras_layers.append(L.LeakyReLU(negative_slope=LEAKY_SLOPE))
        w = rng.normal(0.0, 1.5 / np.sqrt(fan_in), size=(fan_in, units)).astype(np.float32)
        b = rng.normal(0.0, 0.3, size=(units,)).astype(np.float32)
        weights.append((w, b))
        fan_in = units
    model = tf.keras.Sequential(keras_layers)
    for d, (w, b) in zip(dense, weights):
        d.set_weights([w, b])
    calibration = rng.normal(0.2, 1.0, size=(CALIBRATION, inputs)).astype(np.float32)
    write_mlp(name, inputs, layers, model, weights, calibration, rng, [], resolver)


def softmax_main(name="mlp_softmax", seed=1713):
    """An MLP ending in TFLite's int8 SOFTMAX (output scale 1/256, zero point -128) on the
    reference kernels: logits spread wide enough that the exponentials use their range."""
    inputs, layers = 6, [(12, "relu"), (5, "softmax")]
    rng = np.random.default_rng(seed)
    model, weights = build(name, inputs, layers, rng)
    weights[-1] = (weights[-1][0] * 3.0, weights[-1][1])
    for layer, (w, b) in zip(model.layers, weights):
        layer.set_weights([w, b])
    calibration = rng.normal(0.2, 1.0, size=(CALIBRATION, inputs)).astype(np.float32)
    write_mlp(name, inputs, layers, model, weights, calibration, rng, [])


def _unhex(line):
    return np.array([struct.unpack("<f", struct.pack("<I", int(w, 16)))[0] for w in line.split()[1:]],
                    dtype=np.float32)


def mean_of(extra):
    return _unhex(extra[0])


def std_of(extra):
    return _unhex(extra[1])


def write_mlp(name, inputs, layers, model, weights, calibration, rng, extra,
              resolver=tf.lite.experimental.OpResolverType.BUILTIN_REF):
    """Converts `model` with `calibration`, runs the cases on `resolver`'s kernels and
    writes the fixture."""
    if True:
        flat = convert(model, calibration)
        ranges = float_ranges(model, calibration)
        interp = tf.lite.Interpreter(
            model_content=flat,
            experimental_op_resolver_type=resolver,
        )
        interp.allocate_tensors()
        ops = interp._get_ops_details()
        tensors = {t["index"]: t for t in interp.get_tensor_details()}
        inp = interp.get_input_details()[0]
        out = interp.get_output_details()[0]

        lines = [
            "# written by scripts/make_int8_fixtures.py with tensorflow %s" % tf.__version__,
            "# kernels: %s" % resolver.name,
            "model %s" % name,
            "inputs %d" % inputs,
        ] + extra
        in_q = inp["quantization_parameters"]
        lines.append("input %s %d" % (hexf(in_q["scales"]), in_q["zero_points"][0]))
        dense = 0
        for op in ops:
            kind = op["op_name"]
            outs = tensors[op["outputs"][0]]["quantization_parameters"]
            if not len(outs["scales"]):
                sys.exit("%s: op %s has an unquantised output (%s)" % (name, kind, tensors[op["outputs"][0]]["dtype"]))
            oq = "%s %d" % (hexf(outs["scales"]), outs["zero_points"][0])
            if kind == "FULLY_CONNECTED":
                units, act = layers[dense]
                w, b = weights[dense]
                wt = tensors[op["inputs"][1]]
                bt = tensors[op["inputs"][2]]
                wq = interp.get_tensor(wt["index"])  # [units, fan_in]
                bq = interp.get_tensor(bt["index"])
                fused = "relu" if act == "relu" else "none"
                lines.append("linear %d %d %s" % (w.shape[0], units, fused))
                lines.append("weight %s" % hexf(w.T))  # [out][in]
                lines.append("bias %s" % hexf(b))
                lines.append("weight_scales %s" % hexf(wt["quantization_parameters"]["scales"]))
                lines.append("weight_zero_points %s" % ints(wt["quantization_parameters"]["zero_points"]))
                lines.append("weight_q %s" % ints(wq))
                lines.append("bias_scales %s" % hexf(bt["quantization_parameters"]["scales"]))
                lines.append("bias_q %s" % ints(bq))
                lines.append("output %s" % oq)
                lines.append("float_range %s" % hexf(ranges[dense]))
                dense += 1
            elif kind == "TANH":
                lines.append("tanh")
                lines.append("output %s" % oq)
            elif kind == "LOGISTIC":
                lines.append("sigmoid")
                lines.append("output %s" % oq)
            elif kind == "ELU":
                lines.append("elu")
                lines.append("output %s" % oq)
            elif kind == "SOFTMAX":
                lines.append("softmax")
                lines.append("output %s" % oq)
            elif kind == "LEAKY_RELU":
                lines.append("leaky_relu %s" % hexf([LEAKY_SLOPE]))
                lines.append("output %s" % oq)
            elif kind in ("QUANTIZE", "DEQUANTIZE"):
                sys.exit("%s: unexpected %s op" % (name, kind))
            else:
                sys.exit("%s: op %s not handled" % (name, kind))
        lines.append("calibration %d %s" % (CALIBRATION, hexf(calibration)))

        # Inputs: every int8 value in each position at random, and quantised float samples.
        in_scale, in_zp = in_q["scales"][0], in_q["zero_points"][0]
        xs = [rng.integers(-128, 128, size=inputs, dtype=np.int32) for _ in range(RANDOM_INT8)]
        xs.append(np.full(inputs, -128))
        xs.append(np.full(inputs, 127))
        floats = rng.normal(0.2, 1.3, size=(QUANTISED, inputs)).astype(np.float32)
        if extra:
            floats = (floats * 0.9 * std_of(extra) + mean_of(extra)).astype(np.float32)
        for f in floats:
            xs.append(np.clip(np.round(f / in_scale) + in_zp, -128, 127))
        for x in xs:
            interp.set_tensor(inp["index"], np.asarray(x, dtype=np.int8)[None, :])
            interp.invoke()
            y = interp.get_tensor(out["index"])[0]
            lines.append("case %s ; %s" % (ints(x), ints(y)))
        path = os.path.join(OUT, name + ".txt")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        print("%s: %d ops, %d cases -> %s" % (name, len(ops), len(xs), path))


# The CNN fixture: NHWC in Keras and TFLite, channel-first ([C, H, W], columns of C·H·W
# values, c slowest) in staticnn, so the script writes every tensor and weight in
# staticnn's layout.
CNN_INPUT = (13, 13, 2)  # H, W, C
CNN_CASES = 24  # random int8 inputs, and as many quantised float samples


def cnn_model(rng):
    L = tf.keras.layers
    model = tf.keras.Sequential([
        tf.keras.Input(shape=CNN_INPUT),
        L.Conv2D(4, 3, padding="same", activation="relu"),
        L.DepthwiseConv2D(3, padding="same", activation="relu"),
        L.Conv2D(6, 3, strides=2, padding="valid", activation="relu"),
        L.MaxPooling2D(2, strides=1),
        # (A dilated Conv2D becomes SPACE_TO_BATCH_ND + CONV_2D + BATCH_TO_SPACE_ND in this
        # converter, "same" or "valid", so the fixture has no dilation.)
        L.Conv2D(6, 2, padding="valid"),
        # "same": the windows at the edge average fewer values.
        L.AveragePooling2D(2, strides=1, padding="same"),
        L.Flatten(),
        L.Dense(5),
    ])
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            fan_in = np.prod(ws[0].shape[:-1]) if not isinstance(layer, L.DepthwiseConv2D) else np.prod(ws[0].shape[:2])
            w = rng.normal(0.0, 1.5 / np.sqrt(fan_in), size=ws[0].shape).astype(np.float32)
            b = rng.normal(0.0, 0.3, size=ws[1].shape).astype(np.float32)
            layer.set_weights([w, b])
    return model


def same_padding(size, k, stride, dil):
    """TFLite's padding for SAME: the output size and the padding before (top or left)."""
    out = -(-size // stride)
    eff = (k - 1) * dil + 1
    total = max((out - 1) * stride + eff - size, 0)
    return out, total // 2


def cnn_gap_model(rng):
    """A convolution, a global average pooling (kept 4-D: TFLite's MEAN kernel for
    reductions over rows and columns), Flatten and a Dense layer."""
    L = tf.keras.layers
    model = tf.keras.Sequential([
        tf.keras.Input(shape=CNN_INPUT),
        L.Conv2D(4, 3, padding="same", activation="relu"),
        L.GlobalAveragePooling2D(keepdims=True),
        L.Flatten(),
        L.Dense(3),
    ])
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            fan_in = np.prod(ws[0].shape[:-1])
            w = rng.normal(0.0, 1.5 / np.sqrt(fan_in), size=ws[0].shape).astype(np.float32)
            b = rng.normal(0.0, 0.3, size=ws[1].shape).astype(np.float32)
            layer.set_weights([w, b])
    return model


def cnn_main(name="cnn", make=cnn_model, seed=1799):
    rng = np.random.default_rng(seed)
    model = make(rng)
    calibration = rng.normal(0.2, 1.0, size=(CALIBRATION,) + CNN_INPUT).astype(np.float32)

    def representative():
        for x in calibration:
            yield [x[None].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    flat = converter.convert()
    interp = tf.lite.Interpreter(
        model_content=flat,
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF,
    )
    interp.allocate_tensors()
    ops = interp._get_ops_details()
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    in_q = inp["quantization_parameters"]
    h, w, c = CNN_INPUT
    lines = [
        "# written by scripts/make_int8_fixtures.py with tensorflow %s" % tf.__version__,
        "model %s" % name,
        "input_shape %d %d %d" % (c, h, w),
        "input %s %d" % (hexf(in_q["scales"]), in_q["zero_points"][0]),
    ]
    keras = [l for l in model.layers if not isinstance(l, tf.keras.layers.InputLayer)]
    shape = (h, w, c)
    k = 0
    for op in ops:
        kind = op["op_name"]
        if tensors[op["outputs"][0]]["dtype"] != np.int8:
            # Flatten's shape arithmetic (SHAPE, STRIDED_SLICE, PACK on int32) before its
            # RESHAPE.
            continue
        layer = keras[k]
        k += 1
        ot = tensors[op["outputs"][0]]
        outs = ot["quantization_parameters"]
        oq = "output %s %d" % (hexf(outs["scales"]), outs["zero_points"][0])
        cfg = layer.get_config()
        act = "relu" if cfg.get("activation") == "relu" else "none"
        oh, ow, oc = ot["shape"][1:] if len(ot["shape"]) == 4 else (0, 0, ot["shape"][-1])
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            wt, bt = tensors[op["inputs"][1]], tensors[op["inputs"][2]]
            wq = interp.get_tensor(wt["index"])
            kh, kw = cfg["kernel_size"]
            sh, sw = cfg["strides"]
            dh, dw = cfg["dilation_rate"]
            if cfg["padding"] == "same":
                (_, ph), (_, pw) = same_padding(shape[0], kh, sh, dh), same_padding(shape[1], kw, sw, dw)
            else:
                ph = pw = 0
            if kind == "CONV_2D":
                # TFLite [CO, KH, KW, CI] -> staticnn [CO][CI][KH][KW].
                lines.append("conv %d %d %d %d %d %d %d %d %d %d %d %d %s" % (
                    shape[2], oc, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, act))
                lines.append("weight_q %s" % ints(wq.transpose(0, 3, 1, 2)))
            else:
                # TFLite [1, KH, KW, C] -> staticnn [C][KH][KW] (depth multiplier 1).
                lines.append("depthwise %d %d %d %d %d %d %d %d %d %d %d %s" % (
                    oc, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, act))
                lines.append("weight_q %s" % ints(wq[0].transpose(2, 0, 1)))
            lines.append("weight_scales %s" % hexf(wt["quantization_parameters"]["scales"]))
            lines.append("bias_q %s" % ints(interp.get_tensor(bt["index"])))
        elif kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            kh, kw = cfg["pool_size"]
            sh, sw = cfg["strides"]
            if cfg["padding"] == "same":
                (_, ph), (_, pw) = same_padding(shape[0], kh, sh, 1), same_padding(shape[1], kw, sw, 1)
            else:
                ph = pw = 0
            pool = "maxpool" if kind == "MAX_POOL_2D" else "avgpool"
            lines.append("%s %d %d %d %d %d %d %d %d %d" % (pool, oc, kh, kw, sh, sw, ph, pw, oh, ow))
        elif kind == "MEAN":
            lines.append("gap %d %d %d" % (shape[2], shape[0], shape[1]))
        elif kind == "RESHAPE":
            lines.append("flatten")
        elif kind == "FULLY_CONNECTED":
            wt, bt = tensors[op["inputs"][1]], tensors[op["inputs"][2]]
            wq = interp.get_tensor(wt["index"])  # [OUT, H·W·C], Keras's flatten order
            ph_, pw_, pc_ = shape
            # staticnn's flatten order: c slowest, then h, then w.
            wq = wq.reshape(-1, ph_, pw_, pc_).transpose(0, 3, 1, 2).reshape(wq.shape[0], -1)
            lines.append("linear %d %d %s" % (wq.shape[1], wq.shape[0], act))
            lines.append("weight_q %s" % ints(wq))
            lines.append("weight_scales %s" % hexf(wt["quantization_parameters"]["scales"]))
            lines.append("bias_q %s" % ints(interp.get_tensor(bt["index"])))
        else:
            sys.exit("cnn: op %s not handled" % kind)
        lines.append(oq)
        if len(ot["shape"]) == 4:
            shape = tuple(ot["shape"][1:])

    in_scale, in_zp = in_q["scales"][0], in_q["zero_points"][0]
    xs = [rng.integers(-128, 128, size=CNN_INPUT, dtype=np.int32) for _ in range(CNN_CASES)]
    xs.append(np.full(CNN_INPUT, -128))
    xs.append(np.full(CNN_INPUT, 127))
    floats = rng.normal(0.2, 1.3, size=(CNN_CASES,) + CNN_INPUT).astype(np.float32)
    for f in floats:
        xs.append(np.clip(np.round(f / in_scale) + in_zp, -128, 127))
    for n, x in enumerate(xs):
        interp.set_tensor(inp["index"], np.asarray(x, dtype=np.int8)[None])
        interp.invoke()
        y = interp.get_tensor(out["index"])[0]
        lines.append("case %s ; %s" % (ints(np.asarray(x).transpose(2, 0, 1)), ints(y)))
        if n == 0 or name == "cnn_gap":
            # Every op's output on the first case (all cases for cnn_gap), channel-first:
            # which op differs.
            for op in ops:
                t = tensors[op["outputs"][0]]
                if t["dtype"] == np.int8 and len(t["shape"]) == 4:
                    v = interp.get_tensor(t["index"])[0].transpose(2, 0, 1)
                    lines.append("trace %s %s" % (op["op_name"], ints(v)))
    path = os.path.join(OUT, name + ".txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%s: %d ops, %d cases -> %s" % (name, len(ops), len(xs), path))


# The residual fixture: a small ResNet-style CNN (Keras's functional API) whose blocks end
# in TFLite's int8 ADD, one with the identity as its skip path and a ReLU after the sum
# (fused into the ADD), one with a 1×1 projection and none. Every op names its input and
# output tensors, so that the test can follow the graph.
RES_INPUT = (6, 6, 2)  # H, W, C


def resnet_model(rng):
    L = tf.keras.layers
    x = tf.keras.Input(shape=RES_INPUT)
    a = L.Conv2D(4, 3, padding="same", activation="relu")(x)
    b = L.Conv2D(4, 3, padding="same", activation="relu")(a)
    b = L.Conv2D(4, 3, padding="same")(b)
    c = L.ReLU()(L.Add()([b, a]))
    d = L.Conv2D(6, 3, padding="same", activation="relu")(c)
    d = L.Conv2D(6, 3, padding="same")(d)
    p = L.Conv2D(6, 1)(c)
    e = L.Add()([d, p])
    f = L.GlobalAveragePooling2D(keepdims=True)(e)
    y = L.Dense(3)(L.Flatten()(f))
    model = tf.keras.Model(x, y)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            fan_in = np.prod(ws[0].shape[:-1])
            w = rng.normal(0.0, 1.5 / np.sqrt(fan_in), size=ws[0].shape).astype(np.float32)
            b_ = rng.normal(0.0, 0.3, size=ws[1].shape).astype(np.float32)
            layer.set_weights([w, b_])
    return model


def resnet_main(name="resnet", seed=1801):
    rng = np.random.default_rng(seed)
    model = resnet_model(rng)
    calibration = rng.normal(0.2, 1.0, size=(CALIBRATION,) + RES_INPUT).astype(np.float32)

    def representative():
        for x in calibration:
            yield [x[None].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    flat = converter.convert()
    interp = tf.lite.Interpreter(
        model_content=flat,
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF,
    )
    interp.allocate_tensors()
    ops = interp._get_ops_details()
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    in_q = inp["quantization_parameters"]
    h, w, c = RES_INPUT

    def q(t):
        p = tensors[t]["quantization_parameters"]
        return "output %s %d" % (hexf(p["scales"]), p["zero_points"][0])

    def fused(t):
        # A fused ReLU leaves its name in the output tensor's.
        return "relu" if "Relu" in tensors[t]["name"] else "none"

    lines = [
        "# written by scripts/make_int8_fixtures.py with tensorflow %s" % tf.__version__,
        "model %s" % name,
        "input_shape %d %d %d" % (c, h, w),
        "input %d %s %d" % (inp["index"], hexf(in_q["scales"]), in_q["zero_points"][0]),
    ]
    traced = []
    for op in ops:
        kind = op["op_name"]
        o = op["outputs"][0]
        if tensors[o]["dtype"] != np.int8:
            continue  # Flatten's shape arithmetic
        traced.append(o)
        i = op["inputs"][0]
        ishape = tensors[i]["shape"]
        if kind == "CONV_2D":
            wt, bt = tensors[op["inputs"][1]], tensors[op["inputs"][2]]
            wq = interp.get_tensor(wt["index"])  # [CO, KH, KW, CI]
            co, kh, kw, ci = wq.shape
            oh, ow = tensors[o]["shape"][1:3]
            assert (oh, ow) == tuple(ishape[1:3]), "stride 1, same padding only"
            lines.append("conv %d %d %d %d %d %d 1 1 %d %d 1 1 %d %d %s" % (
                i, o, ci, co, kh, kw, (kh - 1) // 2, (kw - 1) // 2, oh, ow, fused(o)))
            lines.append("weight_q %s" % ints(wq.transpose(0, 3, 1, 2)))
            lines.append("weight_scales %s" % hexf(wt["quantization_parameters"]["scales"]))
            lines.append("bias_q %s" % ints(interp.get_tensor(bt["index"])))
        elif kind == "ADD":
            lines.append("add %d %d %d %s" % (op["inputs"][0], op["inputs"][1], o, fused(o)))
        elif kind == "MEAN":
            lines.append("gap %d %d %d %d %d" % (i, o, ishape[3], ishape[1], ishape[2]))
        elif kind == "RESHAPE":
            lines.append("flatten %d %d" % (i, o))
        elif kind == "FULLY_CONNECTED":
            wt, bt = tensors[op["inputs"][1]], tensors[op["inputs"][2]]
            wq = interp.get_tensor(wt["index"])  # [OUT, C] (after a 1×1 pooling)
            lines.append("linear %d %d %d %d %s" % (i, o, wq.shape[1], wq.shape[0], fused(o)))
            lines.append("weight_q %s" % ints(wq))
            lines.append("weight_scales %s" % hexf(wt["quantization_parameters"]["scales"]))
            lines.append("bias_q %s" % ints(interp.get_tensor(bt["index"])))
        else:
            sys.exit("%s: op %s not handled" % (name, kind))
        lines.append(q(o))

    in_scale, in_zp = in_q["scales"][0], in_q["zero_points"][0]
    xs = [rng.integers(-128, 128, size=RES_INPUT, dtype=np.int32) for _ in range(CNN_CASES)]
    xs.append(np.full(RES_INPUT, -128))
    xs.append(np.full(RES_INPUT, 127))
    floats = rng.normal(0.2, 1.3, size=(CNN_CASES,) + RES_INPUT).astype(np.float32)
    for f in floats:
        xs.append(np.clip(np.round(f / in_scale) + in_zp, -128, 127))
    for n, x in enumerate(xs):
        interp.set_tensor(inp["index"], np.asarray(x, dtype=np.int8)[None])
        interp.invoke()
        y = interp.get_tensor(out["index"])[0]
        lines.append("case %s ; %s" % (ints(np.asarray(x).transpose(2, 0, 1)), ints(y)))
        if n < 4:
            # Every op's output on the first cases, channel-first: which op differs.
            for t in traced:
                v = interp.get_tensor(t)[0]
                if v.ndim == 3:
                    v = v.transpose(2, 0, 1)
                lines.append("trace %d %s" % (t, ints(v)))
    path = os.path.join(OUT, name + ".txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%s: %d ops, %d cases -> %s" % (name, len(ops), len(xs), path))


if __name__ == "__main__":
    # `cnn`: only the CNN fixtures; `resnet`: only the residual one; nothing: every fixture.
    if sys.argv[1:] == ["resnet"]:
        resnet_main()
        sys.exit(0)
    if sys.argv[1:] == ["normalized"]:
        normalized_main()
        sys.exit(0)
    if sys.argv[1:] == ["softmax"]:
        softmax_main()
        sys.exit(0)
    if sys.argv[1:] == ["activations"]:
        activations_main()
        sys.exit(0)
    if sys.argv[1:] != ["cnn"]:
        main()
    cnn_main()
    cnn_main("cnn_gap", cnn_gap_model, 1800)
    resnet_main()
    if sys.argv[1:] != ["cnn"]:
        normalized_main()
        activations_main()
        softmax_main()
