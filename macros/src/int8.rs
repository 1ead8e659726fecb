//! The int8 twin of a network (`NameInt8`) and `Name::<f32>::quantize`.
//!
//! The layers are taken as the inference form has them (dropout removed, batch norms after
//! a `Linear` folded into it) and mapped one by one to integer entries of
//! `staticnn::quant`: a `Linear` becomes a `QLinear` (with a `ReLU` right after it fused
//! into its output range), `Tanh` and `Sigmoid` become `QTable`s. Any other layer makes the
//! network unquantisable: its `quantize` then returns `QuantError::Unsupported` naming the
//! first such layer. New integer layers (convolutions, pooling) are new arms of `entries`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::validate::{Layer, Plan};

/// One layer of the integer network.
enum Entry<'a> {
    /// A `Linear` layer, with a `ReLU` fused into it or not.
    Linear { layer: &'a Layer, relu: bool },
    /// `Tanh` or `Sigmoid` as a table.
    Table { layer: &'a Layer, sigmoid: bool },
    /// A `Conv2d` (groups 1 or depthwise), with a `ReLU` fused into it or not.
    Conv { layer: &'a Layer, relu: bool },
    /// `MaxPool2d` or `AvgPool2d`.
    Pool { layer: &'a Layer, max: bool },
    /// `GlobalAvgPool` (TensorFlow Lite's `MEAN`).
    Gap { layer: &'a Layer },
}

impl Entry<'_> {
    fn layer(&self) -> &Layer {
        match self {
            Entry::Linear { layer, .. }
            | Entry::Table { layer, .. }
            | Entry::Conv { layer, .. }
            | Entry::Pool { layer, .. }
            | Entry::Gap { layer } => layer,
        }
    }
}

/// The layers of the inference form (as `inference.rs` keeps them), and the fields of those
/// a batch norm was folded into.
fn kept(layers: &[Layer]) -> (Vec<&Layer>, Vec<String>) {
    let mut out: Vec<&Layer> = Vec::new();
    let mut folded_into: Vec<usize> = Vec::new(); // positions in `out` already folded into
    for l in layers {
        match l.kind.as_str() {
            "Dropout" => {}
            "BatchNorm"
                if out.last().is_some_and(|p| {
                    !p.custom
                        && matches!(p.kind.as_str(), "Linear" | "Conv1d" | "Conv2d")
                        && !folded_into.contains(&(out.len() - 1))
                }) =>
            {
                folded_into.push(out.len() - 1);
            }
            _ => out.push(l),
        }
    }
    let folded = folded_into
        .iter()
        .map(|&k| out[k].field.to_string())
        .collect();
    (out, folded)
}

/// The integer entries, or the first layer that has none.
fn entries<'a>(kept: &[&'a Layer]) -> Result<Vec<Entry<'a>>, &'a Layer> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < kept.len() {
        let l = kept[k];
        let entry = match l.kind.as_str() {
            _ if l.custom => return Err(l),
            "Linear" | "Conv2d" => {
                let relu = kept
                    .get(k + 1)
                    .is_some_and(|n| n.kind == "ReLU" && !n.custom);
                if relu {
                    k += 1;
                }
                if l.kind == "Linear" {
                    Entry::Linear { layer: l, relu }
                } else {
                    Entry::Conv { layer: l, relu }
                }
            }
            "MaxPool2d" | "AvgPool2d" => Entry::Pool {
                layer: l,
                max: l.kind == "MaxPool2d",
            },
            "GlobalAvgPool" => Entry::Gap { layer: l },
            // The same values in the same order: no entry.
            "Flatten" => {
                k += 1;
                continue;
            }
            "Tanh" => Entry::Table {
                layer: l,
                sigmoid: false,
            },
            "Sigmoid" => Entry::Table {
                layer: l,
                sigmoid: true,
            },
            _ => return Err(l),
        };
        out.push(entry);
        k += 1;
    }
    Ok(out)
}

pub fn expand(plan: &Plan) -> TokenStream {
    let (orig, vis, input) = (&plan.name, &plan.vis, &plan.input);
    let name = format_ident!("{}Int8", plan.name);
    let q = quote!(::staticnn::quant);
    let dataset = quote!(::staticnn::data::Dataset<'_, f32, #input, __L>);
    let (kept, folded) = kept(&plan.layers);
    let entries = match entries(&kept) {
        Ok(e) if !e.is_empty() => e,
        other => {
            let (layer, kind) = match other {
                Err(l) => (l.field.to_string(), l.kind.clone()),
                Ok(_) => ("input".to_string(), "no layer".to_string()),
            };
            return quote! {
                impl #orig<f32> {
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
            };
        }
    };
    let output = &entries.last().expect("not empty").layer().output;

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
            Entry::Pool { .. } => quote!(#q::conv::QPool),
            Entry::Gap { .. } => quote!(#q::conv::QGlobalAvgPool),
        })
        .collect();
    let field_docs = entries.iter().map(|e| {
        let l = e.layer();
        let what = match e {
            Entry::Linear { relu: true, .. } => "fully connected, ReLU fused",
            Entry::Linear { .. } => "fully connected",
            Entry::Table { sigmoid: true, .. } => "sigmoid table",
            Entry::Table { .. } => "tanh table",
            Entry::Conv { relu: true, .. } => "convolution, ReLU fused",
            Entry::Conv { .. } => "convolution",
            Entry::Pool { max: true, .. } => "max pooling",
            Entry::Pool { .. } => "average pooling",
            Entry::Gap { .. } => "global average pooling",
        };
        format!("Layer {} ({what}).", l.label)
    });
    let widths: Vec<_> = entries
        .iter()
        .map(|e| (&e.layer().input, &e.layer().output))
        .collect();
    // The fingerprint's tag: the layer type's kind, or, for a table (whose bytes do not say
    // which function they hold), the function's.
    let prints = entries
        .iter()
        .zip(&types)
        .zip(&widths)
        .map(|((e, t), (i, o))| match e {
            Entry::Table { sigmoid: true, .. } => quote!((#q::QTable::SIGMOID, #i, #o)),
            Entry::Table { .. } => quote!((#q::QTable::TANH, #i, #o)),
            Entry::Linear { .. } | Entry::Gap { .. } => quote!((<#t as #q::QLayer>::KIND, #i, #o)),
            // Convolutions: 5, depthwise 6; pooling: max 7, average 8; then the window.
            Entry::Conv { layer, .. } | Entry::Pool { layer, .. } => {
                let ty = &layer.ty;
                let g = quote!(<#ty as #q::conv::Geometry>);
                let kind = match e {
                    Entry::Conv { .. } => quote!(if #g::GROUPS == 1 { 5u8 } else { 6u8 }),
                    Entry::Pool { max: true, .. } => quote!(7u8),
                    _ => quote!(8u8),
                };
                let w = quote!(#q::conv::window_prints(&#g::WINDOW));
                quote! {
                    (#kind, #i, #o), #w[0], #w[1], #w[2], #w[3]
                }
            }
        });

    // forward_int8: one buffer per layer output.
    let steps = fields
        .iter()
        .zip(&widths)
        .enumerate()
        .map(|(k, (f, (_, o)))| {
            let src = if k == 0 {
                quote!(x)
            } else {
                let h = format_ident!("__h{}", k);
                quote!(&#h)
            };
            let dst = format_ident!("__h{}", k + 1);
            quote! {
                let mut #dst = ::staticnn::nalgebra::SMatrix::<i8, #o, { B }>::zeros();
                self.#f.forward(#src, &mut #dst);
            }
        });
    let last = format_ident!("__h{}", entries.len());

    // quantize: the float forward layer by layer, recording each quantised tensor's range.
    let float_source = if plan
        .layers
        .iter()
        .any(|l| l.kind == "BatchNorm" || l.kind == "Dropout")
    {
        quote!(let __f = &self.to_inference();)
    } else {
        quote!(let __f = self;)
    };
    let stats: Vec<_> = (0..entries.len())
        .map(|k| format_ident!("__s{}", k))
        .collect();
    let mut float_steps = Vec::new();
    let mut n = 0usize;
    for (k, e) in entries.iter().enumerate() {
        let mut run = |l: &Layer| {
            // The inference form's type: with the bias a folded batch norm gave it.
            let (ty, v) = match &l.biased {
                Some((ty, v)) if folded.contains(&l.field.to_string()) => (ty, v),
                _ => (&l.ty, &l.value),
            };
            let (f, i, o) = (&l.field, &l.input, &l.output);
            let (src, dst) = (format_ident!("__x{}", n), format_ident!("__x{}", n + 1));
            n += 1;
            quote! {
                let mut #dst = ::staticnn::nalgebra::SMatrix::<f32, #o, 1>::zeros();
                <#ty as ::staticnn::Layer<f32, #i, #o>>::forward(
                    &#v, &__f.params.#f, &__f.state.#f, &#src, &mut #dst,
                );
            }
        };
        let mut t = run(e.layer());
        if let Entry::Linear { layer, relu: true } | Entry::Conv { layer, relu: true } = e {
            let pos = kept
                .iter()
                .position(|l| l.field == layer.field)
                .expect("kept");
            t.extend(run(kept[pos + 1]));
        }
        let (s, x) = (&stats[k], format_ident!("__x{}", n));
        t.extend(quote!(#s.see(#x.iter())?;));
        float_steps.push(t);
    }
    let builds = entries.iter().zip(&stats).map(|(e, s)| {
        let f = &e.layer().field;
        match e {
            Entry::Linear { relu, .. } => {
                let fused = if *relu {
                    quote!(#q::Fused::Relu)
                } else {
                    quote!(#q::Fused::None)
                };
                quote! {
                    let #f = #q::QLinear::quantize(
                        &__f.params.#f.weight, &__f.params.#f.bias, __prev, #s.params()?, #fused,
                    )?;
                    let __prev = #f.output;
                }
            }
            Entry::Conv { layer, relu } => {
                let fused = if *relu {
                    quote!(#q::Fused::Relu)
                } else {
                    quote!(#q::Fused::None)
                };
                let (ty, name) = (&layer.ty, f.to_string());
                quote! {
                    let #f = #q::conv::QConv2d::quantize::<#ty, _>(
                        &__f.params.#f, #name, __prev, #s.params()?, #fused,
                    )?;
                    let __prev = #f.output;
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
                    let #f = #q::conv::QPool::new::<#ty>(#pool, #name, __prev)?;
                    let __prev = #f.output;
                }
            }
            Entry::Gap { layer } => {
                let ty = &layer.ty;
                quote! {
                    let #f = #q::conv::QGlobalAvgPool::of::<#ty>(__prev, #s.params()?);
                    let __prev = #f.output;
                }
            }
            Entry::Table { sigmoid, .. } => {
                let table = if *sigmoid {
                    quote!(sigmoid)
                } else {
                    quote!(tanh)
                };
                quote! {
                    let #f = #q::QTable::#table(__prev);
                    let __prev = #f.output;
                }
            }
        }
    });
    let flash = const_reader(&name, vis, &entries, &types);
    let last_field = fields.last().expect("not empty");
    let doc = format!(
        "The int8 form of [`{orig}`]: integer weights, activations and arithmetic, as TensorFlow Lite's int8 reference kernels compute them. Made by [`{orig}::quantize`]."
    );
    let quantize_doc = format!(
        "Quantises this network to [`{name}`] (see `staticnn::quant`): the inference form's layers (batch norms folded, dropout removed), weights per output channel, activation ranges from the float forward pass of every `calibration` sample."
    );

    quote! {
        #[doc = #doc]
        #[derive(Clone, Copy, Debug, PartialEq)]
        #vis struct #name {
            /// The input's scale and zero point.
            pub input: #q::QParams,
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

            /// The forward pass on `B` int8 samples (columns), in integers only.
            #vis fn forward_int8<const B: usize>(
                &self,
                x: &::staticnn::nalgebra::SMatrix<i8, #input, { B }>,
            ) -> ::staticnn::nalgebra::SMatrix<i8, #output, { B }> {
                #(#steps)*
                #last
            }

            /// The output's scale and zero point.
            #vis fn output_params(&self) -> #q::QParams {
                self.#last_field.output
            }

            /// `f32` inputs quantised with the input's scale and zero point.
            #vis fn quantize_input<const B: usize>(
                &self,
                x: &::staticnn::nalgebra::SMatrix<f32, #input, { B }>,
            ) -> ::staticnn::nalgebra::SMatrix<i8, #input, { B }> {
                x.map(|v| self.input.quantize(v))
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
                #(#prints,)*
            ]);
            const PAYLOAD_BYTES: usize =
                <#q::QParams as #q::QLayer>::BYTES #(+ <#types as #q::QLayer>::BYTES)*;

            fn write_payload(&self, out: &mut [u8]) {
                let (__a, mut __rest) = out.split_at_mut(<#q::QParams as #q::QLayer>::BYTES);
                #q::QLayer::write(&self.input, __a);
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
            /// when a weight, a bias or a calibration activation is not finite.
            #vis fn quantize<__L>(&self, calibration: #dataset)
                -> ::core::result::Result<#name, #q::QuantError> {
                #float_source
                let mut __input = #q::MinMax::EMPTY;
                #( let mut #stats = #q::MinMax::EMPTY; )*
                for (__sample, _) in calibration.iter() {
                    let __x0 = ::staticnn::nalgebra::SMatrix::<f32, #input, 1>::from_column_slice(&__sample[..]);
                    __input.see(__x0.iter())?;
                    #(#float_steps)*
                }
                let __prev = __input.params()?;
                let input = __prev;
                #(#builds)*
                ::core::result::Result::Ok(#name { input, #(#fields),* })
            }
        }
    }
}

/// `NameInt8::__staticnn_from_payload`, the `const` constructor that
/// `staticnn::int8_network_from_blob!` calls after checking the blob's header: each entry
/// checked (`valid_bytes`, the checks `QLayer::check` runs) and read (`from_blob_bytes`) in
/// `const` evaluation, the geometry of convolutions and pooling from the float layer's type.
fn const_reader(
    name: &proc_macro2::Ident,
    vis: &syn::Visibility,
    entries: &[Entry<'_>],
    types: &[TokenStream],
) -> TokenStream {
    let q = quote!(::staticnn::quant);
    let reads = entries.iter().zip(types).map(|(e, t)| {
        let f = &e.layer().field;
        let read = match e {
            Entry::Linear { .. } | Entry::Table { .. } => quote!(<#t>::from_blob_bytes(__a)),
            Entry::Conv { layer, .. } | Entry::Gap { layer } => {
                let ty = &layer.ty;
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
                #(#reads)*
                let _ = __rest;
                ::core::option::Option::Some(Self { input, #(#fields),* })
            }
        }
    }
}
