//! Validation: checks the declaration and resolves every shape into a [`Plan`].
//!
//! The walk over the entries lives here; what each layer kind accepts and how it maps the
//! shape flowing into it to the shape flowing out is one entry of the
//! [`catalogue`](crate::catalogue). Every independent mistake is collected (see [`Errors`])
//! and reported together. A size that is a `const` item cannot be compared here; such a
//! boundary becomes a [`Check`] that the expansion turns into a labelled trait assertion on
//! the user's token.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::{Attribute, Ident, Visibility};

use crate::ast::{Arg, Broken, Decl, Entry, InputDecl, LayerDecl};
use crate::catalogue;
use crate::options::suggest;
pub use crate::shape::{Shape, W};

/// Collects errors so that independent mistakes are all reported in one compile.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, span: Span, msg: impl std::fmt::Display) {
        let e = syn::Error::new(span, msg);
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    pub fn push_error(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    pub fn into_error(self) -> Option<syn::Error> {
        self.0
    }
}

/// A width boundary only the type checker can verify.
pub struct Check {
    pub span: Span,
    /// The consuming layer, as messages name it (`` `out` ``, ``2 (`Linear`)``).
    pub label: String,
    /// Where the width comes from, as [`Flow::from`] says it.
    pub from: String,
    pub produced: W,
    pub declared: W,
}

/// A resolved layer.
#[derive(Clone)]
pub struct Layer {
    /// The layer type as written (`Linear`, `BatchNorm`, …).
    pub kind: String,
    /// Where the layer type is written, for errors about the layer.
    pub span: Span,
    pub field: Ident,
    pub label: String,
    pub docs: Vec<Attribute>,
    pub ty: TokenStream,
    pub value: TokenStream,
    pub input: W,
    pub output: W,
    /// The shape flowing in and out (`input`/`output` are their widths).
    pub in_shape: Shape,
    pub out_shape: Shape,
    /// For a convolution without bias: its type and value with one (see
    /// [`catalogue::Built::biased`]).
    pub biased: Option<(TokenStream, TokenStream)>,
    /// A user's type (`Custom`), whose mistakes are reported on its own token.
    pub custom: bool,
    /// Compile-time assertions on option values given by `const` items.
    pub asserts: Vec<TokenStream>,
}

/// Everything the expansion needs.
pub struct Plan {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub input: W,
    pub input_shape: Shape,
    pub layers: Vec<Layer>,
    pub loss: Option<TokenStream>,
    pub checks: Vec<Check>,
    /// Whether to also write the inference-only form (`NameInference`, `to_inference`).
    pub inference: bool,
    /// Whether this plan is itself an inference-only form: its `summary()` shows the
    /// deployed figures (no training tape, bytes without padding).
    pub deployed: bool,
}

const LOSSES: &[&str] = &["SoftmaxCrossEntropy", "Hinge", "BceWithLogits", "Mse"];

/// `SoftmaxCrossEntropy` after a single output (also asserted by the expansion when the
/// width is a `const` item).
pub const SOFTMAX_ONE_OUTPUT: &str = "`SoftmaxCrossEntropy` needs at least 2 outputs: over one output its loss is constant (the softmax of one logit is 1); for two classes with one output, use `BceWithLogits`";

/// The shape flowing into the next layer.
#[derive(Clone)]
pub struct Flow {
    /// The shape; a best guess when an earlier mistake hides it.
    pub shape: Shape,
    /// Where the shape comes from, as a mismatch message says it ("the network's `input`
    /// is", "layer `hidden` produces"); `None` when `shape` is a guess, so that one mistake
    /// is not reported again as mismatches further down.
    pub from: Option<String>,
    /// How a flat width came about, when it is worth saying: `8 × 4 × 4 = 128` after a
    /// `Flatten`.
    pub detail: Option<String>,
}

impl Flow {
    pub fn known(shape: Shape, from: String) -> Flow {
        Flow {
            shape,
            from: Some(from),
            detail: None,
        }
    }

    pub fn guess(shape: Shape) -> Flow {
        Flow {
            shape,
            from: None,
            detail: None,
        }
    }

    /// The flat width of the shape.
    pub fn width(&self) -> W {
        self.shape.width()
    }
}

/// The outline of a declaration that may have mistakes: the fallback declares a network of
/// this shape so that code using it type-checks and reports nothing more.
pub struct Outline {
    pub input: W,
    pub output: W,
    pub loss: Option<TokenStream>,
}

/// Checks the declaration and resolves it.
pub fn plan(decl: &Decl) -> Result<Plan, syn::Error> {
    check(decl).0
}

/// The input and output widths and the loss of a declaration, guessed where mistakes hide
/// them.
pub fn outline(decl: &Decl) -> Outline {
    check(decl).1
}

fn check(decl: &Decl) -> (Result<Plan, syn::Error>, Outline) {
    let mut errors = Errors::default();
    for e in &decl.errors {
        errors.push_error(e.clone());
    }
    for a in decl.attrs.iter().filter(|a| a.path().is_ident("derive")) {
        errors.push(
            a.path().span(),
            "`network!` cannot derive traits for a network; it implements `Clone`, `Copy`, `Debug` and `PartialEq` already",
        );
    }
    let mut input: Option<Option<Shape>> = None; // declared, and its shape when valid
    let mut input_guess: Option<W> = None; // the first layer's declared input width
    let mut loss_declared = false;
    let mut loss: Option<Ident> = None; // a known loss
    let mut layers = Vec::new();
    let mut position = 0; // of the next layer, counting layers with syntax errors
    let mut broken_layers = false;
    let mut checks = Vec::new();
    let mut names: HashMap<String, Span> = HashMap::new();
    let mut flow = Flow::guess(Shape::Flat(W::Known(1)));
    let mut previous_kind: Option<Ident> = None;

    for entry in &decl.entries {
        match entry {
            Entry::Input { key, shape } => {
                if input.is_some() {
                    errors.push(key.span(), "`input` is declared twice");
                    continue;
                }
                if !layers.is_empty() || broken_layers {
                    errors.push(key.span(), "`input` must come before the layers");
                }
                let w = input_shape(shape, &mut errors);
                flow = match &w {
                    Some(w) => Flow::known(w.clone(), "the network's `input` is".to_string()),
                    None => Flow::guess(Shape::Flat(W::Known(1))),
                };
                input = Some(w);
            }
            Entry::Loss { key, kind, args } => {
                if loss_declared {
                    errors.push(
                        key.span(),
                        "a network has one loss; `loss` is declared twice",
                    );
                    continue;
                }
                loss_declared = true;
                if let (Some(from), Shape::Seq(_) | Shape::Image(_)) = (&flow.from, &flow.shape) {
                    errors.push(
                        kind.span(),
                        format!(
                            "a loss takes one score per output, but {from} {}; end the network with `Flatten` and a `Linear` layer, or `GlobalAvgPool` and `Flatten`",
                            flow.shape.describe()
                        ),
                    );
                }
                if LOSSES.iter().any(|l| kind == l) {
                    loss = Some(kind.clone());
                } else {
                    errors.push(
                        kind.span(),
                        format!("unknown loss `{kind}`{}", suggest(kind, LOSSES)),
                    );
                }
                if let Some(args) = args {
                    errors.push(args.span, format!("`{kind}` takes no arguments"));
                }
                if let Some(prev) = previous_kind
                    .as_ref()
                    .filter(|p| *p == "Softmax" && kind == "SoftmaxCrossEntropy")
                {
                    errors.push(
                        prev.span(),
                        "`SoftmaxCrossEntropy` applies softmax to the logits itself; remove this `Softmax` layer",
                    );
                }
            }
            Entry::Broken(meant, error) => {
                errors.push_error(error.clone());
                match meant {
                    Broken::Input if input.is_none() => {
                        input = Some(None);
                        flow = Flow::guess(Shape::Flat(W::Known(1)));
                    }
                    Broken::Input => {}
                    Broken::Loss => loss_declared = true,
                    Broken::Layer => {
                        position += 1;
                        broken_layers = true;
                        flow.from = None;
                        previous_kind = None;
                    }
                }
            }
            Entry::Layer(decl_layer) => {
                if loss_declared {
                    errors.push(
                        decl_layer.kind.span(),
                        "layers must come before the loss; move this layer above `loss`",
                    );
                }
                let index = position;
                position += 1;
                let field = match &decl_layer.name {
                    Some(n) => n.clone(),
                    None => Ident::new(&format!("layer{index}"), decl_layer.kind.span()),
                };
                let key = field.to_string();
                if matches!(key.as_str(), "params" | "state") || key.starts_with("__") {
                    errors.push(
                        field.span(),
                        format!("`{key}` is reserved; choose another layer name"),
                    );
                }
                if names.contains_key(&key) {
                    errors.push(field.span(), format!("duplicate layer name `{key}`"));
                } else {
                    names.insert(key.clone(), field.span());
                }
                let label = match &decl_layer.name {
                    Some(n) => format!("`{n}`"),
                    None => format!("{index} (`{}`)", decl_layer.kind),
                };
                if index == 0 && input_guess.is_none() {
                    input_guess = declared_input(decl_layer);
                }
                let (layer, after) =
                    catalogue::resolve(decl_layer, &field, &label, &flow, &mut checks, &mut errors);
                layers.push(layer.unwrap_or_else(|| Layer {
                    kind: String::new(),
                    span: decl_layer.kind.span(),
                    field: field.clone(),
                    label,
                    docs: Vec::new(),
                    ty: quote::quote!(()),
                    value: quote::quote!(()),
                    input: flow.width(),
                    output: after.width(),
                    in_shape: flow.shape.clone(),
                    out_shape: after.shape.clone(),
                    biased: None,
                    custom: false,
                    asserts: Vec::new(),
                }));
                flow = after;
                previous_kind = Some(decl_layer.kind.clone());
            }
        }
    }
    if decl.has_body && decl.entries.is_empty() {
        errors.push(
            decl.name.span(),
            format!("network `{}` is empty; declare its input width and layers, as in `input: 64, Linear(10)`", decl.name),
        );
    } else if decl.has_body && input.is_none() {
        errors.push(
            decl.name.span(),
            format!(
                "network `{}` needs its input width, as in `input: 64,` before the layers",
                decl.name
            ),
        );
    }
    if !decl.entries.is_empty() && layers.is_empty() && !broken_layers {
        errors.push(
            decl.name.span(),
            format!(
                "network `{}` has no layers; add at least one, as in `Linear(10)`",
                decl.name
            ),
        );
    }
    if let Some(kind) = loss.as_ref().filter(|k| *k == "SoftmaxCrossEntropy")
        && let (W::Known(1), Some(_)) = (&flow.width(), &flow.from)
    {
        errors.push(kind.span(), SOFTMAX_ONE_OUTPUT);
    }
    let loss = loss.map(|kind| quote_spanned!(kind.span()=> ::staticnn::loss::#kind));
    let declared_input = input.clone().flatten();
    let shape = Outline {
        input: declared_input
            .as_ref()
            .map(Shape::width)
            .or(input_guess)
            .unwrap_or(W::Known(1)),
        output: flow.width(),
        loss: loss.clone(),
    };
    if let Some(e) = errors.into_error() {
        return (Err(e), shape);
    }
    let plan = Plan {
        attrs: decl.attrs.clone(),
        vis: decl.vis.clone(),
        name: decl.name.clone(),
        input: declared_input.as_ref().expect("checked above").width(),
        input_shape: declared_input.expect("checked above"),
        layers,
        loss,
        checks,
        inference: true,
        deployed: false,
    };
    (Ok(plan), shape)
}

/// The network's input as declared: a width, `[C, L]` or `[C, H, W]`.
fn input_shape(decl: &InputDecl, errors: &mut Errors) -> Option<Shape> {
    match decl {
        InputDecl::Width(w) => W::of(w, errors).map(Shape::Flat),
        InputDecl::Shape { span, dims } => {
            let sizes: Vec<Option<W>> = dims.iter().map(|d| W::of(d, errors)).collect();
            let sizes: Option<Vec<W>> = sizes.into_iter().collect();
            match (sizes, dims.len()) {
                (Some(s), 2) => Some(Shape::Seq([s[0].clone(), s[1].clone()])),
                (Some(s), 3) => Some(Shape::Image([s[0].clone(), s[1].clone(), s[2].clone()])),
                (Some(s), 1) => Some(Shape::Flat(s[0].clone())),
                (_, 1..=3) => None,
                (_, n) => {
                    errors.push(
                        *span,
                        format!(
                            "an input shape is `[C, L]` (a sequence) or `[C, H, W]` (an image), not {n} sizes"
                        ),
                    );
                    None
                }
            }
        }
    }
}

/// The input width a layer declares, if any, for guessing a missing `input`.
fn declared_input(layer: &LayerDecl) -> Option<W> {
    let preserving = catalogue::find(&layer.kind.to_string()).is_none_or(|k| k.preserves_width);
    layer.args.as_ref()?.items.iter().find_map(|a| match a {
        Arg::Widths { input: Some(w), .. } => W::of(w, &mut Errors::default()),
        Arg::Widths {
            input: None,
            output,
        } if preserving => W::of(output, &mut Errors::default()),
        _ => None,
    })
}
