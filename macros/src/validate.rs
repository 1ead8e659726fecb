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
    /// Where the layer sits, for weight files and summaries (see [`Nest`]).
    pub nest: Nest,
}

/// Which part of a residual block a layer belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Part {
    Body,
    Projection,
}

/// Where a layer sits among residual blocks.
///
/// A `Residual` block is one layer of the plan (its *header*, which holds the block's
/// output: the sum) followed by the layers of its body and then of its projection, each of
/// which has the header's field and its part at the end of its `scope`.
#[derive(Clone, Default)]
pub struct Nest {
    /// The module key in `nn.Sequential` style: `3`, `3.body.0`, `3.projection.1`.
    pub path: String,
    /// The key with named blocks by name (`res1.body.0`), when a named block encloses the
    /// layer or the layer is named; `None` otherwise.
    pub named_path: Option<String>,
    /// The enclosing blocks, outermost first: each one's header field and this layer's part.
    pub scope: Vec<(Ident, Part)>,
    /// Whether the layer is a block's header.
    pub block: bool,
    /// A header's block input (its layer-table row shows the block: input → sum).
    pub block_input: Option<Shape>,
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
                let label = match &decl_layer.name {
                    Some(n) => format!("`{n}`"),
                    None => format!("{index} (`{}`)", decl_layer.kind),
                };
                if index == 0 && input_guess.is_none() {
                    input_guess = declared_input(decl_layer);
                }
                let nest = Nest {
                    path: index.to_string(),
                    named_path: decl_layer.name.as_ref().map(|n| n.to_string()),
                    scope: Vec::new(),
                    block: false,
                    block_input: None,
                };
                let mut walk = Walk {
                    errors: &mut errors,
                    checks: &mut checks,
                    names: &mut names,
                    layers: &mut layers,
                };
                flow = walk.layer(decl_layer, field, label, nest, flow);
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

/// What the walk over layers fills in.
struct Walk<'a> {
    errors: &'a mut Errors,
    checks: &'a mut Vec<Check>,
    names: &'a mut HashMap<String, Span>,
    layers: &'a mut Vec<Layer>,
}

impl Walk<'_> {
    /// Resolves one layer (a residual block with its layers) fed by `flow`; returns the
    /// flow out of it.
    fn layer(
        &mut self,
        decl: &LayerDecl,
        field: Ident,
        label: String,
        nest: Nest,
        flow: Flow,
    ) -> Flow {
        let key = field.to_string();
        if matches!(key.as_str(), "params" | "state") || key.starts_with("__") {
            self.errors.push(
                field.span(),
                format!("`{key}` is reserved; choose another layer name"),
            );
        }
        if self.names.contains_key(&key) {
            self.errors
                .push(field.span(), format!("duplicate layer name `{key}`"));
        } else {
            self.names.insert(key.clone(), field.span());
        }
        if let Some(block) = &decl.block {
            return self.residual(decl, block, field, label, nest, flow);
        }
        let (layer, after) =
            catalogue::resolve(decl, &field, &label, &flow, self.checks, self.errors);
        let mut layer = layer.unwrap_or_else(|| Layer {
            kind: String::new(),
            span: decl.kind.span(),
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
            nest: Nest::default(),
        });
        layer.nest = nest;
        self.layers.push(layer);
        after
    }

    /// A `Residual` block: its header (the sum, this block's entry in the layer table), then
    /// its body and projection, each fed the block's input. The body's output must have the
    /// shape of what is added to it: the input, or the projection's output.
    fn residual(
        &mut self,
        decl: &LayerDecl,
        block: &crate::ast::Block,
        field: Ident,
        label: String,
        nest: Nest,
        flow: Flow,
    ) -> Flow {
        let header = self.layers.len();
        for a in decl.attrs.iter().filter(|a| !a.path().is_ident("doc")) {
            self.errors.push(
                a.path().span(),
                "only doc comments may be attached to a layer",
            );
        }
        self.layers.push(Layer {
            kind: "Residual".to_string(),
            span: decl.kind.span(),
            field: field.clone(),
            label: label.clone(),
            docs: decl
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("doc"))
                .cloned()
                .collect(),
            ty: quote::quote!(::staticnn::layers::Residual),
            value: quote::quote!(::staticnn::layers::Residual),
            input: flow.width(),
            output: flow.width(),
            in_shape: flow.shape.clone(),
            out_shape: flow.shape.clone(),
            biased: None,
            custom: false,
            asserts: Vec::new(),
            nest: Nest {
                block: true,
                block_input: Some(flow.shape.clone()),
                ..nest.clone()
            },
        });
        if block.body.is_empty() {
            self.errors.push(
                decl.kind.span(),
                "`Residual` needs at least one layer in its body, as in `Residual(Conv2d(16, kernel = 3, padding = 1), BatchNorm)`",
            );
        }
        let header_field = field.clone();
        let part = |walk: &mut Self, layers: &[Result<LayerDecl, syn::Error>], p: Part| {
            let word = match p {
                Part::Body => "body",
                Part::Projection => "projection",
            };
            let mut f = flow.clone();
            for (i, inner) in layers.iter().enumerate() {
                let inner = match inner {
                    Ok(l) => l,
                    Err(e) => {
                        walk.errors.push_error(e.clone());
                        f.from = None;
                        continue;
                    }
                };
                let field = Ident::new(&format!("{field}_{word}{i}"), inner.kind.span());
                let label = format!("{i} (`{}`) in the {word} of block {label}", inner.kind);
                let mut scope = nest.scope.clone();
                scope.push((header_field.clone(), p));
                let inner_nest = Nest {
                    path: format!("{}.{word}.{i}", nest.path),
                    named_path: nest.named_path.as_ref().map(|n| format!("{n}.{word}.{i}")),
                    scope,
                    block: false,
                    block_input: None,
                };
                f = walk.layer(inner, field, label, inner_nest, f);
            }
            f
        };
        let body = part(self, &block.body, Part::Body);
        let projection = block
            .projection
            .as_ref()
            .map(|(key, layers)| (key, part(self, layers, Part::Projection)));
        let (added, span) = match &projection {
            Some((key, p)) => (p.clone(), key.span()),
            None => (flow.clone(), decl.kind.span()),
        };
        // The sum has the shape of both paths: when a mistake hides one, the other's is
        // still known, so that mistakes after the block are reported too.
        let produces = Some(format!("block {label} produces"));
        let (shape, from) = match (&body.from, &added.from) {
            (Some(_), Some(_)) => {
                let projected = projection.is_some();
                self.compare(
                    &label,
                    &body.shape,
                    &added.shape,
                    &flow.shape,
                    projected,
                    span,
                );
                (body.shape.clone(), produces)
            }
            (None, Some(_)) => (added.shape.clone(), produces),
            (Some(_), None) => (body.shape.clone(), produces),
            (None, None) => (body.shape.clone(), None),
        };
        let out = Flow {
            shape,
            from,
            detail: None,
        };
        // The header is the sum: it maps the body's output to the block's output.
        let h = &mut self.layers[header];
        (h.input, h.output) = (out.width(), out.width());
        (h.in_shape, h.out_shape) = (out.shape.clone(), out.shape.clone());
        out
    }

    /// Checks that the body's output can be added to `added` (the input, or the
    /// projection's output).
    fn compare(
        &mut self,
        label: &str,
        body: &Shape,
        added: &Shape,
        input: &Shape,
        projected: bool,
        span: Span,
    ) {
        let dims = |s: &Shape| -> Vec<W> {
            match s {
                Shape::Flat(w) => vec![w.clone()],
                Shape::Seq(d) => d.to_vec(),
                Shape::Image(d) => d.to_vec(),
            }
        };
        let (b, a) = (dims(body), dims(added));
        let same_kind = b.len() == a.len();
        let known_differ = !same_kind
            || b.iter()
                .zip(&a)
                .any(|(x, y)| matches!((x.known(), y.known()), (Some(x), Some(y)) if x != y));
        if known_differ {
            let msg = if projected {
                format!(
                    "block {label}: its body produces {} but its projection produces {}; they must have the same shape to be added",
                    body.describe(),
                    added.describe()
                )
            } else {
                format!(
                    "block {label}: its body turns {} into {}, which cannot be added to its input; add a projection that maps one to the other, as in `Residual(…; projection = {})`",
                    input.describe(),
                    body.describe(),
                    projection_hint(input, body)
                )
            };
            self.errors.push(span, msg);
            return;
        }
        let unknown: Vec<(W, W)> = b
            .into_iter()
            .zip(a)
            .filter(|(x, y)| x.known().is_none() || y.known().is_none())
            .collect();
        if !unknown.is_empty() {
            let (what, hint) = if projected {
                ("its projection's output", "")
            } else {
                ("its input", "; add a projection if they differ")
            };
            let msg = format!(
                "block {label}: its body's output ({}) must have the shape of {what} ({}) to be added to it{hint}",
                body.describe(),
                added.describe()
            );
            let (xs, ys): (Vec<W>, Vec<W>) = unknown.into_iter().unzip();
            if let Some(l) = self.layers.last_mut() {
                l.asserts.push(quote::quote_spanned! {span=>
                    #[allow(clippy::all)]
                    const _: () = ::core::assert!(true #( && #xs == #ys )*, #msg);
                });
            }
        }
    }
}

/// A projection that would map `input` to `output`: a 1×1 convolution with the stride that
/// divides the sizes, or a `Linear` layer for flat features.
fn projection_hint(input: &Shape, output: &Shape) -> String {
    let stride = |i: &W, o: &W| match (i.known(), o.known()) {
        (Some(i), Some(o)) if o > 0 && i > o => Some(i.div_ceil(o)),
        _ => None,
    };
    match (input, output) {
        (Shape::Image([_, hi, _]), Shape::Image([c, ho, _])) => match stride(hi, ho) {
            Some(s) => format!("Conv2d({}, kernel = 1, stride = {s})", c.describe()),
            None => format!("Conv2d({}, kernel = 1)", c.describe()),
        },
        (Shape::Seq([_, li]), Shape::Seq([c, lo])) => match stride(li, lo) {
            Some(s) => format!("Conv1d({}, kernel = 1, stride = {s})", c.describe()),
            None => format!("Conv1d({}, kernel = 1)", c.describe()),
        },
        (_, o) => format!("Linear({})", o.width().describe()),
    }
}
