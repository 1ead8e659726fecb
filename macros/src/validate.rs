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

use crate::ast::{Arg, Args, Decl, Entry, LayerDecl, Width};

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
    fn of(w: &Width, errors: &mut Errors) -> W {
        match w {
            Width::Lit(l) => match l.base10_parse::<usize>() {
                Ok(0) => {
                    errors.push(l.span(), "a width must be at least 1");
                    W::Known(1)
                }
                Ok(n) if l.suffix().is_empty() || l.suffix() == "usize" => W::Known(n),
                Ok(_) => {
                    errors.push(l.span(), "write a width without a type suffix, or with `usize`");
                    W::Known(1)
                }
                Err(_) => {
                    errors.push(l.span(), "this width does not fit in a `usize`");
                    W::Known(1)
                }
            },
            Width::Path(p) => W::Named(p.clone()),
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
    pub marker: Ident,
    pub produced: W,
    pub declared: W,
}

/// A resolved layer.
pub struct Layer {
    pub field: Ident,
    pub label: String,
    pub docs: Vec<Attribute>,
    pub ty: TokenStream,
    pub value: TokenStream,
    pub input: W,
    pub output: W,
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
}

const LAYERS: &[&str] = &["Linear", "Maxout", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "Custom"];
const LOSSES: &[&str] = &["SoftmaxCrossEntropy", "Hinge", "BceWithLogits", "Mse"];

/// Checks the declaration and resolves it.
pub fn plan(decl: &Decl) -> Result<Plan, syn::Error> {
    let mut errors = Errors::default();
    let mut input: Option<(Ident, W)> = None;
    let mut loss: Option<(Ident, Ident)> = None;
    let mut layers = Vec::new();
    let mut checks = Vec::new();
    let mut names: HashMap<String, Span> = HashMap::new();
    let mut current: Option<(W, String)> = None; // width flowing out of the previous layer, and who made it
    let mut previous_kind: Option<Ident> = None;

    for entry in &decl.entries {
        match entry {
            Entry::Input { key, width } => {
                if input.is_some() {
                    errors.push(key.span(), "`input` is declared twice");
                    continue;
                }
                if !layers.is_empty() {
                    errors.push(key.span(), "`input` must come before the layers");
                }
                let w = W::of(width, &mut errors);
                current = Some((w.clone(), "the input".to_string()));
                input = Some((key.clone(), w));
            }
            Entry::Loss { key, kind, args } => {
                if loss.is_some() {
                    errors.push(key.span(), "a network has one loss; `loss` is declared twice");
                    continue;
                }
                if !LOSSES.iter().any(|l| kind == l) {
                    errors.push(kind.span(), format!("unknown loss `{kind}`; expected one of {}", list(LOSSES)));
                }
                if let Some(args) = args {
                    errors.push(args.span, format!("`{kind}` takes no arguments"));
                }
                if kind == "SoftmaxCrossEntropy" {
                    if let Some(prev) = previous_kind.as_ref().filter(|p| *p == "Softmax") {
                        errors.push(
                            prev.span(),
                            "`SoftmaxCrossEntropy` applies softmax to the logits itself; remove this `Softmax` layer",
                        );
                    }
                }
                loss = Some((key.clone(), kind.clone()));
            }
            Entry::Layer(decl_layer) => {
                if let Some((key, _)) = &loss {
                    errors.push(
                        decl_layer.kind.span(),
                        format!("layers must come before the loss; move this layer above `{key}`"),
                    );
                }
                let index = layers.len();
                let field = match &decl_layer.name {
                    Some(n) => n.clone(),
                    None => Ident::new(&format!("layer{index}"), decl_layer.kind.span()),
                };
                let key = field.to_string();
                if matches!(key.as_str(), "params" | "state") || key.starts_with("__") {
                    errors.push(field.span(), format!("`{key}` is reserved; choose another layer name"));
                }
                if let Some(_first) = names.get(&key) {
                    errors.push(field.span(), format!("duplicate layer name `{key}`"));
                } else {
                    names.insert(key.clone(), field.span());
                }
                let label = match &decl_layer.name {
                    Some(n) => format!("`{n}`"),
                    None => format!("{index} (`{}`)", decl_layer.kind),
                };
                let (produced, producer) = match &current {
                    Some((w, who)) => (w.clone(), who.clone()),
                    None => (W::Known(1), String::new()),
                };
                if let Some(layer) = resolve(decl_layer, &field, &label, &produced, &producer, &mut checks, &mut errors) {
                    current = Some((layer.output.clone(), format!("layer {label}")));
                    layers.push(layer);
                } else {
                    layers.push(Layer {
                        field: field.clone(),
                        label,
                        docs: Vec::new(),
                        ty: quote!(()),
                        value: quote!(()),
                        input: produced.clone(),
                        output: produced,
                    });
                }
                previous_kind = Some(decl_layer.kind.clone());
            }
        }
    }
    if input.is_none() {
        errors.push(decl.name.span(), format!("network `{}` needs its input width, as in `input: 64,` before the layers", decl.name));
    }
    if layers.is_empty() {
        errors.push(decl.name.span(), format!("network `{}` has no layers; add at least one, as in `Linear(10)`", decl.name));
    }
    if let Some(e) = errors.into_error() {
        return Err(e);
    }
    let loss = loss.map(|(_, kind)| {
        quote_spanned!(kind.span()=> ::staticnn::loss::#kind)
    });
    Ok(Plan {
        attrs: decl.attrs.clone(),
        vis: decl.vis.clone(),
        name: decl.name.clone(),
        input: input.expect("checked above").1,
        layers,
        loss,
        checks,
    })
}

fn list(items: &[&str]) -> String {
    items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
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

fn resolve(
    decl: &LayerDecl,
    field: &Ident,
    label: &str,
    produced: &W,
    producer: &str,
    checks: &mut Vec<Check>,
    errors: &mut Errors,
) -> Option<Layer> {
    let kind = &decl.kind;
    let kind_str = kind.to_string();
    if !LAYERS.contains(&kind_str.as_str()) {
        let hint = LAYERS
            .iter()
            .find(|l| l.eq_ignore_ascii_case(&kind_str))
            .map(|l| format!("; did you mean `{l}`?"))
            .unwrap_or_else(|| format!("; expected one of {}", list(LAYERS)));
        let hint = if matches!(kind_str.as_str(), "BatchNorm" | "Dropout") {
            format!("; `{kind_str}` is not available yet")
        } else {
            hint
        };
        errors.push(kind.span(), format!("unknown layer `{kind}`{hint}"));
        return None;
    }
    let allowed: &'static [&'static str] = match kind_str.as_str() {
        "Linear" => &["init", "bias"],
        "Maxout" => &["k", "init", "bias"],
        "LeakyReLU" => &["slope"],
        "ELU" => &["alpha"],
        "PReLU" => &["init"],
        _ => &[],
    };
    let mut opts = Options { kind, allowed, given: Vec::new() };
    let mut widths: Option<(Option<&Width>, &Width)> = None;
    let mut custom_ty = None;
    let no_args = Vec::new();
    let items = decl.args.as_ref().map(|a: &Args| &a.items).unwrap_or(&no_args);
    for item in items {
        match item {
            Arg::Option { key, value } => {
                if !opts.allowed.contains(&key.to_string().as_str()) {
                    let expected = if opts.allowed.is_empty() {
                        format!("`{}` takes no options", opts.kind)
                    } else {
                        format!("its options are {}", list(opts.allowed))
                    };
                    errors.push(key.span(), format!("`{}` has no option `{key}`; {expected}", opts.kind));
                } else if opts.given.iter().any(|(k, _)| *k == key) {
                    errors.push(key.span(), format!("option `{key}` is given twice"));
                } else {
                    opts.given.push((key, value));
                }
            }
            Arg::Widths { input, output } => {
                if widths.is_some() {
                    errors.push(output.span(), "widths are given twice; write them once, as `OUT` or `IN -> OUT`");
                } else {
                    widths = Some((input.as_ref(), output));
                }
            }
            Arg::Type(ty) => custom_ty = Some(ty),
        }
    }

    let (declared_in, declared_out) = match widths {
        Some((i, o)) => (i.map(|w| (w, W::of(w, errors))), Some((o, W::of(o, errors)))),
        None => (None, None),
    };
    let changes_width = matches!(kind_str.as_str(), "Linear" | "Maxout") || (kind_str == "Custom" && declared_in.is_some());
    // Check the declared input width against what the previous layer produces.
    let mut check_against = |w: &Width, declared: &W, errors: &mut Errors| match (produced, declared) {
        (W::Known(p), W::Known(d)) if p != d => errors.push(
            w.span(),
            format!("layer {label} takes {d} inputs, but {producer} produces {p}"),
        ),
        (W::Known(_), W::Known(_)) => {}
        _ => checks.push(Check {
            span: w.span(),
            marker: Ident::new(&field.to_string(), w.span()),
            produced: produced.clone(),
            declared: declared.clone(),
        }),
    };
    let output = if changes_width {
        if let Some((w, d)) = &declared_in {
            check_against(w, d, errors);
        }
        match declared_out {
            Some((_, o)) => o,
            None => {
                errors.push(
                    kind.span(),
                    format!("`{kind}` needs its output width, as in `{kind}(10)` or `{kind}(64 -> 10)`"),
                );
                return None;
            }
        }
    } else {
        if let Some((w, _)) = &declared_in {
            errors.push(w.span(), format!("`{kind}` keeps the width of its input; write one width, as in `{kind}(64)`"));
        }
        if let Some((w, d)) = &declared_out {
            check_against(w, d, errors);
        }
        produced.clone()
    };

    let number = |opts: &mut Options, key: &str, default: f64, errors: &mut Errors| -> TokenStream {
        match opts.take(key) {
            Some((_, e)) => float(e, errors),
            None => Literal::f64_suffixed(default).into_token_stream(),
        }
    };
    let (ty, value) = match kind_str.as_str() {
        "Linear" => {
            let weight = opts.take("init").map(|(_, e)| init(e, errors)).unwrap_or_else(|| quote!(::staticnn::Init::TorchDefault));
            let bias = opts.take("bias").map(|(_, e)| init(e, errors)).unwrap_or_else(|| quote!(::staticnn::Init::TorchDefault));
            (quote!(::staticnn::layers::Linear), quote!(::staticnn::layers::Linear { weight: #weight, bias: #bias }))
        }
        "Maxout" => {
            let k = match opts.take("k") {
                Some((_, Expr::Lit(syn::ExprLit { lit: Lit::Int(l), .. }))) => match l.base10_parse::<usize>() {
                    Ok(k) if (1..=255).contains(&k) => Literal::usize_unsuffixed(k),
                    _ => {
                        errors.push(l.span(), "`k`, the number of maxout pieces, must be an integer from 1 to 255");
                        Literal::usize_unsuffixed(2)
                    }
                },
                Some((_, e)) => {
                    errors.push(e.span(), "`k`, the number of maxout pieces, must be an integer literal");
                    Literal::usize_unsuffixed(2)
                }
                None => {
                    errors.push(kind.span(), "`Maxout` needs its number of pieces, as in `Maxout(64, k = 2)`");
                    Literal::usize_unsuffixed(2)
                }
            };
            let weight = opts.take("init").map(|(_, e)| init(e, errors)).unwrap_or_else(|| quote!(::staticnn::Init::TorchDefault));
            let bias = opts.take("bias").map(|(_, e)| init(e, errors)).unwrap_or_else(|| quote!(::staticnn::Init::TorchDefault));
            (
                quote!(::staticnn::layers::Maxout<#k>),
                quote!(::staticnn::layers::Maxout::<#k> { weight: #weight, bias: #bias }),
            )
        }
        "LeakyReLU" => {
            let slope = number(&mut opts, "slope", 0.01, errors);
            (quote!(::staticnn::layers::LeakyReLU), quote!(::staticnn::layers::LeakyReLU { slope: #slope }))
        }
        "ELU" => {
            let alpha = number(&mut opts, "alpha", 1.0, errors);
            (quote!(::staticnn::layers::ELU), quote!(::staticnn::layers::ELU { alpha: #alpha }))
        }
        "PReLU" => {
            let init = number(&mut opts, "init", 0.25, errors);
            (quote!(::staticnn::layers::PReLU), quote!(::staticnn::layers::PReLU { init: #init }))
        }
        "Custom" => match custom_ty {
            Some(ty) => (quote!(#ty), quote!(<#ty as ::core::default::Default>::default())),
            None => {
                errors.push(kind.span(), "`Custom` needs the layer's type, as in `Custom(MyLayer)` or `Custom(MyLayer, 8 -> 4)`");
                return None;
            }
        },
        other => {
            let ident = Ident::new(other, kind.span());
            (quote!(::staticnn::layers::#ident), quote!(::staticnn::layers::#ident))
        }
    };
    let docs = decl.attrs.iter().filter(|a| a.path().is_ident("doc")).cloned().collect();
    for a in decl.attrs.iter().filter(|a| !a.path().is_ident("doc")) {
        errors.push(a.span(), "only doc comments may be attached to a layer");
    }
    Some(Layer { field: field.clone(), label: label.to_string(), docs, ty, value, input: produced.clone(), output })
}

/// A floating-point option: a number literal (optionally negated) or a `const` item of
/// type `f64`.
fn float(e: &Expr, errors: &mut Errors) -> TokenStream {
    match literal_f64(e) {
        Some(Ok(v)) => Literal::f64_suffixed(v).into_token_stream(),
        Some(Err(())) => {
            errors.push(e.span(), "expected a number");
            quote!(0.0f64)
        }
        None => match e {
            Expr::Path(p) => quote_spanned!(p.span()=> (#p as f64)),
            _ => {
                errors.push(e.span(), "expected a number, such as `0.1`, or the name of a `const` item");
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
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => literal_f64(&u.expr).map(|r| r.map(|v| -v)),
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

/// An initialisation scheme: `he_normal`, `he_normal(slope = 0.1)`, `normal(0.0, 0.01)`, …
fn init(e: &Expr, errors: &mut Errors) -> TokenStream {
    let (name, args): (&Ident, Vec<&Expr>) = match e {
        Expr::Path(p) if p.path.get_ident().is_some() => (p.path.get_ident().unwrap(), Vec::new()),
        Expr::Call(c) => match &*c.func {
            Expr::Path(p) if p.path.get_ident().is_some() => (p.path.get_ident().unwrap(), c.args.iter().collect()),
            _ => {
                errors.push(e.span(), format!("expected an initialisation scheme: one of {}", list(INITS)));
                return quote!(::staticnn::Init::Zeros);
            }
        },
        _ => {
            errors.push(e.span(), format!("expected an initialisation scheme: one of {}", list(INITS)));
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
                    errors.push(e.span(), format!("`{name}` needs `{key}`"));
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
            (quote!(::staticnn::Init::Normal { mean: #mean, std: #std }), 2)
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
            errors.push(name.span(), format!("unknown initialisation `{name}`; expected one of {}", list(INITS)));
            return quote!(::staticnn::Init::Zeros);
        }
    };
    if args.len() > max_args {
        errors.push(args[max_args].span(), format!("`{name}` takes at most {max_args} argument(s)"));
    }
    ts
}
