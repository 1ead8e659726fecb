//! The generated `forward` applies a `ReLU` that follows a convolution in place
//! (`__private::relu_in_place`, branch-free where the CPU has vector units): the `ReLU`
//! layer's bits, `+0` for NaN, `-0`, `+0` and every negative, the value itself otherwise.

use staticnn::prelude::*;

network! {
    struct ConvRelu {
        input: [1, 2, 8],
        conv: Conv2d(2, kernel = 1, bias = false),
        ReLU,
    }
}

#[test]
fn conv_relu_in_place_has_the_relu_layers_bits() {
    let mut net = ConvRelu::<f32>::zeroed();
    // Channel 0 passes the input through, channel 1 negates it.
    net.params.conv.weight[(0, 0)] = 1.0;
    net.params.conv.weight[(0, 1)] = -1.0;
    let inputs = [
        f32::NAN,
        -0.0,
        0.0,
        -1.5,
        2.5,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        1e-45,
        -3.0,
        7.0,
        -0.25,
        0.5,
        f32::MAX,
        -f32::MAX,
    ];
    let x = SVector::<f32, 16>::from_column_slice(&inputs);
    let y = net.forward(&x);
    let relu = |v: f32| if v > 0.0 { v } else { 0.0 };
    for (i, &v) in inputs.iter().enumerate() {
        assert_eq!(y[i].to_bits(), relu(v).to_bits(), "channel 0, input {v}");
        assert_eq!(
            y[16 + i].to_bits(),
            relu(-v).to_bits(),
            "channel 1, input {v}"
        );
    }
}
