//! The int8 twin of a network (`NameInt8`) and `Name::<f32>::quantize`.
//!
//! The layers are taken as the inference form has them (dropout removed, batch norms after
//! a `Linear` folded into it) and mapped one by one to integer entries of
//! `staticnn::quant`: a batch norm that does not fold becomes a depthwise `1 × 1`
//! `QConv2d`, a `Linear` becomes a `QLinear` (with a `ReLU` right after it fused
//! into its output range), `Tanh` and `Sigmoid` become `QTable`s, `Softmax` a `QSoftmax`, and so on; the sum that
//! ends a residual block becomes a `QAdd` (a `ReLU` after it fused). The entries follow the
//! forward steps of `residual::ops` (a chain for a plain network): each reads the network's
//! input or an earlier entry's output ([`Src`]). A leading `Normalize` that the inference
//! form keeps is no entry: the twin holds it as a `QNormalize` field that `quantize_input`
//! applies in `f32`, and the first entries read its output as the input. Any other layer
//! makes the network unquantisable: its `quantize` then returns `QuantError::Unsupported`
//! naming the first such layer. New integer layers are new arms of `entries`.

use std::collections::HashMap;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::inference::{Fate, fates, folded};
use crate::residual::{self, Op, Val};
use crate::validate::{Layer, Plan};

/// One layer of the integer network.
enum Entry<'a> {
    /// A `Linear` layer, with a `ReLU` fused into it or not.
    Linear { layer: &'a Layer, relu: bool },
    /// An element-wise activation as a table.
    Table { layer: &'a Layer, func: Func },
    /// A `Conv1d` or `Conv2d` (any groups), with a `ReLU` fused into it or not.
    Conv { layer: &'a Layer, relu: bool },
    /// Max or average pooling, 1-D or 2-D.
    Pool { layer: &'a Layer, max: bool },
    /// `GlobalAvgPool` (TensorFlow Lite's `MEAN`).
    Gap { layer: &'a Layer },
    /// The sum that ends a residual block (its header), with a `ReLU` fused into it or not.
    Add { layer: &'a Layer, relu: bool },
    /// `Maxout`, with a `ReLU` fused into it or not.
    Maxout { layer: &'a Layer, relu: bool },
    /// `Softmax` (TensorFlow Lite's int8 `SOFTMAX`).
    Softmax { layer: &'a Layer },
    /// A `BatchNorm` the inference form keeps (nothing before it takes it): a depthwise
    /// `1 × 1` convolution (`QConv2d`), with a `ReLU` fused into it or not.
    Norm { layer: &'a Layer, relu: bool },
}

impl Entry<'_> {
    fn layer(&self) -> &Layer {
        match self {
            Entry::Linear { layer, .. }
            | Entry::Table { layer, .. }
            | Entry::Conv { layer, .. }
            | Entry::Pool { layer, .. }
            | Entry::Gap { layer }
            | Entry::Softmax { layer }
            | Entry::Add { layer, .. }
            | Entry::Norm { layer, .. }
            | Entry::Maxout { layer, .. } => layer,
        }
    }
}

/// The type whose `quant::conv::Geometry` describes a kept `BatchNorm` as a depthwise
/// `1 × 1` convolution: its own (`SpatialBatchNorm<C, S>`), or `SpatialBatchNorm<N, 1>`
/// for a flat one of `N` features.
fn norm_geometry(layer: &Layer) -> TokenStream {
    match layer.in_shape {
        crate::shape::Shape::Flat(_) => {
            let n = &layer.output;
            quote!(::staticnn::layers::SpatialBatchNorm::<#n, 1>)
        }
        _ => layer.ty.clone(),
    }
}

/// The function of a table.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Func {
    Tanh,
    Sigmoid,
    Elu,
    LeakyRelu,
    /// A `ReLU` that no layer before it takes.
    Relu,
    Prelu,
}

impl Func {
    /// The fingerprint tag and the field's description.
    fn tag_and_name(self) -> (&'static str, &'static str) {
        match self {
            Func::Tanh => ("TANH", "tanh table"),
            Func::Sigmoid => ("SIGMOID", "sigmoid table"),
            Func::Elu => ("ELU", "ELU table"),
            Func::LeakyRelu => ("LEAKY_RELU", "LeakyReLU table (TensorFlow Lite's kernel)"),
            Func::Relu => ("RELU", "ReLU table"),
            Func::Prelu => ("PRELU", "PReLU table"),
        }
    }
}

/// Where an entry reads: the network's input or an earlier entry's output.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Src {
    Input,
    Entry(usize),
}

/// An entry with what it reads: `src` (a sum's body) and, for a sum, `skip`; `val` is the
/// kept layer whose float output is the entry's output (a fused `ReLU`'s, or its own).
struct Node<'a> {
    entry: Entry<'a>,
    src: Src,
    skip: Option<Src>,
    val: usize,
}

/// The layers of the inference form (as `inference.rs` keeps them: dropout removed, batch
/// norms and a leading `Normalize` folded where it folds them), and whether something was
/// folded into each.
fn kept(layers: &[Layer]) -> (Vec<Layer>, Vec<bool>) {
    let fates = fates(layers);
    layers
        .iter()
        .zip(&fates)
        .enumerate()
        .filter(|(_, (_, f))| matches!(f, Fate::Keep))
        .map(|(k, (l, _))| (l.clone(), folded(&fates, k)))
        .unzip()
}

/// The integer entries in forward order, the forward steps over the kept layers, and the
/// entry holding the network's output; or the first layer that has no entry.
fn entries(kept: &[Layer]) -> Result<(Vec<Node<'_>>, Vec<Op>, Src), &Layer> {
    let (tree, _) = residual::tree(kept, 0, 0, None);
    let mut ops = Vec::new();
    let last = residual::ops(&tree, Val::X, &mut ops);
    let readers = |v: Val| ops.iter().filter(|op| op.reads().contains(&v)).count();
    // Each kept layer's output as an entry's (a `Flatten`'s is its input's).
    let mut alias: HashMap<usize, Src> = HashMap::new();
    let src_of = |v: Val, alias: &HashMap<usize, Src>| match v {
        Val::X => Src::Input,
        Val::Out(k) => alias[&k],
    };
    let mut out: Vec<Node<'_>> = Vec::new();
    let mut i = 0;
    while i < ops.len() {
        let (k, src, skip) = match &ops[i] {
            Op::Layer { k, src } => (*k, src_of(*src, &alias), None),
            Op::Join { h, body, skip } => (*h, src_of(*body, &alias), Some(src_of(*skip, &alias))),
        };
        let l = &kept[k];
        // A `ReLU` that is the next step and the only reader of this output.
        let relu_next = match ops.get(i + 1) {
            Some(Op::Layer {
                k: r,
                src: Val::Out(p),
            }) if *p == k
                && kept[*r].kind == "ReLU"
                && !kept[*r].custom
                && readers(Val::Out(k)) == 1 =>
            {
                Some(*r)
            }
            _ => None,
        };
        let fuses = matches!(
            l.kind.as_str(),
            "Linear" | "Conv1d" | "Conv2d" | "Residual" | "Maxout" | "BatchNorm"
        ) && !l.custom;
        let relu = fuses && relu_next.is_some();
        let entry = match l.kind.as_str() {
            _ if l.custom => return Err(l),
            // A leading `Normalize` that was not folded: applied at the float boundary
            // (`quantize_input`), so the int8 input is its output.
            "Normalize" if k == 0 && src == Src::Input => {
                alias.insert(k, Src::Input);
                i += 1;
                continue;
            }
            "Residual" if skip.is_some() => Entry::Add { layer: l, relu },
            "Linear" => Entry::Linear { layer: l, relu },
            "Maxout" => Entry::Maxout { layer: l, relu },
            "Conv1d" | "Conv2d" => Entry::Conv { layer: l, relu },
            "BatchNorm" => Entry::Norm { layer: l, relu },
            "MaxPool1d" | "MaxPool2d" | "AvgPool1d" | "AvgPool2d" => Entry::Pool {
                layer: l,
                max: l.kind.starts_with("Max"),
            },
            "GlobalAvgPool" => Entry::Gap { layer: l },
            "Softmax" => Entry::Softmax { layer: l },
            // The same values in the same order: no entry.
            "Flatten" => {
                alias.insert(k, src);
                i += 1;
                continue;
            }
            "Tanh" | "Sigmoid" | "ELU" | "LeakyReLU" | "ReLU" | "PReLU" => Entry::Table {
                layer: l,
                func: match l.kind.as_str() {
                    "Tanh" => Func::Tanh,
                    "Sigmoid" => Func::Sigmoid,
                    "ELU" => Func::Elu,
                    "LeakyReLU" => Func::LeakyRelu,
                    "ReLU" => Func::Relu,
                    _ => Func::Prelu,
                },
            },
            _ => return Err(l),
        };
        let e = Src::Entry(out.len());
        alias.insert(k, e);
        let mut val = k;
        if relu && let Some(r) = relu_next {
            alias.insert(r, e);
            val = r;
            i += 1;
        }
        out.push(Node {
            entry,
            src,
            skip,
            val,
        });
        i += 1;
    }
    let last = src_of(last, &alias);
    Ok((out, ops, last))
}

pub fn expand(plan: &Plan) -> TokenStream {
    let (orig, vis, input) = (&plan.name, &plan.vis, &plan.input);
    let name = format_ident!("{}Int8", plan.name);
    // The inference twin (`inference.rs`, only when something folds or drops), which
    // quantises to the same network.
    let inference = format_ident!("{}Inference", plan.name);
    let has_inference = plan
        .layers
        .iter()
        .any(|l| matches!(l.kind.as_str(), "BatchNorm" | "Dropout" | "Normalize"));
    let q = quote!(::staticnn::quant);
    let dataset = quote!(::staticnn::data::Dataset<'_, f32, #input, __L>);
    let (kept, folded) = kept(&plan.layers);
    let (nodes, ops, last) = match entries(&kept) {
        Ok((n, ops, Src::Entry(last))) if !n.is_empty() => (n, ops, last),
        other => {
            let (layer, kind) = match other {
                Err(l) => (l.field.to_string(), l.kind.clone()),
                Ok(_) => ("input".to_string(), "no layer".to_string()),
            };
            let unsupported = |ty: &syn::Ident| {
                quote! {
                    impl #ty<f32> {
                        /// This network cannot be quantised yet: always
                        /// `QuantError::Unsupported`, naming its first layer without an int8
                        /// form.
                        ///
                        /// # Errors
                        ///
                        /// Always [`QuantError::Unsupported`](::staticnn::quant::QuantError::Unsupported).
                        #vis fn quantize<__L>(&self, _calibration: #dataset)
                            -> ::core::result::Result<#q::Unquantisable, #q::QuantError> {
                            ::core::result::Result::Err(#q::QuantError::Unsupported {
                                layer: #layer,
                                kind: #kind,
                            })
                        }
                    }
                }
            };
            let trained = unsupported(orig);
            let deployed = has_inference.then(|| unsupported(&inference));
            return quote! { #trained #deployed };
        }
    };
    let entries: Vec<&Entry> = nodes.iter().map(|n| &n.entry).collect();
    // A leading `Normalize` the inference form keeps: its field and integer-twin type.
    let norm = kept
        .first()
        .filter(|l| l.kind == "Normalize" && !l.custom)
        .map(|l| {
            let ty = &l.ty;
            let ch = quote!(<#ty as #q::normalize::Channels>);
            (
                l.field.clone(),
                quote!(#q::QNormalize<{ #ch::C }, { #ch::S }>),
                ch,
            )
        });
    let norm_decl = norm.as_ref().map(|(f, t, _)| {
        quote! {
            /// The leading `Normalize`, applied in `f32` by `quantize_input`.
            pub #f: #t,
        }
    });
    let norm_print = norm.as_ref().map(
        |(_, t, ch)| quote!((<#t as #q::QLayer>::KIND, #input, #input), (0u8, #ch::C, #ch::S),),
    );
    let norm_bytes = norm
        .as_ref()
        .map(|(_, t, _)| quote!(+ <#t as #q::QLayer>::BYTES));
    let norm_write = norm.as_ref().map(|(f, t, _)| {
        quote! {
            let (__a, __r) = __rest.split_at_mut(<#t as #q::QLayer>::BYTES);
            #q::QLayer::write(&self.#f, __a);
            __rest = __r;
        }
    });
    let norm_check = norm.as_ref().map(|(_, t, _)| {
        quote! {
            let (__a, __r) = __rest.split_at(<#t as #q::QLayer>::BYTES);
            if !<#t as #q::QLayer>::check(__a) {
                return false;
            }
            __rest = __r;
        }
    });
    let norm_read = norm.as_ref().map(|(f, t, _)| {
        quote! {
            let (__a, __r) = __rest.split_at(<#t as #q::QLayer>::BYTES);
            #q::QLayer::read(&mut self.#f, __a);
            __rest = __r;
        }
    });
    let norm_field = norm.as_ref().map(|(f, _, _)| quote!(#f,));
    let norm_build = norm
        .as_ref()
        .map(|(f, _, _)| quote!(let #f = #q::QNormalize::from_state(&__f.state.#f)?;));
    let quantize_input_body = match &norm {
        Some((f, _, _)) => quote!(self.#f.quantize_input(&self.input, x)),
        None => quote!(x.map(|v| self.input.quantize(v))),
    };
    let forward_int8_doc = if norm.is_some() {
        "The forward pass on `B` int8 samples (columns), in integers only. The input is already normalised: the quantisation of the leading `Normalize`'s output, as [`quantize_input`](Self::quantize_input) makes it."
    } else {
        "The forward pass on `B` int8 samples (columns), in integers only."
    };
    let quantize_input_doc = if norm.is_some() {
        "`f32` inputs normalised by the leading `Normalize` (in `f32`, as the float layer) and quantised with the input's scale and zero point."
    } else {
        "`f32` inputs quantised with the input's scale and zero point."
    };
    // The calibration range of the int8 input: the raw sample's, or the normalised one's.
    let see_raw_input = norm.is_none().then(|| quote!(__input.see(__x0.iter())?;));
    let output = &entries[last].layer().output;

    let fields: Vec<_> = entries.iter().map(|e| &e.layer().field).collect();
    let types: Vec<TokenStream> = entries
        .iter()
        .map(|e| match e {
            Entry::Linear { layer, .. } => {
                let (i, o) = (&layer.input, &layer.output);
                quote!(#q::QLinear<#i, #o>)
            }
            Entry::Table { .. } => quote!(#q::QTable),
            Entry::Conv { layer, .. } => {
                let ty = &layer.ty;
                let g = quote!(<#ty as #q::conv::Geometry>);
                quote!(#q::conv::QConv2d<{ #g::KK }, { #g::OUT_C }>)
            }
            Entry::Norm { layer, .. } => {
                let ty = norm_geometry(layer);
                quote!(#q::conv::QConv2d<1, { <#ty as #q::conv::Geometry>::OUT_C }>)
            }
            Entry::Pool { .. } => quote!(#q::conv::QPool),
            Entry::Gap { .. } => quote!(#q::conv::QGlobalAvgPool),
            Entry::Softmax { .. } => quote!(#q::QSoftmax),
            Entry::Add { .. } => quote!(#q::QAdd),
            Entry::Maxout { layer, .. } => {
                let (i, o, ty) = (&layer.input, &layer.output, &layer.ty);
                quote!(#q::QMaxout<#i, #o, { <#ty as #q::maxout::Pieces>::K }>)
            }
        })
        .collect();
    let field_docs = entries.iter().map(|e| {
        let l = e.layer();
        let what = match e {
            Entry::Linear { relu: true, .. } => "fully connected, ReLU fused",
            Entry::Linear { .. } => "fully connected",
            Entry::Table { func, .. } => func.tag_and_name().1,
            Entry::Conv { relu: true, .. } => "convolution, ReLU fused",
            Entry::Conv { .. } => "convolution",
            Entry::Norm { relu: true, .. } => {
                "batch norm as a depthwise 1×1 convolution, ReLU fused"
            }
            Entry::Norm { .. } => "batch norm as a depthwise 1×1 convolution",
            Entry::Pool { max: true, .. } => "max pooling",
            Entry::Pool { .. } => "average pooling",
            Entry::Gap { .. } => "global average pooling",
            Entry::Softmax { .. } => "softmax, TensorFlow Lite's int8 kernel",
            Entry::Add { relu: true, .. } => "the residual block's sum, ReLU fused",
            Entry::Add { .. } => "the residual block's sum",
            Entry::Maxout { relu: true, .. } => "maxout, ReLU fused",
            Entry::Maxout { .. } => "maxout",
        };
        format!("Layer {} ({what}).", l.label)
    });
    let widths: Vec<_> = entries
        .iter()
        .map(|e| (&e.layer().input, &e.layer().output))
        .collect();
    // Where an entry reads, in the fingerprint: 0 the input, `j + 1` entry `j`.
    let code = |s: Src| match s {
        Src::Input => 0usize,
        Src::Entry(j) => j + 1,
    };
    // The fingerprint's tag: the layer type's kind, or, for a table (whose bytes do not say
    // which function they hold), the function's.
    let prints = entries
        .iter()
        .zip(&types)
        .zip(&widths)
        .map(|((e, t), (i, o))| match e {
            Entry::Table { func, .. } => {
                let tag = format_ident!("{}", func.tag_and_name().0);
                quote!((#q::QTable::#tag, #i, #o))
            }
            Entry::Maxout { layer, .. } => {
                let ty = &layer.ty;
                quote!((<#t as #q::QLayer>::KIND, #i, #o), (0u8, <#ty as #q::maxout::Pieces>::K, 0))
            }
            Entry::Linear { .. }
            | Entry::Gap { .. }
            | Entry::Add { .. }
            | Entry::Softmax { .. } => {
                quote!((<#t as #q::QLayer>::KIND, #i, #o))
            }
            // Convolutions: 5, other groups 6 (grouped and depthwise differ in length);
            // pooling: max 7, average 8; then the window.
            Entry::Conv { layer, .. } | Entry::Pool { layer, .. } | Entry::Norm { layer, .. } => {
                let ty = match e {
                    Entry::Norm { .. } => norm_geometry(layer),
                    _ => layer.ty.clone(),
                };
                let g = quote!(<#ty as #q::conv::Geometry>);
                let kind = match e {
                    Entry::Conv { .. } | Entry::Norm { .. } => {
                        quote!(if #g::GROUPS == 1 { 5u8 } else { 6u8 })
                    }
                    Entry::Pool { max: true, .. } => quote!(7u8),
                    _ => quote!(8u8),
                };
                let w = quote!(#q::conv::window_prints(&#g::WINDOW));
                quote! {
                    (#kind, #i, #o), #w[0], #w[1], #w[2], #w[3]
                }
            }
        })
        .collect::<Vec<_>>();
    // The wiring, where it is not a chain: a sum's two inputs (tag 11), an entry that does
    // not read the one before it (tag 12). A plain network's fingerprint has neither.
    let prints = prints
        .into_iter()
        .zip(&nodes)
        .enumerate()
        .map(|(k, (p, n))| {
            let (src, prev) = (code(n.src), k);
            match n.skip {
                Some(skip) => {
                    let skip = code(skip);
                    quote!(#p, (11u8, #src, #skip))
                }
                None if src != prev => quote!(#p, (12u8, #src, 0)),
                None => p,
            }
        });

    // forward_int8: one buffer per layer output.
    let buffer = |s: Src| match s {
        Src::Input => quote!(x),
        Src::Entry(j) => {
            let h = format_ident!("__h{}", j + 1);
            quote!(&#h)
        }
    };
    let steps = nodes
        .iter()
        .zip(&fields)
        .zip(&widths)
        .enumerate()
        .map(|(k, ((n, f), (_, o)))| {
            let src = buffer(n.src);
            let dst = format_ident!("__h{}", k + 1);
            let call = match n.skip {
                Some(skip) => {
                    let skip = buffer(skip);
                    quote!(self.#f.forward(#src, #skip, &mut #dst);)
                }
                None => quote!(self.#f.forward(#src, &mut #dst);),
            };
            quote! {
                let mut #dst = ::staticnn::nalgebra::SMatrix::<i8, #o, { B }>::zeros();
                #call
            }
        });
    let last_buffer = format_ident!("__h{}", last + 1);

    // quantize: the float forward step by step, recording each entry's output range.
    let float_source = if has_inference {
        quote!(let __f = &self.to_inference();)
    } else {
        quote!(let __f = self;)
    };
    let stats: Vec<_> = (0..entries.len())
        .map(|k| format_ident!("__s{}", k))
        .collect();
    // Each kept layer's float output (a `Flatten`'s is its input's).
    let mut value: HashMap<usize, proc_macro2::Ident> = HashMap::new();
    let value_of = |v: Val, value: &HashMap<usize, proc_macro2::Ident>| match v {
        Val::X => format_ident!("__x0"),
        Val::Out(k) => value[&k].clone(),
    };
    let mut float_steps = Vec::new();
    for op in &ops {
        let k = op.out();
        let l = &kept[k];
        let dst = format_ident!("__x{}", k + 1);
        let (i, o) = (&l.input, &l.output);
        match op {
            Op::Layer { src, .. } if l.kind == "Flatten" => {
                value.insert(k, value_of(*src, &value));
                continue;
            }
            Op::Layer { src, .. } => {
                // The inference form's type: with the bias a folded batch norm gave it.
                let (ty, v) = match &l.biased {
                    Some((ty, v)) if folded[k] => (ty, v),
                    _ => (&l.ty, &l.value),
                };
                let (f, src) = (&l.field, value_of(*src, &value));
                float_steps.push(quote! {
                    let mut #dst = ::staticnn::nalgebra::SMatrix::<f32, #o, 1>::zeros();
                    <#ty as ::staticnn::Layer<f32, #i, #o>>::forward(
                        &#v, &__f.params.#f, &__f.state.#f, &#src, &mut #dst,
                    );
                });
            }
            Op::Join { body, skip, .. } => {
                let (a, b) = (value_of(*body, &value), value_of(*skip, &value));
                float_steps.push(quote! {
                    let mut #dst = ::staticnn::nalgebra::SMatrix::<f32, #o, 1>::zeros();
                    ::staticnn::layers::Residual::join(&#a, &#b, &mut #dst);
                });
            }
        }
        value.insert(k, dst.clone());
        if k == 0 && norm.is_some() {
            float_steps.push(quote!(__input.see(#dst.iter())?;));
        }
        if let Some(e) = nodes.iter().position(|n| n.val == k) {
            let s = &stats[e];
            float_steps.push(quote!(#s.see(#dst.iter())?;));
        }
    }
    // Each entry's input parameters (the built entries are locals named as the fields).
    let params_of = |s: Src| match s {
        Src::Input => quote!(input),
        Src::Entry(j) => {
            let f = fields[j];
            quote!(#f.output)
        }
    };
    let builds = nodes.iter().zip(&stats).map(|(n, s)| {
        let e = &n.entry;
        let f = &e.layer().field;
        let prev = params_of(n.src);
        let fused_of = |relu: bool| {
            if relu {
                quote!(#q::Fused::Relu)
            } else {
                quote!(#q::Fused::None)
            }
        };
        match e {
            Entry::Linear { relu, .. } => {
                let fused = fused_of(*relu);
                quote! {
                    let #f = #q::QLinear::quantize(
                        &__f.params.#f.weight, &__f.params.#f.bias, #prev, #s.params()?, #fused,
                    )?;
                }
            }
            Entry::Conv { layer, relu } => {
                let fused = fused_of(*relu);
                let (ty, name) = (&layer.ty, f.to_string());
                quote! {
                    let #f = #q::conv::QConv2d::quantize::<#ty, _>(
                        &__f.params.#f, #name, #prev, #s.params()?, #fused,
                    )?;
                }
            }
            Entry::Norm { layer, relu } => {
                let fused = fused_of(*relu);
                let (ty, v, name) = (norm_geometry(layer), &layer.value, f.to_string());
                quote! {
                    let #f = #q::conv::QConv2d::batch_norm::<#ty>(
                        (#v).eps, &__f.params.#f, &__f.state.#f, #name, #prev, #s.params()?,
                        #fused,
                    )?;
                }
            }
            Entry::Pool { layer, max } => {
                let pool = if *max {
                    quote!(#q::conv::Pool::Max)
                } else {
                    quote!(#q::conv::Pool::Average)
                };
                let (ty, name) = (&layer.ty, f.to_string());
                quote! {
                    let _ = &#s;
                    let #f = #q::conv::QPool::new::<#ty>(#pool, #name, #prev)?;
                }
            }
            Entry::Gap { layer } => {
                let ty = &layer.ty;
                quote! {
                    let #f = #q::conv::QGlobalAvgPool::of::<#ty>(#prev, #s.params()?);
                }
            }
            Entry::Softmax { .. } => quote! {
                let _ = &#s;
                let #f = #q::QSoftmax::new(#prev);
            },
            Entry::Table { func, layer } => {
                let v = &layer.value;
                let build = match func {
                    Func::Tanh => quote!({ let _ = &#s; #q::QTable::tanh(#prev) }),
                    Func::Sigmoid => quote!({ let _ = &#s; #q::QTable::sigmoid(#prev) }),
                    Func::Elu => quote!(#q::QTable::elu(#prev, #s.params()?, (#v).alpha as f32)),
                    Func::LeakyRelu => {
                        quote!(#q::QTable::leaky_relu(#prev, #s.params()?, (#v).slope as f32))
                    }
                    Func::Relu => quote!(#q::QTable::relu(#prev, #s.params()?)),
                    Func::Prelu => {
                        quote!(#q::QTable::prelu(#prev, #s.params()?, __f.params.#f.slope)?)
                    }
                };
                quote!(let #f = #build;)
            }
            Entry::Maxout { relu, .. } => {
                let fused = fused_of(*relu);
                quote! {
                    let #f = #q::QMaxout::quantize(&__f.params.#f, #prev, #s.params()?, #fused)?;
                }
            }
            Entry::Add { relu, .. } => {
                let fused = fused_of(*relu);
                let skip = params_of(n.skip.expect("a sum has two inputs"));
                quote! {
                    let #f = #q::QAdd::new(#prev, #skip, #s.params()?, #fused);
                }
            }
        }
    });
    let flash = const_reader(
        &name,
        vis,
        &entries,
        &types,
        norm.as_ref().map(|(f, t, _)| (f, t)),
    );
    let last_field = fields[last];
    let doc = format!(
        "The int8 form of [`{orig}`]: integer weights, activations and arithmetic, as TensorFlow Lite's int8 reference kernels compute them. Made by [`{orig}::quantize`]."
    );
    let quantize_doc = format!(
        "Quantises this network to [`{name}`] (see `staticnn::quant`): the inference form's layers (batch norms folded, dropout removed), weights per output channel, activation ranges from the float forward pass of every `calibration` sample."
    );

    let quantize_body = quote! {
                let mut __input = #q::MinMax::EMPTY;
                #( let mut #stats = #q::MinMax::EMPTY; )*
                for (__sample, _) in calibration.iter() {
                    let __x0 = ::staticnn::nalgebra::SMatrix::<f32, #input, 1>::from_column_slice(&__sample[..]);
                    #see_raw_input
                    #(#float_steps)*
                }
                let input = __input.params()?;
                #norm_build
                #(#builds)*
                ::core::result::Result::Ok(#name { input, #norm_field #(#fields),* })
    };
    let deployed_quantize = has_inference.then(|| {
        let doc = format!(
            "Quantises this inference form to [`{name}`], as [`{orig}::quantize`] quantises the trained network it came from (the same integer network, bit for bit): for a deployed network, one loaded from a file, or firmware that keeps only this form."
        );
        quote! {
            impl #inference<f32> {
                #[doc = #doc]
                ///
                /// # Errors
                ///
                /// As the trained network's `quantize`.
                #vis fn quantize<__L>(&self, calibration: #dataset)
                    -> ::core::result::Result<#name, #q::QuantError> {
                    let __f = self;
                    #quantize_body
                }
            }
        }
    });

    quote! {
        #[doc = #doc]
        #[derive(Clone, Copy, Debug, PartialEq)]
        #vis struct #name {
            /// The input's scale and zero point.
            pub input: #q::QParams,
            #norm_decl
            #(
                #[doc = #field_docs]
                pub #fields: #types,
            )*
        }

        impl #name {
            /// Inputs per sample.
            pub const INPUT: usize = #input;
            /// Outputs per sample.
            pub const OUTPUT: usize = #output;
            /// Bytes of this network's blob (`staticnn::io::int8_to_bytes`).
            pub const BLOB_BYTES: usize = ::staticnn::io::int8_blob_bytes::<Self>();

            #[doc = #forward_int8_doc]
            #vis fn forward_int8<const B: usize>(
                &self,
                x: &::staticnn::nalgebra::SMatrix<i8, #input, { B }>,
            ) -> ::staticnn::nalgebra::SMatrix<i8, #output, { B }> {
                #(#steps)*
                #last_buffer
            }

            /// The output's scale and zero point.
            #vis fn output_params(&self) -> #q::QParams {
                self.#last_field.output
            }

            #[doc = #quantize_input_doc]
            #vis fn quantize_input<const B: usize>(
                &self,
                x: &::staticnn::nalgebra::SMatrix<f32, #input, { B }>,
            ) -> ::staticnn::nalgebra::SMatrix<i8, #input, { B }> {
                #quantize_input_body
            }

            /// int8 outputs as real values.
            #vis fn dequantize_output<const B: usize>(
                &self,
                y: &::staticnn::nalgebra::SMatrix<i8, #output, { B }>,
            ) -> ::staticnn::nalgebra::SMatrix<f32, #output, { B }> {
                let p = self.output_params();
                y.map(|v| p.dequantize(v))
            }

            /// `f32` in, `f32` out: [`quantize_input`](Self::quantize_input),
            /// [`forward_int8`](Self::forward_int8),
            /// [`dequantize_output`](Self::dequantize_output).
            #vis fn forward<const B: usize>(
                &self,
                x: &::staticnn::nalgebra::SMatrix<f32, #input, { B }>,
            ) -> ::staticnn::nalgebra::SMatrix<f32, #output, { B }> {
                self.dequantize_output(&self.forward_int8(&self.quantize_input(x)))
            }

            /// The index of the largest int8 output of each sample (the first on ties).
            #vis fn classify<const B: usize>(
                &self,
                x: &::staticnn::nalgebra::SMatrix<f32, #input, { B }>,
            ) -> [usize; B] {
                let y = self.forward_int8(&self.quantize_input(x));
                ::core::array::from_fn(|b| {
                    let c = y.column(b);
                    let mut best = 0;
                    for k in 1..c.len() {
                        if c[k] > c[best] {
                            best = k;
                        }
                    }
                    best
                })
            }
        }

        impl ::staticnn::Infer<f32, #input, #output> for #name {
            #[inline]
            fn infer<const B: usize>(
                &self,
                x: &::staticnn::nalgebra::SMatrix<f32, #input, { B }>,
            ) -> ::staticnn::nalgebra::SMatrix<f32, #output, { B }> {
                self.forward(x)
            }
        }

        impl #q::QNetwork for #name {
            const FINGERPRINT: u64 = #q::fingerprint(&[
                (<#q::QParams as #q::QLayer>::KIND, #input, #input),
                #norm_print
                #(#prints,)*
            ]);
            const PAYLOAD_BYTES: usize =
                <#q::QParams as #q::QLayer>::BYTES #norm_bytes #(+ <#types as #q::QLayer>::BYTES)*;

            fn write_payload(&self, out: &mut [u8]) {
                let (__a, mut __rest) = out.split_at_mut(<#q::QParams as #q::QLayer>::BYTES);
                #q::QLayer::write(&self.input, __a);
                #norm_write
                #(
                    let (__a, __r) = __rest.split_at_mut(<#types as #q::QLayer>::BYTES);
                    #q::QLayer::write(&self.#fields, __a);
                    __rest = __r;
                )*
                let _ = __rest;
            }

            fn check_payload(bytes: &[u8]) -> bool {
                let (__a, mut __rest) = bytes.split_at(<#q::QParams as #q::QLayer>::BYTES);
                if !<#q::QParams as #q::QLayer>::check(__a) {
                    return false;
                }
                #norm_check
                #(
                    let (__a, __r) = __rest.split_at(<#types as #q::QLayer>::BYTES);
                    if !<#types as #q::QLayer>::check(__a) {
                        return false;
                    }
                    __rest = __r;
                )*
                let _ = __rest;
                true
            }

            fn read_payload(&mut self, bytes: &[u8]) {
                let (__a, mut __rest) = bytes.split_at(<#q::QParams as #q::QLayer>::BYTES);
                #q::QLayer::read(&mut self.input, __a);
                #norm_read
                #(
                    let (__a, __r) = __rest.split_at(<#types as #q::QLayer>::BYTES);
                    #q::QLayer::read(&mut self.#fields, __a);
                    __rest = __r;
                )*
                let _ = __rest;
            }
        }

        #flash

        impl #orig<f32> {
            #[doc = #quantize_doc]
            ///
            /// # Errors
            ///
            /// `QuantError::EmptyCalibration` for an empty data set, `QuantError::NonFinite`
            /// when a weight, a bias or a calibration activation is not finite (or a kept
            /// `Normalize`'s `σ` is zero).
            #vis fn quantize<__L>(&self, calibration: #dataset)
                -> ::core::result::Result<#name, #q::QuantError> {
                #float_source
                #quantize_body
            }
        }

        #deployed_quantize
    }
}

/// `NameInt8::__staticnn_from_payload`, the `const` constructor that
/// `staticnn::int8_network_from_blob!` calls after checking the blob's header: each entry
/// checked (`valid_bytes`, the checks `QLayer::check` runs) and read (`from_blob_bytes`) in
/// `const` evaluation, the geometry of convolutions and pooling from the float layer's type.
fn const_reader(
    name: &proc_macro2::Ident,
    vis: &syn::Visibility,
    entries: &[&Entry<'_>],
    types: &[TokenStream],
    norm: Option<(&syn::Ident, &TokenStream)>,
) -> TokenStream {
    let q = quote!(::staticnn::quant);
    let reads = entries.iter().zip(types).map(|(e, t)| {
        let f = &e.layer().field;
        let read = match e {
            Entry::Linear { .. }
            | Entry::Table { .. }
            | Entry::Add { .. }
            | Entry::Softmax { .. }
            | Entry::Maxout { .. } => quote!(<#t>::from_blob_bytes(__a)),
            Entry::Conv { layer, .. } | Entry::Gap { layer } => {
                let ty = &layer.ty;
                quote!(<#t>::from_blob_bytes::<#ty>(__a))
            }
            Entry::Norm { layer, .. } => {
                let ty = norm_geometry(layer);
                quote!(<#t>::from_blob_bytes::<#ty>(__a))
            }
            Entry::Pool { layer, max } => {
                let ty = &layer.ty;
                let pool = if *max {
                    quote!(#q::conv::Pool::Max)
                } else {
                    quote!(#q::conv::Pool::Average)
                };
                quote!(<#t>::from_blob_bytes::<#ty>(#pool, __a))
            }
        };
        quote! {
            let (__a, __rest) = __rest.split_at(<#t as #q::QLayer>::BYTES);
            if !<#t>::valid_bytes(__a) {
                return ::core::option::Option::None;
            }
            let #f = #read;
        }
    });
    let fields = entries.iter().map(|e| &e.layer().field);
    let norm_field = norm.map(|(f, _)| quote!(#f,));
    let norm_read = norm.map(|(f, t)| {
        quote! {
            let (__a, __rest) = __rest.split_at(<#t as #q::QLayer>::BYTES);
            if !<#t>::valid_bytes(__a) {
                return ::core::option::Option::None;
            }
            let #f = <#t>::from_blob_bytes(__a);
        }
    });
    quote! {
        impl #name {
            /// The network in a blob's payload, in `const` evaluation, or `None` when a value
            /// is unusable; for `staticnn::int8_network_from_blob!`, which checks the header.
            #[doc(hidden)]
            #vis const fn __staticnn_from_payload(bytes: &[u8]) -> ::core::option::Option<Self> {
                let (__a, __rest) = bytes.split_at(<#q::QParams as #q::QLayer>::BYTES);
                if !#q::QParams::valid_bytes(__a) {
                    return ::core::option::Option::None;
                }
                let input = #q::QParams::from_blob_bytes(__a);
                #norm_read
                #(#reads)*
                let _ = __rest;
                ::core::option::Option::Some(Self { input, #norm_field #(#fields),* })
            }
        }
    }
}
