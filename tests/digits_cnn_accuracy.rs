#![cfg(feature = "std")]
//! The convolutional digits example keeps its promise: on the same split and test images,
//! the deployed CNN beats the multilayer perceptron of the `digits` example, and its int8
//! form loses at most 0.5 points of test accuracy.

#[allow(dead_code)]
#[path = "../examples/digits_cnn.rs"]
mod example;

#[test]
fn the_cnn_beats_the_mlp_on_the_same_test_images() {
    let cnn = example::run(false).expect("training stays finite");
    let mlp = example::mlp::run(false).expect("training stays finite");
    assert_eq!(cnn.confusion.total(), 355);
    assert!(cnn.epochs >= 1 && cnn.epochs <= example::EPOCHS);
    assert!(
        cnn.accuracy > mlp.accuracy,
        "CNN {:.4} against MLP {:.4}",
        cnn.accuracy,
        mlp.accuracy
    );
    assert!(cnn.accuracy >= 0.98, "CNN {:.4}", cnn.accuracy);
    // Its int8 form, calibrated on 200 training images, loses at most 0.5 points.
    eprintln!(
        "CNN f32 {:.4} ({} bytes), int8 {:.4} ({} bytes)",
        cnn.accuracy, cnn.f32_bytes, cnn.int8_accuracy, cnn.int8_bytes
    );
    assert!(
        cnn.int8_accuracy >= cnn.accuracy - 0.005,
        "int8 {:.4} vs f32 {:.4}",
        cnn.int8_accuracy,
        cnn.accuracy
    );
    assert!(3 * cnn.int8_bytes < cnn.f32_bytes);
}
