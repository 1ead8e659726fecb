//! The layer kinds `network!` knows, one [`Kind`] entry each: its name, the options it
//! takes, and how it maps the shape flowing into it to the shape flowing out and to the
//! type and value the expansion writes. Adding a layer kind means adding one entry and its
//! `build` function.
//!
//! [`resolve`] does what every kind shares (splitting the arguments into options, widths and
//! a type, with the messages for misplaced ones) and hands a [`Cx`] to the kind's `build`.

// A failed `build` hands back the flow that goes on (a shape, no larger than a success):
// boxing it would only add noise to a function that runs once per layer at compile time.
#![allow(clippy::result_large_err)]

use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit, Type};

use crate::ast::{Arg, Args, LayerDecl, Width};
use crate::options::{Options, float, init, list, literal_f64, positive, sizes, suggest};
use crate::shape::{Shape, W};
use crate::validate::{Check, Errors, Flow, Layer};

/// One layer kind.
pub struct Kind {
    /// The name written in `network!`.
    pub name: &'static str,
    /// The options (`key = value`) it takes.
    pub options: &'static [&'static str],
    /// Whether its output has the width of its input (so that a single width written in
    /// its arguments is the width it expects, which also serves to guess a missing `input`).
    pub preserves_width: bool,
    /// Resolves the layer: its type and value, and the shape flowing out.
    pub build: fn(&mut Cx) -> Result<Built, Flow>,
}

/// What a kind's `build` gives back.
pub struct Built {
    pub ty: TokenStream,
    pub value: TokenStream,
    pub after: Flow,
    /// For a convolution without bias: its type and value with one, which the inference
    /// form uses when it folds a batch norm into it.
    pub biased: Option<(TokenStream, TokenStream)>,
}

/// Everything a kind's `build` may read, and where it reports.
pub struct Cx<'a, 'e> {
    pub kind: &'a Ident,
    /// The layer as messages name it: `` `hidden` `` or ``2 (`Linear`)``.
    pub label: &'a str,
    /// What flows in.
    pub flow: &'a Flow,
    pub opts: Options<'a>,
    /// Widths written as arguments: `OUT` or `IN -> OUT`.
    pub widths: Option<(Option<&'a Width>, &'a Width)>,
    /// `Custom`'s type.
    pub custom_ty: Option<&'a Type>,
    pub errors: &'e mut Errors,
    pub checks: &'e mut Vec<Check>,
    /// Compile-time assertions on values given by `const` items.
    pub asserts: Vec<TokenStream>,
}

pub const KINDS: &[Kind] = &[
    Kind {
        name: "Linear",
        options: &["init", "bias"],
        preserves_width: false,
        build: linear,
    },
    Kind {
        name: "Maxout",
        options: &["k", "init", "bias"],
        preserves_width: false,
        build: maxout,
    },
    Kind {
        name: "Sigmoid",
        options: &[],
        preserves_width: true,
        build: plain,
    },
    Kind {
        name: "Tanh",
        options: &[],
        preserves_width: true,
        build: plain,
    },
    Kind {
        name: "ReLU",
        options: &[],
        preserves_width: true,
        build: plain,
    },
    Kind {
        name: "LeakyReLU",
        options: &["slope"],
        preserves_width: true,
        build: leaky_relu,
    },
    Kind {
        name: "PReLU",
        options: &["init"],
        preserves_width: true,
        build: prelu,
    },
    Kind {
        name: "ELU",
        options: &["alpha"],
        preserves_width: true,
        build: elu,
    },
    Kind {
        name: "Softmax",
        options: &[],
        preserves_width: true,
        build: plain,
    },
    Kind {
        name: "BatchNorm",
        options: &["eps", "momentum"],
        preserves_width: true,
        build: batch_norm,
    },
    Kind {
        name: "Normalize",
        options: &[],
        preserves_width: true,
        build: normalize,
    },
    Kind {
        name: "Dropout",
        options: &["p"],
        preserves_width: true,
        build: dropout,
    },
    Kind {
        name: "Conv1d",
        options: &[
            "kernel", "stride", "padding", "dilation", "groups", "init", "bias",
        ],
        preserves_width: false,
        build: conv1d,
    },
    Kind {
        name: "Conv2d",
        options: &[
            "kernel", "stride", "padding", "dilation", "groups", "init", "bias",
        ],
        preserves_width: false,
        build: conv2d,
    },
    Kind {
        name: "MaxPool1d",
        options: &["kernel", "stride", "padding"],
        preserves_width: false,
        build: max_pool1d,
    },
    Kind {
        name: "MaxPool2d",
        options: &["kernel", "stride", "padding"],
        preserves_width: false,
        build: max_pool2d,
    },
    Kind {
        name: "AvgPool1d",
        options: &["kernel", "stride", "padding"],
        preserves_width: false,
        build: avg_pool1d,
    },
    Kind {
        name: "AvgPool2d",
        options: &["kernel", "stride", "padding"],
        preserves_width: false,
        build: avg_pool2d,
    },
    Kind {
        name: "GlobalAvgPool",
        options: &[],
        preserves_width: false,
        build: global_avg_pool,
    },
    Kind {
        name: "Flatten",
        options: &[],
        preserves_width: false,
        build: flatten,
    },
    Kind {
        name: "Residual",
        options: &[],
        preserves_width: true,
        build: residual,
    },
    Kind {
        name: "Custom",
        options: &[],
        preserves_width: false,
        build: custom,
    },
];

/// The entry of a kind, by name.
pub fn find(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

/// Resolves one layer fed by `flow`; returns it (`None` when it cannot be resolved) and the
/// shape flowing out of it.
pub fn resolve(
    decl: &LayerDecl,
    field: &Ident,
    label: &str,
    flow: &Flow,
    checks: &mut Vec<Check>,
    errors: &mut Errors,
) -> (Option<Layer>, Flow) {
    let kind = &decl.kind;
    let kind_str = kind.to_string();
    let Some(entry) = find(&kind_str) else {
        let names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        let hint = suggest(kind, &names);
        errors.push(kind.span(), format!("unknown layer `{kind}`{hint}"));
        return (None, Flow::guess(flow.shape.clone()));
    };
    let mut opts = Options {
        kind,
        allowed: entry.options,
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
    let mut cx = Cx {
        kind,
        label,
        flow,
        opts,
        widths,
        custom_ty,
        errors,
        checks,
        asserts: Vec::new(),
    };
    let built = (entry.build)(&mut cx);
    let Cx {
        errors, asserts, ..
    } = cx;
    let built = match built {
        Ok(b) => b,
        Err(after) => return (None, after),
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
        kind: kind_str,
        span: kind.span(),
        field: field.clone(),
        label: label.to_string(),
        docs,
        ty: built.ty,
        value: built.value,
        input: flow.width(),
        output: built.after.width(),
        in_shape: flow.shape.clone(),
        out_shape: built.after.shape.clone(),
        biased: built.biased,
        custom: kind == "Custom",
        asserts,
        nest: Default::default(),
    };
    (Some(layer), built.after)
}

impl<'a> Cx<'a, '_> {
    /// What flows on when this layer cannot be resolved: the input's shape, as a guess.
    fn unknown(&self) -> Flow {
        Flow::guess(self.flow.shape.clone())
    }

    /// "layer `x` produces", for the flow out of this layer.
    fn produces(&self) -> String {
        format!("layer {} produces", self.label)
    }

    /// The flow out of this layer with `shape`, known when what flowed in was.
    fn out(&self, shape: Shape) -> Flow {
        Flow {
            shape,
            from: self.flow.from.as_ref().map(|_| self.produces()),
            detail: None,
        }
    }

    /// Checks a declared input width against the width flowing in; `false` on a mismatch.
    fn check_against(&mut self, w: &Width, declared: &W) -> bool {
        let Some(from) = &self.flow.from else {
            return true;
        };
        let label = self.label;
        match (self.flow.width(), declared) {
            (W::Known(p), W::Known(d)) if p != *d => {
                let produced = self.flow.detail.clone().unwrap_or_else(|| p.to_string());
                self.errors.push(
                    w.span(),
                    format!("layer {label} takes {d} inputs, but {from} {produced}"),
                );
                false
            }
            (W::Known(_), W::Known(_)) => true,
            (produced, _) => {
                self.checks.push(Check {
                    span: w.span(),
                    label: label.to_string(),
                    from: from.clone(),
                    produced,
                    declared: declared.clone(),
                });
                true
            }
        }
    }

    /// The widths written as arguments, resolved.
    #[allow(clippy::type_complexity)]
    fn declared(
        &mut self,
    ) -> (
        Option<(&'a Width, Option<W>)>,
        Option<(&'a Width, Option<W>)>,
    ) {
        match self.widths {
            Some((i, o)) => (
                i.map(|w| (w, W::of(w, self.errors))),
                Some((o, W::of(o, self.errors))),
            ),
            None => (None, None),
        }
    }

    /// A layer that takes a flat input and sets its output width (`Linear(10)`,
    /// `Linear(64 -> 10)`): the flow out (a guess when the width written is not valid), or
    /// the flow on when the layer cannot be resolved.
    fn flat_to_width(&mut self) -> Result<Flow, Flow> {
        let (declared_in, declared_out) = self.declared();
        let kind = self.kind;
        if let (Some(from), Shape::Seq(_) | Shape::Image(_)) = (&self.flow.from, &self.flow.shape) {
            let span = self.widths.map_or(kind.span(), |(_, o)| o.span());
            self.errors.push(
                span,
                format!(
                    "layer {} takes flat features, but {from} {}; add `Flatten` before it (it will see {})",
                    self.label,
                    self.flow.shape.describe(),
                    self.flow.shape.describe_width(),
                ),
            );
        } else if let Some((w, Some(d))) = &declared_in {
            let (w, d) = (*w, d.clone());
            self.check_against(w, &d);
        }
        match declared_out {
            Some((_, Some(o))) => Ok(Flow::known(Shape::Flat(o), self.produces())),
            Some((_, None)) => Ok(self.unknown()),
            None => {
                self.errors.push(
                    kind.span(),
                    format!(
                        "`{kind}` needs its output width, as in `{kind}(10)` or `{kind}(64 -> 10)`"
                    ),
                );
                Err(self.unknown())
            }
        }
    }

    /// A layer whose output has its input's shape; a width written in its arguments is the
    /// width it expects (for `BatchNorm` on a sequence or image, the channels). Returns the
    /// flow out.
    fn same_shape(&mut self) -> Flow {
        let (declared_in, declared_out) = self.declared();
        let kind = self.kind;
        if let Some((w, _)) = &declared_in {
            self.errors.push(
                w.span(),
                format!(
                    "`{kind}` keeps the width of its input; write one width, as in `{kind}(64)`"
                ),
            );
        }
        let per_channel = (kind == "BatchNorm" || kind == "Normalize")
            && !matches!(self.flow.shape, Shape::Flat(_));
        match &declared_out {
            Some((w, Some(d))) if per_channel => {
                let c = self
                    .flow
                    .shape
                    .channels()
                    .expect("a shape with channels")
                    .clone();
                if let (Some(from), W::Known(p), W::Known(n)) = (&self.flow.from, &c, d)
                    && p != n
                {
                    self.errors.push(
                        w.span(),
                        format!(
                            "layer {} normalises {}, but {from} {} ({})",
                            self.label,
                            channels(*n),
                            channels(*p),
                            self.flow.shape.describe()
                        ),
                    );
                }
                self.out(self.flow.shape.clone())
            }
            // A declared width both checks the width flowing in and, after a mistake, is
            // the best guess of it.
            Some((w, Some(d))) if self.flow.from.is_none() || !self.check_against(w, d) => {
                Flow::guess(Shape::Flat(d.clone()))
            }
            Some((_, None)) => self.unknown(),
            _ => {
                let mut out = self.out(self.flow.shape.clone());
                out.detail = self.flow.detail.clone();
                out
            }
        }
    }

    /// A floating-point option, or its default.
    fn number(&mut self, key: &str, default: f64) -> TokenStream {
        match self.opts.take(key) {
            Some((_, e)) => float(e, self.errors),
            None => Literal::f64_suffixed(default).into_token_stream(),
        }
    }

    /// An initialisation option, or PyTorch's default.
    fn init(&mut self, key: &str) -> TokenStream {
        self.opts
            .take(key)
            .map(|(_, e)| init(e, self.errors))
            .unwrap_or_else(|| quote!(::staticnn::Init::TorchDefault))
    }
}

fn linear(cx: &mut Cx) -> Result<Built, Flow> {
    let after = cx.flat_to_width()?;
    let (weight, bias) = (cx.init("init"), cx.init("bias"));
    Ok(Built {
        ty: quote!(::staticnn::layers::Linear),
        value: quote!(::staticnn::layers::Linear { weight: #weight, bias: #bias }),
        after,
        biased: None,
    })
}

fn maxout(cx: &mut Cx) -> Result<Built, Flow> {
    let after = cx.flat_to_width()?;
    let k = match cx.opts.take("k") {
        Some((
            _,
            Expr::Lit(syn::ExprLit {
                lit: Lit::Int(l), ..
            }),
        )) => match l.base10_parse::<usize>() {
            Ok(k) if (1..=255).contains(&k) => Literal::usize_unsuffixed(k),
            _ => {
                cx.errors.push(
                    l.span(),
                    "`k`, the number of maxout pieces, must be an integer from 1 to 255",
                );
                Literal::usize_unsuffixed(2)
            }
        },
        Some((_, e)) => {
            cx.errors.push(
                e.span(),
                "`k`, the number of maxout pieces, must be an integer literal",
            );
            Literal::usize_unsuffixed(2)
        }
        None => {
            cx.errors.push(
                cx.kind.span(),
                "`Maxout` needs its number of pieces, as in `Maxout(64, k = 2)`",
            );
            Literal::usize_unsuffixed(2)
        }
    };
    let (weight, bias) = (cx.init("init"), cx.init("bias"));
    Ok(Built {
        ty: quote!(::staticnn::layers::Maxout<#k>),
        value: quote!(::staticnn::layers::Maxout::<#k> { weight: #weight, bias: #bias }),
        after,
        biased: None,
    })
}

/// A layer without options that keeps its input's shape: the type is its name.
fn plain(cx: &mut Cx) -> Result<Built, Flow> {
    let after = cx.same_shape();
    let ident = Ident::new(&cx.kind.to_string(), cx.kind.span());
    Ok(Built {
        ty: quote!(::staticnn::layers::#ident),
        value: quote!(::staticnn::layers::#ident),
        after,
        biased: None,
    })
}

fn leaky_relu(cx: &mut Cx) -> Result<Built, Flow> {
    let after = cx.same_shape();
    let slope = cx.number("slope", 0.01);
    Ok(Built {
        ty: quote!(::staticnn::layers::LeakyReLU),
        value: quote!(::staticnn::layers::LeakyReLU { slope: #slope }),
        after,
        biased: None,
    })
}

fn elu(cx: &mut Cx) -> Result<Built, Flow> {
    let after = cx.same_shape();
    let alpha = cx.number("alpha", 1.0);
    Ok(Built {
        ty: quote!(::staticnn::layers::ELU),
        value: quote!(::staticnn::layers::ELU { alpha: #alpha }),
        after,
        biased: None,
    })
}

fn prelu(cx: &mut Cx) -> Result<Built, Flow> {
    let after = cx.same_shape();
    let init = cx.number("init", 0.25);
    Ok(Built {
        ty: quote!(::staticnn::layers::PReLU),
        value: quote!(::staticnn::layers::PReLU { init: #init }),
        after,
        biased: None,
    })
}

/// `BatchNorm`: per feature on a flat input (`nn.BatchNorm1d(N)`), per channel on a
/// sequence or an image (`nn.BatchNorm1d(C)` on `[C, L]`, `nn.BatchNorm2d(C)`).
fn batch_norm(cx: &mut Cx) -> Result<Built, Flow> {
    let after = cx.same_shape();
    let eps = positive(&mut cx.opts, "eps", 1e-5, false, cx.errors);
    let momentum = positive(&mut cx.opts, "momentum", 0.1, true, cx.errors);
    let ty = match &cx.flow.shape {
        Shape::Flat(_) => quote!(::staticnn::layers::BatchNorm),
        shape => {
            let c = shape.channels().expect("a shape with channels");
            let spatial: Vec<&W> = shape.spatial().iter().collect();
            let s = W::product(&spatial);
            quote!(::staticnn::layers::SpatialBatchNorm::<#c, #s>)
        }
    };
    Ok(Built {
        value: quote!(#ty { eps: #eps, momentum: #momentum }),
        ty,
        after,
        biased: None,
    })
}

/// `Normalize`: the network's input standardised with fitted statistics, per feature on a
/// flat input, per channel on a sequence or an image. It must be the first layer (its
/// statistics are fitted on the data the network is given).
fn normalize(cx: &mut Cx) -> Result<Built, Flow> {
    let after = cx.same_shape();
    if let Some(from) = &cx.flow.from
        && !from.starts_with("the network's `input`")
    {
        cx.errors.push(
            cx.kind.span(),
            format!(
                "layer {} standardises the network's input, so it must be the first layer",
                cx.label
            ),
        );
    }
    let (c, s) = match &cx.flow.shape {
        Shape::Flat(w) => (w.clone(), W::Known(1)),
        shape => {
            let c = shape.channels().expect("a shape with channels").clone();
            let spatial: Vec<&W> = shape.spatial().iter().collect();
            (c, W::product(&spatial))
        }
    };
    let ty = quote!(::staticnn::layers::Normalize::<#c, #s>);
    Ok(Built {
        value: ty.clone(),
        ty,
        after,
        biased: None,
    })
}

fn dropout(cx: &mut Cx) -> Result<Built, Flow> {
    let after = cx.same_shape();
    let p = match cx.opts.take("p") {
        Some((_, e)) => match literal_f64(e) {
            Some(Ok(v)) if (0.0..1.0).contains(&v) => Literal::f64_suffixed(v).into_token_stream(),
            Some(Ok(v)) => {
                cx.errors.push(
                    e.span(),
                    format!("a dropout probability must be in [0, 1), not {v}"),
                );
                quote!(0.0f64)
            }
            _ => {
                let p = float(e, cx.errors);
                cx.asserts.push(quote_spanned! {e.span()=>
                    const _: () = ::core::assert!(
                        #p >= 0.0 && #p < 1.0,
                        "a dropout probability must be in [0, 1)"
                    );
                });
                p
            }
        },
        None => {
            cx.errors.push(
                cx.kind.span(),
                "`Dropout` needs its probability, as in `Dropout(0.5)`",
            );
            quote!(0.0f64)
        }
    };
    Ok(Built {
        ty: quote!(::staticnn::layers::Dropout),
        value: quote!(::staticnn::layers::Dropout { p: #p }),
        after,
        biased: None,
    })
}

/// `Residual` written without its layers (the walk in `validate` resolves a block that has
/// them).
fn residual(cx: &mut Cx) -> Result<Built, Flow> {
    cx.errors.push(
        cx.kind.span(),
        "`Residual` needs its layers, as in `Residual(Conv2d(16, kernel = 3, padding = 1), BatchNorm, ReLU)`, optionally followed by `; projection = …`",
    );
    Err(cx.unknown())
}

fn custom(cx: &mut Cx) -> Result<Built, Flow> {
    let changes_width = cx.widths.is_some_and(|(i, _)| i.is_some());
    let after = if changes_width {
        cx.flat_to_width()?
    } else {
        cx.same_shape()
    };
    match cx.custom_ty {
        Some(ty) => Ok(Built {
            ty: quote!(#ty),
            value: quote!(<#ty as ::core::default::Default>::default()),
            after,
            biased: None,
        }),
        None => {
            cx.errors.push(
                cx.kind.span(),
                "`Custom` needs the layer's type, as in `Custom(MyLayer)` or `Custom(MyLayer, 8 -> 4)`",
            );
            Err(after)
        }
    }
}

/// Spatial axes of the shape flowing into a layer for 1-D (`dims = 1`) or 2-D (`dims = 2`)
/// kinds, or an error that says what the layer takes.
fn spatial_input(cx: &mut Cx, dims: usize) -> Result<(W, Vec<W>), Flow> {
    let kind = cx.kind;
    let wanted = if dims == 1 {
        "a sequence `[C, L]`"
    } else {
        "an image `[C, H, W]`"
    };
    let other = if dims == 1 {
        kind.to_string().replace("1d", "2d")
    } else {
        kind.to_string().replace("2d", "1d")
    };
    match (&cx.flow.shape, dims) {
        (Shape::Seq([c, l]), 1) => Ok((c.clone(), vec![l.clone()])),
        (Shape::Image([c, h, w]), 2) => Ok((c.clone(), vec![h.clone(), w.clone()])),
        (shape, _) => {
            if let Some(from) = &cx.flow.from {
                let hint = match shape {
                    Shape::Flat(_) => format!(
                        "; declare the network's input as {}",
                        if dims == 1 {
                            "`input: [C, L]`"
                        } else {
                            "`input: [C, H, W]`"
                        }
                    ),
                    _ => format!("; did you mean `{other}`?"),
                };
                cx.errors.push(
                    kind.span(),
                    format!(
                        "layer {} takes {wanted}, but {from} {}{hint}",
                        cx.label,
                        shape.describe()
                    ),
                );
            }
            Err(cx.unknown())
        }
    }
}

/// Where an option's value is written, when it is given.
fn option_span(cx: &Cx, key: &str) -> Option<proc_macro2::Span> {
    cx.opts
        .given
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, e)| e.span())
}

/// "1 channel", "3 channels".
fn channels(n: usize) -> String {
    if n == 1 {
        "1 channel".to_string()
    } else {
        format!("{n} channels")
    }
}

/// A size option (`stride = 2`, `kernel = (3, 5)`) for `n` axes, or its default.
fn size_option(
    cx: &mut Cx,
    key: &str,
    n: usize,
    min: usize,
    default: Option<&[W]>,
) -> Option<Vec<W>> {
    match cx.opts.take(key) {
        Some((_, e)) => sizes(e, key, n, min, cx.errors),
        None => default.map(<[W]>::to_vec),
    }
}

/// PyTorch's output sizes, `(in + 2p − d(k − 1) − 1) / s + 1` along each axis, or `None`
/// (with one error for the layer) when the dilated kernel is larger than the padded input
/// along some axis, so that the output would be empty. Sizes given by `const` items become a
/// `const` expression and an assertion.
fn out_sizes(cx: &mut Cx, input: &[W], k: &[W], s: &[W], p: &[W], d: &[W]) -> Option<Vec<W>> {
    let mut outs = Vec::with_capacity(input.len());
    let mut empty = false;
    for a in 0..input.len() {
        let (i, k, s, p, d) = (&input[a], &k[a], &s[a], &p[a], &d[a]);
        match (i.known(), k.known(), s.known(), p.known(), d.known()) {
            (Some(i), Some(k), Some(s), Some(p), Some(d)) => {
                let reach = d * (k - 1) + 1;
                if i + 2 * p < reach {
                    empty = true;
                } else {
                    outs.push(W::Known((i + 2 * p - reach) / s + 1));
                }
            }
            _ => {
                let msg = format!(
                    "layer {}: the kernel is larger than the padded input, so the output would be empty",
                    cx.label
                );
                cx.asserts.push(quote_spanned! {cx.kind.span()=>
                    #[allow(clippy::all)]
                    const _: () = ::core::assert!(#i + 2 * #p > #d * (#k - 1), #msg);
                });
                outs.push(W::Expr(quote!((#i + 2 * #p - #d * (#k - 1) - 1) / #s + 1)));
            }
        }
    }
    if !empty {
        return Some(outs);
    }
    // On a guessed shape, say nothing: the mistake that hid it is reported.
    if cx.flow.from.is_some() {
        let sizes = |f: &dyn Fn(usize) -> String| -> String {
            (0..input.len()).map(f).collect::<Vec<_>>().join(" × ")
        };
        let known = |w: &W| w.known().unwrap_or(0);
        let kernel = sizes(&|a| known(&k[a]).to_string());
        let reach = sizes(&|a| (known(&d[a]) * (known(&k[a]).max(1) - 1) + 1).to_string());
        let padded = sizes(&|a| (known(&input[a]) + 2 * known(&p[a])).to_string());
        let dilated = if reach != kernel {
            format!(", dilated to {reach}")
        } else {
            String::new()
        };
        let padding = if p.iter().any(|p| known(p) > 0) {
            " with its padding"
        } else {
            ""
        };
        cx.errors.push(
            cx.kind.span(),
            format!(
                "layer {}: the kernel ({kernel}{dilated}) is larger than the input{padding} ({padded}), so the output would be empty",
                cx.label
            ),
        );
    }
    None
}

fn conv1d(cx: &mut Cx) -> Result<Built, Flow> {
    conv(cx, 1)
}

fn conv2d(cx: &mut Cx) -> Result<Built, Flow> {
    conv(cx, 2)
}

/// `Conv1d(OUT, kernel = …)` / `Conv2d(OUT, kernel = …)`, optionally `IN -> OUT`.
fn conv(cx: &mut Cx, n: usize) -> Result<Built, Flow> {
    let kind = cx.kind;
    let (declared_in, declared_out) = cx.declared();
    let input = spatial_input(cx, n);
    let one = vec![W::Known(1); n];
    let zero = vec![W::Known(0); n];
    let has_kernel = cx.opts.given.iter().any(|(k, _)| *k == "kernel");
    let kernel = size_option(cx, "kernel", n, 1, None);
    let stride = size_option(cx, "stride", n, 1, Some(&one));
    let padding = size_option(cx, "padding", n, 0, Some(&zero));
    let dilation = size_option(cx, "dilation", n, 1, Some(&one));
    let groups_span = option_span(cx, "groups");
    let groups = size_option(cx, "groups", 1, 1, Some(&one[..1]));
    let weight = cx.init("init");
    let bias = match cx.opts.take("bias") {
        Some((
            _,
            Expr::Lit(syn::ExprLit {
                lit: Lit::Bool(b), ..
            }),
        )) => b.value.then(|| quote!(::staticnn::Init::TorchDefault)),
        Some((_, e)) => Some(init(e, cx.errors)),
        None => Some(quote!(::staticnn::Init::TorchDefault)),
    };
    let example = if n == 1 {
        format!("`{kind}(16, kernel = 3)`")
    } else {
        format!("`{kind}(16, kernel = 3)` or `{kind}(16, kernel = (3, 5))`")
    };
    if !has_kernel {
        cx.errors.push(
            kind.span(),
            format!("`{kind}` needs its kernel size, as in {example}"),
        );
    }
    let out_channels = match declared_out {
        Some((_, o)) => o,
        None => {
            cx.errors.push(
                kind.span(),
                format!("`{kind}` needs its number of output channels, as in {example}"),
            );
            None
        }
    };
    let (c_in, spatial) = input?;
    let (Some(co), Some(k), Some(s), Some(p), Some(d), Some(g)) =
        (out_channels, kernel, stride, padding, dilation, groups)
    else {
        return Err(cx.unknown());
    };
    let g = &g[0];
    if let Some((w, Some(declared))) = declared_in
        && let Some(from) = &cx.flow.from
    {
        match (c_in.known(), declared.known()) {
            (Some(a), Some(b)) if a != b => cx.errors.push(
                w.span(),
                format!(
                    "layer {} takes {}, but {from} {} ({})",
                    cx.label,
                    channels(b),
                    channels(a),
                    cx.flow.shape.describe()
                ),
            ),
            (Some(_), Some(_)) => {}
            _ => {
                let msg = format!(
                    "layer {}: the input channels written do not match the channels flowing in",
                    cx.label
                );
                cx.asserts.push(quote_spanned! {w.span()=>
                    #[allow(clippy::all)]
                    const _: () = ::core::assert!(#c_in == #declared, #msg);
                });
            }
        }
    }
    match (c_in.known(), co.known(), g.known()) {
        (Some(ci), Some(o), Some(gv)) if ci % gv != 0 || o % gv != 0 => {
            cx.errors.push(
                groups_span.unwrap_or(kind.span()),
                format!(
                    "layer {}: `groups = {gv}` must divide the input channels ({ci}) and the output channels ({o})",
                    cx.label
                ),
            );
        }
        (Some(_), Some(_), Some(_)) => {}
        _ => {
            let msg = format!(
                "layer {}: `groups` must divide the input and the output channels",
                cx.label
            );
            cx.asserts.push(quote_spanned! {kind.span()=>
                #[allow(clippy::all)]
                const _: () = ::core::assert!(#c_in % #g == 0 && #co % #g == 0, #msg);
            });
        }
    }
    let outs = out_sizes(cx, &spatial, &k, &s, &p, &d).ok_or_else(|| cx.unknown())?;
    // Weights per output channel: in/groups · kernel.
    let per_group = match (c_in.known(), g.known()) {
        (Some(c), Some(gv)) => W::Known(c / gv),
        _ => W::Expr(quote!(#c_in / #g)),
    };
    let mut factors = vec![&per_group];
    factors.extend(k.iter());
    let kk = W::product(&factors);
    let generics = |nb: &W| {
        if n == 1 {
            let (li, lo) = (&spatial[0], &outs[0]);
            let (k, s, p, d) = (&k[0], &s[0], &p[0], &d[0]);
            quote!(<#c_in, #li, #co, #lo, #k, #s, #p, #d, #g, #kk, #nb>)
        } else {
            let (hi, wi, ho, wo) = (&spatial[0], &spatial[1], &outs[0], &outs[1]);
            let (kh, kw, sh, sw) = (&k[0], &k[1], &s[0], &s[1]);
            let (ph, pw, dh, dw) = (&p[0], &p[1], &d[0], &d[1]);
            quote!(<#c_in, #hi, #wi, #co, #ho, #wo, #kh, #kw, #sh, #sw, #ph, #pw, #dh, #dw, #g, #kk, #nb>)
        }
    };
    let ident = Ident::new(&kind.to_string(), kind.span());
    let layer = |nb: &W, bias: &TokenStream| {
        let g = generics(nb);
        (
            quote!(::staticnn::layers::#ident #g),
            quote!(::staticnn::layers::#ident::#g { weight: #weight, bias: #bias }),
        )
    };
    let torch_bias = quote!(::staticnn::Init::TorchDefault);
    let ((ty, value), biased) = match &bias {
        Some(b) => (layer(&co, b), None),
        None => (
            layer(&W::Known(0), &quote!(::staticnn::Init::Zeros)),
            Some(layer(&co, &torch_bias)),
        ),
    };
    Ok(Built {
        ty,
        value,
        after: cx.out(cx.flow.shape.with(co.clone(), &outs)),
        biased,
    })
}

fn max_pool1d(cx: &mut Cx) -> Result<Built, Flow> {
    pool(cx, 1, "MaxPool1d")
}

fn max_pool2d(cx: &mut Cx) -> Result<Built, Flow> {
    pool(cx, 2, "MaxPool2d")
}

fn avg_pool1d(cx: &mut Cx) -> Result<Built, Flow> {
    pool(cx, 1, "AvgPool1d")
}

fn avg_pool2d(cx: &mut Cx) -> Result<Built, Flow> {
    pool(cx, 2, "AvgPool2d")
}

/// `MaxPool2d(2)`, `AvgPool2d(kernel = 3, stride = 2, padding = 1)`: the stride defaults
/// to the kernel, the padding to 0 and may be at most half the kernel (as in PyTorch).
fn pool(cx: &mut Cx, n: usize, name: &str) -> Result<Built, Flow> {
    let kind = cx.kind;
    let (declared_in, declared_out) = cx.declared();
    if let Some((w, _)) = declared_in {
        cx.errors.push(
            w.span(),
            format!("`{kind}` takes its kernel size, not widths; write `{kind}(2)` or `{kind}(kernel = 2)`"),
        );
    }
    let input = spatial_input(cx, n);
    let positional = declared_out.map(|(_, k)| k.map(|k| vec![k; n]));
    let has_kernel = cx.opts.given.iter().any(|(k, _)| *k == "kernel");
    let option = size_option(cx, "kernel", n, 1, None);
    let kernel = match (positional, option) {
        (Some(_), Some(_)) => {
            cx.errors.push(
                kind.span(),
                format!(
                    "the kernel size of `{kind}` is given twice; write it once, as in `{kind}(2)`"
                ),
            );
            None
        }
        (Some(k), None) => k,
        (None, Some(k)) => Some(k),
        (None, None) => {
            if !has_kernel {
                cx.errors.push(
                    kind.span(),
                    format!("`{kind}` needs its kernel size, as in `{kind}(2)`"),
                );
            }
            None
        }
    };
    let stride = size_option(cx, "stride", n, 1, kernel.as_deref());
    let zero = vec![W::Known(0); n];
    let padding_span = option_span(cx, "padding");
    let padding = size_option(cx, "padding", n, 0, Some(&zero));
    let (c, spatial) = input?;
    let (Some(k), Some(s), Some(p)) = (kernel, stride, padding) else {
        return Err(cx.unknown());
    };
    for a in 0..n {
        if let (Some(kv), Some(pv)) = (k[a].known(), p[a].known())
            && 2 * pv > kv
        {
            cx.errors.push(
                padding_span.unwrap_or(kind.span()),
                format!(
                    "layer {}: the padding ({pv}) may be at most half the kernel size ({kv}), as in PyTorch",
                    cx.label
                ),
            );
        }
    }
    let ones = vec![W::Known(1); n];
    let outs = out_sizes(cx, &spatial, &k, &s, &p, &ones).ok_or_else(|| cx.unknown())?;
    let generics = if n == 1 {
        let (li, lo) = (&spatial[0], &outs[0]);
        let (k, s, p) = (&k[0], &s[0], &p[0]);
        quote!(<#c, #li, #lo, #k, #s, #p>)
    } else {
        let (hi, wi, ho, wo) = (&spatial[0], &spatial[1], &outs[0], &outs[1]);
        let (kh, kw, sh, sw, ph, pw) = (&k[0], &k[1], &s[0], &s[1], &p[0], &p[1]);
        quote!(<#c, #hi, #wi, #ho, #wo, #kh, #kw, #sh, #sw, #ph, #pw>)
    };
    let ident = Ident::new(name, kind.span());
    Ok(Built {
        ty: quote!(::staticnn::layers::#ident #generics),
        value: quote!(::staticnn::layers::#ident::#generics),
        after: cx.out(cx.flow.shape.with(c, &outs)),
        biased: None,
    })
}

/// `GlobalAvgPool`: the mean of each channel, `[C, L]` → `[C, 1]` and `[C, H, W]` →
/// `[C, 1, 1]` (PyTorch's `nn.AdaptiveAvgPool1d(1)` / `2d(1)`).
fn global_avg_pool(cx: &mut Cx) -> Result<Built, Flow> {
    let (declared_in, declared_out) = cx.declared();
    if let Some((w, _)) = declared_out.or(declared_in) {
        cx.errors
            .push(w.span(), "`GlobalAvgPool` takes no arguments");
    }
    let (c, spatial) = match &cx.flow.shape {
        Shape::Seq([c, l]) => (c.clone(), vec![l.clone()]),
        Shape::Image([c, h, w]) => (c.clone(), vec![h.clone(), w.clone()]),
        Shape::Flat(_) => {
            if let Some(from) = &cx.flow.from {
                cx.errors.push(
                    cx.kind.span(),
                    format!(
                        "layer {} averages each channel of a sequence or image, but {from} {} flat features",
                        cx.label,
                        cx.flow.shape.describe()
                    ),
                );
            }
            return Err(cx.unknown());
        }
    };
    let sp: Vec<&W> = spatial.iter().collect();
    let s = W::product(&sp);
    let ones = vec![W::Known(1); spatial.len()];
    Ok(Built {
        ty: quote!(::staticnn::layers::GlobalAvgPool<#c, #s>),
        value: quote!(::staticnn::layers::GlobalAvgPool::<#c, #s>),
        after: cx.out(cx.flow.shape.with(c, &ones)),
        biased: None,
    })
}

/// `Flatten`: a sequence or image as its `C·L` or `C·H·W` features, in PyTorch's order
/// (free: the column already holds them in that order).
fn flatten(cx: &mut Cx) -> Result<Built, Flow> {
    let (declared_in, declared_out) = cx.declared();
    if let Some((w, _)) = declared_out.or(declared_in) {
        cx.errors.push(w.span(), "`Flatten` takes no arguments");
    }
    let mut after = cx.out(Shape::Flat(cx.flow.width()));
    after.detail = match &cx.flow.shape {
        Shape::Flat(_) => cx.flow.detail.clone(),
        shape => Some(shape.describe_width()),
    };
    Ok(Built {
        ty: quote!(::staticnn::layers::Flatten),
        value: quote!(::staticnn::layers::Flatten),
        after,
        biased: None,
    })
}
