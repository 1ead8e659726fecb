//! Validation: checks the declaration and resolves every width into a [`Plan`].
//!
//! Every independent mistake is collected (see [`Errors`]) and reported together. A width
//! that is a `const` item cannot be compared here; such a boundary becomes a [`Check`] that
//! the expansion turns into a labelled trait assertion on the user's token.

use std::collections::HashMap;

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Ident, Lit, UnOp, Visibility};

use crate::ast::{Arg, Args, Broken, Decl, Entry, LayerDecl, Width};

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

/// A width resolved to tokens that can stand in a const-generic position.
#[derive(Clone)]
pub enum W {
    Known(usize),
    Named(syn::Path),
}

impl W {
    /// The width as written; `None` (with an error pushed) when it is not a valid width.
    fn of(w: &Width, errors: &mut Errors) -> Option<W> {
        match w {
            Width::Lit(l) => match l.base10_parse::<usize>() {
                Ok(0) => {
                    errors.push(l.span(), "a width must be at least 1");
                    None
                }
                Err(_) if l.base10_digits().starts_with('-') => {
                    errors.push(l.span(), "a width must be at least 1");
                    None
                }
                Ok(n) if l.suffix().is_empty() || l.suffix() == "usize" => Some(W::Known(n)),
                Ok(_) => {
                    errors.push(
                        l.span(),
                        "write a width without a type suffix, or with `usize`",
                    );
                    None
                }
                Err(_) => {
                    errors.push(l.span(), "this width does not fit in a `usize`");
                    None
                }
            },
            Width::Path(p) => Some(W::Named(p.clone())),
        }
    }
}

impl ToTokens for W {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            W::Known(n) => Literal::usize_unsuffixed(*n).to_tokens(tokens),
            W::Named(p) => quote!({ #p }).to_tokens(tokens),
        }
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
    pub layers: Vec<Layer>,
    pub loss: Option<TokenStream>,
    pub checks: Vec<Check>,
    /// Whether to also write the inference-only form (`NameInference`, `to_inference`).
    pub inference: bool,
}

const LAYERS: &[&str] = &[
    "Linear",
    "Maxout",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "LeakyReLU",
    "PReLU",
    "ELU",
    "Softmax",
    "BatchNorm",
    "Dropout",
    "Custom",
];
const LOSSES: &[&str] = &["SoftmaxCrossEntropy", "Hinge", "BceWithLogits", "Mse"];

/// `SoftmaxCrossEntropy` after a single output (also asserted by the expansion when the
/// width is a `const` item).
pub const SOFTMAX_ONE_OUTPUT: &str = "`SoftmaxCrossEntropy` needs at least 2 outputs: over one output its loss is constant (the softmax of one logit is 1); for two classes with one output, use `BceWithLogits`";

/// The width flowing into the next layer.
#[derive(Clone)]
struct Flow {
    /// The width; a best guess when an earlier mistake hides it.
    width: W,
    /// Where the width comes from, as a mismatch message says it ("the network's `input`
    /// is", "layer `hidden` produces"); `None` when `width` is a guess, so that one mistake
    /// is not reported again as width mismatches further down.
    from: Option<String>,
}

impl Flow {
    fn known(width: W, from: String) -> Flow {
        Flow {
            width,
            from: Some(from),
        }
    }

    fn guess(width: W) -> Flow {
        Flow { width, from: None }
    }
}

/// The outline of a declaration that may have mistakes: the fallback declares a network of
/// this shape so that code using it type-checks and reports nothing more.
pub struct Shape {
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
pub fn shape(decl: &Decl) -> Shape {
    check(decl).1
}

fn check(decl: &Decl) -> (Result<Plan, syn::Error>, Shape) {
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
    let mut input: Option<Option<W>> = None; // declared, and its width when valid
    let mut input_guess: Option<W> = None; // the first layer's declared input width
    let mut loss_declared = false;
    let mut loss: Option<Ident> = None; // a known loss
    let mut layers = Vec::new();
    let mut position = 0; // of the next layer, counting layers with syntax errors
    let mut broken_layers = false;
    let mut checks = Vec::new();
    let mut names: HashMap<String, Span> = HashMap::new();
    let mut flow = Flow::guess(W::Known(1));
    let mut previous_kind: Option<Ident> = None;

    for entry in &decl.entries {
        match entry {
            Entry::Input { key, width } => {
                if input.is_some() {
                    errors.push(key.span(), "`input` is declared twice");
                    continue;
                }
                if !layers.is_empty() || broken_layers {
                    errors.push(key.span(), "`input` must come before the layers");
                }
                let w = W::of(width, &mut errors);
                flow = match &w {
                    Some(w) => Flow::known(w.clone(), "the network's `input` is".to_string()),
                    None => Flow::guess(W::Known(1)),
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
                        flow = Flow::guess(W::Known(1));
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
                    resolve(decl_layer, &field, &label, &flow, &mut checks, &mut errors);
                layers.push(layer.unwrap_or_else(|| Layer {
                    kind: String::new(),
                    span: decl_layer.kind.span(),
                    field: field.clone(),
                    label,
                    docs: Vec::new(),
                    ty: quote!(()),
                    value: quote!(()),
                    input: flow.width.clone(),
                    output: after.width.clone(),
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
        && let (W::Known(1), Some(_)) = (&flow.width, &flow.from)
    {
        errors.push(kind.span(), SOFTMAX_ONE_OUTPUT);
    }
    let loss = loss.map(|kind| quote_spanned!(kind.span()=> ::staticnn::loss::#kind));
    let declared_input = input.clone().flatten();
    let shape = Shape {
        input: declared_input
            .clone()
            .or(input_guess)
            .unwrap_or(W::Known(1)),
        output: flow.width,
        loss: loss.clone(),
    };
    if let Some(e) = errors.into_error() {
        return (Err(e), shape);
    }
    let plan = Plan {
        attrs: decl.attrs.clone(),
        vis: decl.vis.clone(),
        name: decl.name.clone(),
        input: declared_input.expect("checked above"),
        layers,
        loss,
        checks,
        inference: true,
    };
    (Ok(plan), shape)
}

/// The input width a layer declares, if any, for guessing a missing `input`.
fn declared_input(layer: &LayerDecl) -> Option<W> {
    let preserving = !matches!(
        layer.kind.to_string().as_str(),
        "Linear" | "Maxout" | "Custom"
    );
    layer.args.as_ref()?.items.iter().find_map(|a| match a {
        Arg::Widths { input: Some(w), .. } => W::of(w, &mut Errors::default()),
        Arg::Widths {
            input: None,
            output,
        } if preserving => W::of(output, &mut Errors::default()),
        _ => None,
    })
}

/// "; did you mean `X`?" for a name that differs from a known one only in case, or the list
/// of known names.
fn suggest(name: &Ident, known: &[&str]) -> String {
    let name = name.to_string();
    match known.iter().find(|k| k.eq_ignore_ascii_case(&name)) {
        Some(k) => format!("; did you mean `{k}`?"),
        None => format!("; expected one of {}", list(known)),
    }
}

fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Options given to a layer, each used at most once.
struct Options<'a> {
    kind: &'a Ident,
    allowed: &'static [&'static str],
    given: Vec<(&'a Ident, &'a Expr)>,
}

impl<'a> Options<'a> {
    fn take(&mut self, key: &str) -> Option<(&'a Ident, &'a Expr)> {
        let pos = self.given.iter().position(|(k, _)| *k == key)?;
        Some(self.given.remove(pos))
    }
}

/// Resolves one layer fed by `flow`; returns it (`None` when it cannot be resolved) and the
/// width flowing out of it.
fn resolve(
    decl: &LayerDecl,
    field: &Ident,
    label: &str,
    flow: &Flow,
    checks: &mut Vec<Check>,
    errors: &mut Errors,
) -> (Option<Layer>, Flow) {
    let kind = &decl.kind;
    let kind_str = kind.to_string();
    let unknown = Flow::guess(flow.width.clone());
    if !LAYERS.contains(&kind_str.as_str()) {
        let hint = suggest(kind, LAYERS);
        errors.push(kind.span(), format!("unknown layer `{kind}`{hint}"));
        return (None, unknown);
    }
    let allowed: &'static [&'static str] = match kind_str.as_str() {
        "Linear" => &["init", "bias"],
        "Maxout" => &["k", "init", "bias"],
        "LeakyReLU" => &["slope"],
        "ELU" => &["alpha"],
        "PReLU" => &["init"],
        "BatchNorm" => &["eps", "momentum"],
        "Dropout" => &["p"],
        _ => &[],
    };
    let mut opts = Options {
        kind,
        allowed,
        given: Vec::new(),
    };
    let mut widths: Option<(Option<&Width>, &Width)> = None;
    let mut custom_ty = None;
    let no_args = Vec::new();
    let items = decl
        .args
        .as_ref()
        .map(|a: &Args| &a.items)
        .unwrap_or(&no_args);
    for item in items {
        match item {
            Arg::Option { key, value } => {
                if !opts.allowed.contains(&key.to_string().as_str()) {
                    let msg = if opts.allowed.is_empty() {
                        format!("`{}` takes no options", opts.kind)
                    } else {
                        format!(
                            "`{}` has no option `{key}`; its options are {}",
                            opts.kind,
                            list(opts.allowed)
                        )
                    };
                    errors.push(key.span(), msg);
                } else if opts.given.iter().any(|(k, _)| *k == key) {
                    let msg = if kind == "Dropout" {
                        "the dropout probability is given twice; write it once, as in `Dropout(0.5)`"
                            .to_string()
                    } else {
                        format!("option `{key}` is given twice")
                    };
                    errors.push(key.span(), msg);
                } else {
                    opts.given.push((key, value));
                }
            }
            Arg::Widths { input, output } => {
                if widths.is_some() {
                    errors.push(
                        output.span(),
                        "widths are given twice; write them once, as `OUT` or `IN -> OUT`",
                    );
                } else {
                    widths = Some((input.as_ref(), output));
                }
            }
            Arg::Type(ty) => custom_ty = Some(ty),
        }
    }

    let (declared_in, declared_out) = match widths {
        Some((i, o)) => (
            i.map(|w| (w, W::of(w, errors))),
            Some((o, W::of(o, errors))),
        ),
        None => (None, None),
    };
    let changes_width = matches!(kind_str.as_str(), "Linear" | "Maxout")
        || (kind_str == "Custom" && declared_in.is_some());
    // Checks a declared input width against the width flowing in; `false` on a mismatch.
    let mut check_against = |w: &Width, declared: &W, errors: &mut Errors| -> bool {
        let Some(from) = &flow.from else { return true };
        match (&flow.width, declared) {
            (W::Known(p), W::Known(d)) if p != d => {
                errors.push(
                    w.span(),
                    format!("layer {label} takes {d} inputs, but {from} {p}"),
                );
                false
            }
            (W::Known(_), W::Known(_)) => true,
            _ => {
                checks.push(Check {
                    span: w.span(),
                    label: label.to_string(),
                    from: from.clone(),
                    produced: flow.width.clone(),
                    declared: declared.clone(),
                });
                true
            }
        }
    };
    let produces = format!("layer {label} produces");
    let (output, after) = if changes_width {
        if let Some((w, Some(d))) = &declared_in {
            check_against(w, d, errors);
        }
        match declared_out {
            Some((_, Some(o))) => (o.clone(), Flow::known(o, produces)),
            Some((_, None)) => (flow.width.clone(), unknown),
            None => {
                errors.push(
                    kind.span(),
                    format!(
                        "`{kind}` needs its output width, as in `{kind}(10)` or `{kind}(64 -> 10)`"
                    ),
                );
                return (None, unknown);
            }
        }
    } else {
        if let Some((w, _)) = &declared_in {
            errors.push(
                w.span(),
                format!(
                    "`{kind}` keeps the width of its input; write one width, as in `{kind}(64)`"
                ),
            );
        }
        match &declared_out {
            // A declared width both checks the width flowing in and, after a mistake, is the
            // best guess of it.
            Some((w, Some(d))) if flow.from.is_none() || !check_against(w, d, errors) => {
                (flow.width.clone(), Flow::guess(d.clone()))
            }
            Some((_, None)) => (flow.width.clone(), unknown),
            _ => (
                flow.width.clone(),
                Flow {
                    width: flow.width.clone(),
                    from: flow.from.as_ref().map(|_| produces),
                },
            ),
        }
    };
    let number =
        |opts: &mut Options, key: &str, default: f64, errors: &mut Errors| -> TokenStream {
            match opts.take(key) {
                Some((_, e)) => float(e, errors),
                None => Literal::f64_suffixed(default).into_token_stream(),
            }
        };
    let mut checks_const = Vec::new();
    let (ty, value) = match kind_str.as_str() {
        "Linear" => {
            let weight = opts
                .take("init")
                .map(|(_, e)| init(e, errors))
                .unwrap_or_else(|| quote!(::staticnn::Init::TorchDefault));
            let bias = opts
                .take("bias")
                .map(|(_, e)| init(e, errors))
                .unwrap_or_else(|| quote!(::staticnn::Init::TorchDefault));
            (
                quote!(::staticnn::layers::Linear),
                quote!(::staticnn::layers::Linear { weight: #weight, bias: #bias }),
            )
        }
        "Maxout" => {
            let k = match opts.take("k") {
                Some((
                    _,
                    Expr::Lit(syn::ExprLit {
                        lit: Lit::Int(l), ..
                    }),
                )) => {
                    match l.base10_parse::<usize>() {
                        Ok(k) if (1..=255).contains(&k) => Literal::usize_unsuffixed(k),
                        _ => {
                            errors.push(l.span(), "`k`, the number of maxout pieces, must be an integer from 1 to 255");
                            Literal::usize_unsuffixed(2)
                        }
                    }
                }
                Some((_, e)) => {
                    errors.push(
                        e.span(),
                        "`k`, the number of maxout pieces, must be an integer literal",
                    );
                    Literal::usize_unsuffixed(2)
                }
                None => {
                    errors.push(
                        kind.span(),
                        "`Maxout` needs its number of pieces, as in `Maxout(64, k = 2)`",
                    );
                    Literal::usize_unsuffixed(2)
                }
            };
            let weight = opts
                .take("init")
                .map(|(_, e)| init(e, errors))
                .unwrap_or_else(|| quote!(::staticnn::Init::TorchDefault));
            let bias = opts
                .take("bias")
                .map(|(_, e)| init(e, errors))
                .unwrap_or_else(|| quote!(::staticnn::Init::TorchDefault));
            (
                quote!(::staticnn::layers::Maxout<#k>),
                quote!(::staticnn::layers::Maxout::<#k> { weight: #weight, bias: #bias }),
            )
        }
        "LeakyReLU" => {
            let slope = number(&mut opts, "slope", 0.01, errors);
            (
                quote!(::staticnn::layers::LeakyReLU),
                quote!(::staticnn::layers::LeakyReLU { slope: #slope }),
            )
        }
        "ELU" => {
            let alpha = number(&mut opts, "alpha", 1.0, errors);
            (
                quote!(::staticnn::layers::ELU),
                quote!(::staticnn::layers::ELU { alpha: #alpha }),
            )
        }
        "PReLU" => {
            let init = number(&mut opts, "init", 0.25, errors);
            (
                quote!(::staticnn::layers::PReLU),
                quote!(::staticnn::layers::PReLU { init: #init }),
            )
        }
        "BatchNorm" => {
            let eps = positive(&mut opts, "eps", 1e-5, false, errors);
            let momentum = positive(&mut opts, "momentum", 0.1, true, errors);
            (
                quote!(::staticnn::layers::BatchNorm),
                quote!(::staticnn::layers::BatchNorm { eps: #eps, momentum: #momentum }),
            )
        }
        "Dropout" => {
            let p = match opts.take("p") {
                Some((_, e)) => match literal_f64(e) {
                    Some(Ok(v)) if (0.0..1.0).contains(&v) => {
                        Literal::f64_suffixed(v).into_token_stream()
                    }
                    Some(Ok(v)) => {
                        errors.push(
                            e.span(),
                            format!("a dropout probability must be in [0, 1), not {v}"),
                        );
                        quote!(0.0f64)
                    }
                    _ => {
                        let p = float(e, errors);
                        checks_const.push(quote_spanned! {e.span()=>
                            const _: () = ::core::assert!(
                                #p >= 0.0 && #p < 1.0,
                                "a dropout probability must be in [0, 1)"
                            );
                        });
                        p
                    }
                },
                None => {
                    errors.push(
                        kind.span(),
                        "`Dropout` needs its probability, as in `Dropout(0.5)`",
                    );
                    quote!(0.0f64)
                }
            };
            (
                quote!(::staticnn::layers::Dropout),
                quote!(::staticnn::layers::Dropout { p: #p }),
            )
        }
        "Custom" => match custom_ty {
            Some(ty) => (
                quote!(#ty),
                quote!(<#ty as ::core::default::Default>::default()),
            ),
            None => {
                errors.push(kind.span(), "`Custom` needs the layer's type, as in `Custom(MyLayer)` or `Custom(MyLayer, 8 -> 4)`");
                return (None, after);
            }
        },
        other => {
            let ident = Ident::new(other, kind.span());
            (
                quote!(::staticnn::layers::#ident),
                quote!(::staticnn::layers::#ident),
            )
        }
    };
    let docs = decl
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .cloned()
        .collect();
    for a in decl.attrs.iter().filter(|a| !a.path().is_ident("doc")) {
        errors.push(
            a.path().span(),
            "only doc comments may be attached to a layer",
        );
    }
    let layer = Layer {
        kind: kind_str.clone(),
        span: kind.span(),
        field: field.clone(),
        label: label.to_string(),
        docs,
        ty,
        value,
        input: flow.width.clone(),
        output,
        custom: kind == "Custom",
        asserts: checks_const,
    };
    (Some(layer), after)
}

/// A floating-point option that must be positive (or, with `unit`, lie in `(0, 1]`) when
/// it is a literal.
fn positive(
    opts: &mut Options,
    key: &str,
    default: f64,
    unit: bool,
    errors: &mut Errors,
) -> TokenStream {
    match opts.take(key) {
        Some((_, e)) => {
            if let Some(Ok(v)) = literal_f64(e)
                && (v <= 0.0 || (unit && v > 1.0))
            {
                let range = if unit { "in (0, 1]" } else { "positive" };
                errors.push(e.span(), format!("`{key}` must be {range}, not {v}"));
            }
            float(e, errors)
        }
        None => Literal::f64_suffixed(default).into_token_stream(),
    }
}

/// A floating-point option: a number literal (optionally negated) or a `const` item of
/// type `f64`.
fn float(e: &Expr, errors: &mut Errors) -> TokenStream {
    match literal_f64(e) {
        Some(Ok(v)) => Literal::f64_suffixed(v).into_token_stream(),
        Some(Err(())) => {
            errors.push(
                e.span(),
                "expected a number, such as `0.1`, or the name of a `const` item",
            );
            quote!(0.0f64)
        }
        None => match e {
            Expr::Path(p) => quote_spanned!(p.span()=> ::staticnn::__private::float_option(#p)),
            _ => {
                errors.push(
                    e.span(),
                    "expected a number, such as `0.1`, or the name of a `const` item",
                );
                quote!(0.0f64)
            }
        },
    }
}

/// The value of a (possibly negated) number literal; `None` when `e` is not a literal.
fn literal_f64(e: &Expr) -> Option<Result<f64, ()>> {
    match e {
        Expr::Lit(l) => match &l.lit {
            Lit::Float(f) => Some(f.base10_parse::<f64>().map_err(|_| ())),
            Lit::Int(i) => Some(i.base10_parse::<f64>().map_err(|_| ())),
            _ => Some(Err(())),
        },
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => {
            literal_f64(&u.expr).map(|r| r.map(|v| -v))
        }
        Expr::Paren(p) => literal_f64(&p.expr),
        _ => None,
    }
}

const INITS: &[&str] = &[
    "zeros",
    "constant(c)",
    "uniform(lo, hi)",
    "normal(mean, std)",
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "lecun_normal",
    "torch_default",
];

/// Every name `init` accepts, aliases included.
const INIT_NAMES: &[&str] = &[
    "zeros",
    "constant",
    "uniform",
    "normal",
    "xavier_uniform",
    "glorot_uniform",
    "xavier_normal",
    "glorot_normal",
    "he_uniform",
    "kaiming_uniform",
    "he_normal",
    "kaiming_normal",
    "lecun_normal",
    "torch_default",
];

/// "; did you mean …?" for an unknown initialisation that differs from a known one in case
/// or is the start of known ones (`kaiming`, `he`), or the list of schemes.
fn suggest_init(name: &Ident) -> String {
    let name = name.to_string().to_lowercase();
    let close: Vec<String> = INIT_NAMES
        .iter()
        .filter(|n| **n == name || n.starts_with(&format!("{name}_")))
        .map(|n| format!("`{n}`"))
        .collect();
    match close.as_slice() {
        [] => format!("; expected one of {}", list(INITS)),
        [one] => format!("; did you mean {one}?"),
        [first @ .., last] => format!("; did you mean {} or {last}?", first.join(", ")),
    }
}

/// An initialisation scheme: `he_normal`, `he_normal(slope = 0.1)`, `normal(0.0, 0.01)`, …
fn init(e: &Expr, errors: &mut Errors) -> TokenStream {
    let (name, args): (&Ident, Vec<&Expr>) = match e {
        Expr::Path(p) if p.path.get_ident().is_some() => (p.path.get_ident().unwrap(), Vec::new()),
        Expr::Call(c) => match &*c.func {
            Expr::Path(p) if p.path.get_ident().is_some() => {
                (p.path.get_ident().unwrap(), c.args.iter().collect())
            }
            _ => {
                errors.push(
                    e.span(),
                    format!("expected an initialisation scheme: one of {}", list(INITS)),
                );
                return quote!(::staticnn::Init::Zeros);
            }
        },
        _ => {
            errors.push(
                e.span(),
                format!("expected an initialisation scheme: one of {}", list(INITS)),
            );
            return quote!(::staticnn::Init::Zeros);
        }
    };
    // Arguments may be positional or named (`gain = 1.0`); names must match.
    let arg = |i: usize, key: &str, default: Option<f64>, errors: &mut Errors| -> TokenStream {
        match args.get(i) {
            Some(Expr::Assign(a)) => {
                let ok = matches!(&*a.left, Expr::Path(p) if p.path.is_ident(key));
                if !ok {
                    errors.push(a.left.span(), format!("`{name}` takes `{key}` here"));
                }
                float(&a.right, errors)
            }
            Some(v) => float(v, errors),
            None => match default {
                Some(d) => Literal::f64_suffixed(d).into_token_stream(),
                None => {
                    let usage = INITS
                        .iter()
                        .find(|i| i.starts_with(&format!("{name}(")))
                        .unwrap_or(&"");
                    errors.push(e.span(), format!("`{name}` needs `{key}`, as in `{usage}`"));
                    quote!(0.0f64)
                }
            },
        }
    };
    let (ts, max_args) = match name.to_string().as_str() {
        "zeros" => (quote!(::staticnn::Init::Zeros), 0),
        "constant" => {
            let c = arg(0, "value", None, errors);
            (quote!(::staticnn::Init::Constant(#c)), 1)
        }
        "uniform" => {
            let (lo, hi) = (arg(0, "lo", None, errors), arg(1, "hi", None, errors));
            (quote!(::staticnn::Init::Uniform { lo: #lo, hi: #hi }), 2)
        }
        "normal" => {
            let (mean, std) = (arg(0, "mean", None, errors), arg(1, "std", None, errors));
            (
                quote!(::staticnn::Init::Normal { mean: #mean, std: #std }),
                2,
            )
        }
        "xavier_uniform" | "glorot_uniform" => {
            let gain = arg(0, "gain", Some(1.0), errors);
            (quote!(::staticnn::Init::XavierUniform { gain: #gain }), 1)
        }
        "xavier_normal" | "glorot_normal" => {
            let gain = arg(0, "gain", Some(1.0), errors);
            (quote!(::staticnn::Init::XavierNormal { gain: #gain }), 1)
        }
        "he_uniform" | "kaiming_uniform" => {
            let slope = arg(0, "slope", Some(0.0), errors);
            (quote!(::staticnn::Init::HeUniform { slope: #slope }), 1)
        }
        "he_normal" | "kaiming_normal" => {
            let slope = arg(0, "slope", Some(0.0), errors);
            (quote!(::staticnn::Init::HeNormal { slope: #slope }), 1)
        }
        "lecun_normal" => (quote!(::staticnn::Init::LecunNormal), 0),
        "torch_default" => (quote!(::staticnn::Init::TorchDefault), 0),
        _ => {
            errors.push(
                name.span(),
                format!("unknown initialisation `{name}`{}", suggest_init(name)),
            );
            return quote!(::staticnn::Init::Zeros);
        }
    };
    if args.len() > max_args {
        errors.push(
            args[max_args].span(),
            format!("`{name}` takes at most {max_args} argument(s)"),
        );
    }
    ts
}
