//! The generated code grows linearly with depth.
//!
//! Users pay compile time for every token the macro writes. These tests expand networks of
//! increasing depth and check that each added layer adds the same number of tokens (a
//! quadratic term, such as every layer's code naming every earlier layer, would make the
//! increments grow).

use proc_macro2::{TokenStream, TokenTree};

/// Tokens of the expansion of `source`, counted through every group.
fn tokens(source: &str) -> usize {
    let decl: crate::ast::Decl = syn::parse_str(source).expect("the declaration parses");
    let plan = crate::validate::plan(&decl).expect("the declaration is valid");
    count(crate::expand::expand(&plan))
}

fn count(stream: TokenStream) -> usize {
    stream
        .into_iter()
        .map(|t| match t {
            TokenTree::Group(g) => 2 + count(g.stream()),
            _ => 1,
        })
        .sum()
}

/// A declaration with `depth` hidden blocks of `block` (each followed by `Linear(32)` width
/// bookkeeping), ending in a classifier.
fn declaration(depth: usize, block: &str) -> String {
    let input = if block.contains("Conv") {
        "[4, 8, 8]"
    } else {
        "16"
    };
    let mut s = format!("pub struct Deep {{ input: {input}, ");
    for _ in 0..depth {
        s.push_str(block);
    }
    if block.contains("Conv") {
        s.push_str("Flatten, ");
    }
    s.push_str("Linear(10), loss: SoftmaxCrossEntropy, }");
    s
}

/// Asserts that the token count is affine in depth: the increment from depth 16 to 32 is
/// twice the one from 8 to 16, and the one from 32 to 64 twice that, to within 1 %.
fn assert_linear(block: &str) {
    let n: Vec<usize> = [8, 16, 32, 64]
        .iter()
        .map(|&d| tokens(&declaration(d, block)))
        .collect();
    let steps = [n[1] - n[0], n[2] - n[1], n[3] - n[2]];
    for w in steps.windows(2) {
        let ratio = w[1] as f64 / (2.0 * w[0] as f64);
        assert!(
            (ratio - 1.0).abs() < 0.01,
            "{block}: tokens at depth 8/16/32/64 = {n:?}; increments {steps:?} are not linear"
        );
    }
}

#[test]
fn plain_layers_grow_linearly() {
    assert_linear("Linear(32), ReLU, ");
}

#[test]
fn batch_norm_and_dropout_grow_linearly() {
    // These also produce the inference twin.
    assert_linear("Linear(32), BatchNorm(32), Tanh, Dropout(0.1), ");
}

#[test]
fn convolutional_blocks_grow_linearly() {
    // Shape-preserving, so that any depth is valid; the batch norms also fold.
    assert_linear("Conv2d(4, kernel = 3, padding = 1, bias = false), BatchNorm, ReLU, ");
}
