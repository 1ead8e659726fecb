//! Expansion: writes the network struct, its parameter, state and tape blocks, and the
//! `Network` (and, with a loss, `Supervised`) implementation from a validated [`Plan`].

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};

use crate::validate::{Plan, W};

pub fn expand(plan: &Plan) -> TokenStream {
    let Plan {
        attrs,
        vis,
        name,
        input,
        layers,
        loss,
        checks,
        ..
    } = plan;
    let params_ty = format_ident!("{}Params", name);
    let state_ty = format_ident!("{}State", name);
    let tape_ty = format_ident!("{}Tape", name);
    let sn = quote!(::staticnn);
    let pv = quote!(::staticnn::__private);
    // The network's output is that of its last layer outside residual blocks (a block's
    // layers follow its header in the plan).
    let top = layers
        .iter()
        .rposition(|l| l.nest.scope.is_empty())
        .expect("validated: at least one layer");
    let output = &layers[top].output;
    let residual = layers.iter().any(|l| l.nest.block);
    let name_str = name.to_string();
    let tape_name = tape_ty.to_string();
    let (params_name, state_name) = (params_ty.to_string(), state_ty.to_string());
    let last = &layers[top].field;

    let fields: Vec<_> = layers.iter().map(|l| &l.field).collect();
    let aux: Vec<_> = layers
        .iter()
        .map(|l| format_ident!("__aux_{}", l.field))
        .collect();
    let docs: Vec<_> = layers.iter().map(|l| &l.docs).collect();
    let asserts: Vec<_> = layers.iter().map(|l| &l.asserts).collect();
    let values: Vec<_> = layers.iter().map(|l| &l.value).collect();
    let outs: Vec<_> = layers.iter().map(|l| &l.output).collect();
    // `<Ty as Layer<T, IN, OUT>>` for each layer. A user's `Custom` type is respanned onto
    // its own token (the projection and every associated item taken from it), so that a type
    // that is not a layer for these widths is reported once, on that token.
    let spans: Vec<Option<Span>> = layers
        .iter()
        .map(|l| {
            l.custom.then(|| {
                l.ty.clone()
                    .into_iter()
                    .next()
                    .map_or_else(Span::call_site, |t| t.span())
            })
        })
        .collect();
    let lt: Vec<TokenStream> = layers
        .iter()
        .zip(&spans)
        .map(|(l, span)| {
            let (ty, i, o) = (&l.ty, &l.input, &l.output);
            respan(quote!(<#ty as #sn::Layer<T, #i, #o>>), *span)
        })
        .collect();
    let item = |name: &str| -> Vec<TokenStream> {
        let name = proc_macro2::Ident::new(name, Span::call_site());
        lt.iter()
            .zip(&spans)
            .map(|(l, span)| respan(quote!(#l::#name), *span))
            .collect()
    };
    let lt_params = item("Params");
    let lt_state = item("State");
    let lt_tape = item("Tape");
    let lt_count = item("PARAMS");
    // The same counts with `T = f32`, free of the generic parameter, so that they may size an
    // array in a struct generic over `T`: the padding of the blocks to whole cache lines.
    // Only for the library's layers, which are layers of every scalar type; a network with a
    // custom layer (whose impl may be for one scalar type) is not padded.
    let aligned = !layers.iter().any(|l| l.custom);
    let items_f32 = |name: &str| -> Vec<TokenStream> {
        let name = proc_macro2::Ident::new(name, Span::call_site());
        layers
            .iter()
            .map(|l| {
                let (ty, i, o) = (&l.ty, &l.input, &l.output);
                quote!(<#ty as #sn::Layer<f32, #i, #o>>::#name)
            })
            .collect()
    };
    let (params_f32, state_f32) = (items_f32("PARAMS"), items_f32("State"));
    let (params_pad, state_pad, line_align) = if aligned {
        (
            quote!(#pv::line_pad(0 #( + #params_f32 )*)),
            quote!(#pv::line_pad(0 #( + #sn::block::len::<f32, #state_f32>() )*)),
            quote!(#[cfg_attr(target_arch = "x86_64", repr(align(64)))]),
        )
    } else {
        (quote!(0), quote!(0), TokenStream::new())
    };
    let lt_flops = item("FLOPS");
    let lt_kind = item("KIND");
    let lt_segments = item("SEGMENTS");
    let lt_tensors = item("TENSORS");
    // Whether the layer (or the residual block it is in) was declared with a name, and its
    // name in the layer table: the field, or inside a block `layer3.body.0`/`res.body.0`.
    let named: Vec<bool> = layers.iter().map(|l| l.nest.named_path.is_some()).collect();
    let info_names: Vec<String> = layers
        .iter()
        .map(|l| match (&l.nest.named_path, l.nest.scope.is_empty()) {
            (Some(n), _) => n.clone(),
            (None, true) => l.field.to_string(),
            (None, false) => format!("layer{}", l.nest.path),
        })
        .collect();
    let paths: Vec<&str> = layers.iter().map(|l| l.nest.path.as_str()).collect();

    let lt_init = item("init_params_with");
    let lt_forward = item("forward");
    let lt_forward_train = item("forward_train");
    let lt_backward = item("backward");
    let lt_backward_set = item("backward_overwrite");
    let lt_backward_finite = item("backward_overwrite_finite");
    let labels: Vec<String> = layers.iter().map(|l| l.field.to_string()).collect();
    let ins: Vec<_> = layers.iter().map(|l| &l.input).collect();
    // A residual block's row shows the block: its input, then the sum.
    let in_shapes: Vec<_> = layers
        .iter()
        .map(|l| {
            l.nest
                .block_input
                .as_ref()
                .unwrap_or(&l.in_shape)
                .dims_tokens()
        })
        .collect();
    let info_ins: Vec<_> = layers
        .iter()
        .map(|l| {
            l.nest
                .block_input
                .as_ref()
                .map_or_else(|| l.input.clone(), |s| s.width())
        })
        .collect();
    let out_shapes: Vec<_> = layers.iter().map(|l| l.out_shape.dims_tokens()).collect();
    let field_docs: Vec<String> = layers
        .iter()
        .map(|l| format!("Layer {}.", l.label))
        .collect();

    // Widest layer output: the size of each inference scratch buffer and backward buffer.
    let widest = quote!({ #pv::max_width(&[#(#outs),*]) });

    // Width checks the macro could not decide (widths given by `const` items): a trait of
    // the check's own, whose message names both layers as a literal mismatch does, asked
    // through an associated const so that the error is the bound alone, on the user's token.
    let checks = checks.iter().map(|c| {
        let (produced, declared) = (&c.produced, &c.declared);
        let message = format!(
            "layer {} takes {{N}} inputs, but {} {{P}}",
            c.label, c.from
        );
        let ask = quote_spanned!(c.span=> <() as Feeds<#produced, #declared>>::OK);
        quote! {
            #[allow(unused_braces)]
            const _: () = {
                #[diagnostic::on_unimplemented(
                    message = #message,
                    label = "this width is {N}",
                    note = "each layer's input width must equal the output width of the layer before it (for the first layer, the network's `input`)"
                )]
                trait Feeds<const P: usize, const N: usize> {
                    const OK: () = ();
                }
                impl<S: ?::core::marker::Sized, const N: usize> Feeds<N, N> for S {}
                #ask
            };
        }
    });

    // `<Pool as ReluMaxPool<T, IN, OUT>>` for the max pooling at `k`.
    let fused_pool = |k: usize| -> TokenStream {
        let l = &layers[k];
        let (ty, i, o) = (&l.ty, &l.input, &l.output);
        quote!(<#ty as #pv::ReluMaxPool<T, #i, #o>>)
    };

    // Eval forward through one scratch buffer: step s reads its input at one end and writes
    // its output at the other, the ends alternating, so that no step overwrites the input of
    // the next. The first step reads `x`, the last writes the returned matrix.
    //
    // A layer followed by a `ReLU` is one step: a `Linear`'s kernels apply the `ReLU` as
    // they store the product (`__private::linear_relu`, the same bits as the two layers);
    // any other layer writes its output and the `ReLU` then runs on it in place
    // (`__private::relu_in_place`, the layer's own formula). Either way the activation
    // needs no second buffer: a convolution's `ReLU` would otherwise double its scratch.
    // Each step is `(first, last)` layer.
    let n = layers.len();
    let mut steps: Vec<(usize, usize)> = Vec::with_capacity(n);
    let mut k = 0;
    while k < n {
        let fuse =
            k + 1 < n && !layers[k].custom && layers[k + 1].kind == "ReLU" && !layers[k + 1].custom;
        let last = if fuse { k + 1 } else { k };
        steps.push((k, last));
        k = last + 1;
    }
    // What is alive while a step runs: its input and its output, the first step counting
    // only its output and the last only its input.
    let pairs = steps.iter().enumerate().map(|(s, &(k, last))| {
        let i = if s == 0 {
            quote!(0)
        } else {
            let w = ins[k];
            quote!(#w)
        };
        let o = if s == steps.len() - 1 {
            quote!(0)
        } else {
            let w = outs[last];
            quote!(#w)
        };
        quote!(#i + #o)
    });
    let scratch_rows = quote!({ #pv::scratch_rows(&[#(#pairs),*]) });
    let m = steps.len();
    // On x86-64 a max pooling whose step follows a step ending in a `ReLU` (a layer other
    // than a `Linear`, then the `ReLU`, neither custom) takes that `ReLU` over: the layer
    // before writes its output alone, and the pooling pools the `ReLU` of each input
    // (`ReluMaxPool::relu_forward_eval`, the same bits). The steps and the scratch are the
    // same; other targets (microcontrollers) keep the `ReLU` in place.
    let eval_relu_pool: Vec<bool> = (0..n)
        .map(|j| {
            j >= 2
                && matches!(layers[j].kind.as_str(), "MaxPool1d" | "MaxPool2d")
                && !layers[j].custom
                && steps.contains(&(j - 2, j - 1))
                && layers[j - 1].kind == "ReLU"
                && layers[j - 2].kind != "Linear"
        })
        .collect();
    let forward_steps = steps.iter().enumerate().map(|(s, &(k, last))| {
        let (fwd, v, f) = (&lt_forward[k], values[k], fields[k]);
        let (i, o) = (ins[k], outs[last]);
        let takes_relu = last == k + 1 && k + 2 < n && eval_relu_pool[k + 2];
        let layer = |src: TokenStream, dst: TokenStream| {
            if eval_relu_pool[k] {
                let pool = fused_pool(k);
                quote! {
                    #[cfg(target_arch = "x86_64")]
                    #pool::relu_forward_eval::<{ B }>(&#v, #src, #dst);
                    #[cfg(not(target_arch = "x86_64"))]
                    #fwd(&#v, &self.params.#f, &self.state.#f, #src, #dst);
                }
            } else {
                quote!(#fwd(&#v, &self.params.#f, &self.state.#f, #src, #dst);)
            }
        };
        let call = |src: TokenStream, dst: TokenStream| {
            if last == k {
                layer(src, dst)
            } else if layers[k].kind == "Linear" {
                quote!(#pv::linear_relu(&self.params.#f, #src, #dst);)
            } else if takes_relu {
                let run = layer(src, quote!(&mut *__d));
                quote! {{
                    let __d = #dst;
                    #run
                    #[cfg(not(target_arch = "x86_64"))]
                    #pv::relu_in_place(__d);
                }}
            } else {
                let run = layer(src, quote!(&mut *__d));
                quote! {{
                    let __d = #dst;
                    #run
                    #pv::relu_in_place(__d);
                }}
            }
        };
        // Where step s's input is: the front when s is odd, the back when s is even.
        let from_front = s % 2 == 1;
        let (src, dst) = if m == 1 {
            (quote!(x), quote!(&mut __out))
        } else if s == 0 {
            (
                quote!(x),
                quote!(#pv::front_mut::<T, #o, { __S - (#o) }, { B }, __S>(&mut __s)),
            )
        } else if s == m - 1 && from_front {
            (
                quote!(#pv::front::<T, #i, { __S - (#i) }, { B }, __S>(&__s)),
                quote!(&mut __out),
            )
        } else if s == m - 1 {
            (
                quote!(#pv::back::<T, #i, { __S - (#i) }, { B }, __S>(&__s)),
                quote!(&mut __out),
            )
        } else {
            let split = if from_front {
                quote!(front_to_back)
            } else {
                quote!(back_to_front)
            };
            let step = call(quote!(__x), quote!(__y));
            return quote! {
                let (__x, __y) =
                    #pv::#split::<T, #i, { __S - (#i) - (#o) }, #o, { B }, __S>(&mut __s);
                #step
            };
        };
        call(src, dst)
    });

    // Batch statistics need two samples: a train-mode forward with `B = 1` through a batch
    // norm does not compile, and the error points at the batch norm.
    // (On a sequence or an image a batch norm averages over the positions too, so one sample
    // is a batch, as in PyTorch; `SpatialBatchNorm` asserts `B·S ≥ 2` itself.)
    let batch_guards = layers
        .iter()
        .filter(|l| l.kind == "BatchNorm" && matches!(l.in_shape, crate::shape::Shape::Flat(_)))
        .map(|l| {
        quote_spanned! {l.span=>
            {
                struct __AtLeastTwo<const B: usize>;
                #[allow(dead_code)]
                impl<const B: usize> __AtLeastTwo<{ B }> {
                    const OK: () = ::core::assert!(
                        B >= 2,
                        "this batch norm needs at least 2 samples per batch in train mode (eval-mode `forward` takes any batch)"
                    );
                }
                let () = __AtLeastTwo::<{ B }>::OK;
            }
        }
    })
    .collect::<Vec<_>>();
    // A `ReLU` (not the first layer) followed by a max pooling trains as one step
    // (`__private::ReluMaxPool`): one pass over the image forward, writing both layers'
    // outputs to the tape, and one backward, which reads the pooling's input (the `ReLU`'s
    // output) and writes the gradient of the `ReLU`'s input. The same bits as the layers
    // one after the other. `relu_pool[k]`: layer `k` is such a `ReLU`.
    let relu_pool: Vec<bool> = (0..n)
        .map(|k| {
            k >= 1
                && k + 1 < n
                && layers[k].kind == "ReLU"
                && !layers[k].custom
                && matches!(layers[k + 1].kind.as_str(), "MaxPool1d" | "MaxPool2d")
                && !layers[k + 1].custom
        })
        .collect();
    let train_steps = (0..n).map(|k| {
        let (fwdt, v, f, a) = (&lt_forward_train[k], values[k], fields[k], &aux[k]);
        let src = if k == 0 {
            quote!(x)
        } else {
            let p = fields[k - 1];
            quote!(&tape.#p)
        };
        if relu_pool[k] {
            let (pool, vp, fp) = (fused_pool(k + 1), values[k + 1], fields[k + 1]);
            return quote!(#pool::relu_forward::<{ B }>(&#vp, #src, &mut tape.#f, &mut tape.#fp););
        }
        if k >= 1 && relu_pool[k - 1] {
            return TokenStream::new();
        }
        if layers[k].kind == "Linear" && !layers[k].custom {
            // The product bounds the weights as it packs them (`__private::linear_bounded`).
            return quote! {
                if BOUND {
                    __bounded &= #pv::linear_bounded(&self.params.#f, #src, &mut tape.#f);
                } else {
                    #fwdt(&#v, &self.params.#f, &mut self.state.#f, #src, &mut tape.#f, &mut tape.#a, rng);
                }
            };
        }
        quote! {
            #fwdt(&#v, &self.params.#f, &mut self.state.#f, #src, &mut tape.#f, &mut tape.#a, rng);
            if BOUND {
                __bounded &= #pv::params_bounded::<T, _>(&self.params.#f);
            }
        }
    });

    // Backward: the last layer reads `dy`; gradients then ping-pong between two buffers.
    // `SET` (a const of the generated `__backward`) picks the layers' overwriting backward,
    // `CHECK` the one that also says whether the gradients it wrote are finite.
    // The buffer each layer's input gradient goes to: the steps, last layer first,
    // alternate between the two (a fused `ReLU` + pooling is one step, whose gradient is
    // the `ReLU`'s).
    let mut dx_buf = vec![0; n];
    let mut step = 0;
    for k in (0..n).rev() {
        if !relu_pool[k] {
            let to = if k >= 1 && relu_pool[k - 1] { k - 1 } else { k };
            dx_buf[to] = step;
            step += 1;
        }
    }
    let backward_steps = (0..n).rev().map(|k| {
        let (bwd, bwd_set) = (&lt_backward[k], &lt_backward_set[k]);
        let bwd_finite = &lt_backward_finite[k];
        let (v, f, a) = (values[k], fields[k], &aux[k]);
        let src = if k == 0 {
            quote!(x)
        } else {
            let p = fields[k - 1];
            quote!(&tape.#p)
        };
        let dy = if k == n - 1 {
            quote!(dy)
        } else {
            let buf = grad_buf(dx_buf[k + 1]);
            let w = outs[k];
            quote!(#pv::front::<T, #w, { __W - (#w) }, { B }, __W>(#buf))
        };
        let dx = if k == 0 {
            quote!(dx)
        } else {
            let buf = grad_buf(dx_buf[k]);
            let w = ins[k];
            quote!(#pv::Some(#pv::front_mut::<T, #w, { __W - (#w) }, { B }, __W>(#buf)))
        };
        if relu_pool[k] {
            // Done with the pooling after it.
            return TokenStream::new();
        }
        if k >= 1 && relu_pool[k - 1] {
            // The pooling's `dy`, and the `ReLU`'s `dx` (a buffer: the `ReLU` is not first).
            let (pool, p) = (fused_pool(k), fields[k - 1]);
            let buf = grad_buf(dx_buf[k - 1]);
            let w = ins[k - 1];
            return quote! {
                #pool::relu_backward::<{ B }>(
                    &#v,
                    &tape.#p,
                    &tape.#f,
                    #dy,
                    #pv::front_mut::<T, #w, { __W - (#w) }, { B }, __W>(#buf),
                );
            };
        }
        let args =
            quote!((&#v, &self.params.#f, #src, &tape.#f, &tape.#a, #dy, #dx, &mut grads.#f));
        quote! {
            if CHECK {
                __finite &= #bwd_finite #args;
            } else if SET {
                #bwd_set #args
            } else {
                #bwd #args
            }
        }
    });

    // Plain SGD inside the backward pass (`Network::backward_sgd`, x86-64), for a chain of
    // `Linear` and `ReLU` layers: first every input gradient, last layer first, each
    // `Linear`'s output gradient kept in a buffer of its own (the `ReLU`s' backward in
    // place), then, once each `Linear`'s input and output gradient bound its update, the
    // weight gradients applied as they are computed. `fused_slots` buffers: one per
    // `Linear` but the first, and one for a last `ReLU`.
    let fusable = !residual
        && layers.iter().any(|l| l.kind == "Linear")
        && layers
            .iter()
            .all(|l| !l.custom && (l.kind == "Linear" || l.kind == "ReLU"));
    let mut fused_slots = 0usize;
    let backward_sgd = if fusable {
        let slot = |s: usize| format_ident!("__f{}", s);
        let view = |s: usize, w: &W| {
            let g = slot(s);
            quote!(#pv::front::<T, #w, { __W - (#w) }, { B }, __W>(#g))
        };
        let view_mut = |s: usize, w: &W| {
            let g = slot(s);
            quote!(#pv::front_mut::<T, #w, { __W - (#w) }, { B }, __W>(#g))
        };
        // Where the gradient of the current layer's output is: `dy`, or a buffer.
        let mut at: Option<usize> = None;
        let mut grads_steps = Vec::new();
        // Each `Linear`: its field, input and output gradient.
        let mut linears = Vec::new();
        for k in (0..n).rev() {
            let src = if k == 0 {
                quote!(x)
            } else {
                let p = fields[k - 1];
                quote!(&tape.#p)
            };
            let w = outs[k];
            if layers[k].kind == "ReLU" {
                if k == 0 {
                    continue;
                }
                match at {
                    Some(s) => {
                        let g = view_mut(s, w);
                        grads_steps.push(quote!(#pv::relu_backward_in_place(#src, #g);));
                    }
                    None => {
                        // A last `ReLU`: its own backward, from `dy` into a buffer.
                        let s = fused_slots;
                        fused_slots += 1;
                        let g = view_mut(s, w);
                        let (bwd, v, f, a) = (&lt_backward[k], values[k], fields[k], &aux[k]);
                        grads_steps.push(quote! {
                            #bwd(&#v, &self.params.#f, #src, &tape.#f, &tape.#a, dy, #pv::Some(#g), &mut grads.#f);
                        });
                        at = Some(s);
                    }
                }
            } else {
                let dyk = at.map_or_else(|| quote!(dy), |s| view(s, w));
                let f = fields[k];
                // An input gradient only for a `Linear` before it (`ReLU`s first need none).
                if layers[..k].iter().any(|l| l.kind == "Linear") {
                    let s = fused_slots;
                    fused_slots += 1;
                    let g = view_mut(s, ins[k]);
                    grads_steps.push(quote!(#pv::linear_input_grad(&self.params.#f, #dyk, #g);));
                    at = Some(s);
                }
                linears.push((f, src, dyk));
            }
        }
        let slots: Vec<_> = (0..fused_slots).map(slot).collect();
        let bounds = linears
            .iter()
            .map(|(_, src, dyk)| quote!(#pv::sgd_bounded(#src, #dyk)));
        let updates = linears.iter().map(|(f, src, dyk)| {
            quote!(#pv::linear_sgd(&mut self.params.#f, &mut grads.#f, #src, #dyk, lr);)
        });
        quote! {
            #[cfg(target_arch = "x86_64")]
            fn backward_sgd<const B: usize>(
                &mut self,
                x: &#sn::SMatrix<T, #input, { B }>,
                tape: &mut #tape_ty<T, { B }>,
                dy: &#sn::SMatrix<T, #output, { B }>,
                grads: &mut #params_ty<T>,
                lr: T,
            ) -> #pv::FusedSgd {
                if !#pv::fused_sgd_runs::<T>() {
                    return #pv::FusedSgd::Declined;
                }
                const __W: usize = #widest;
                let [#(#slots,)* ..] = &mut tape.__grad;
                // Every input gradient, with the weights they were computed with.
                #(#grads_steps)*
                // The update of every layer bounded before the first is written.
                if !(true #( && #bounds )*) {
                    return #pv::FusedSgd::Declined;
                }
                #(#updates)*
                #pv::FusedSgd::Updated
            }
        }
    } else {
        TokenStream::new()
    };

    let supervised = loss.as_ref().map(|loss| {
        // A literal output width of 1 is refused by `validate`; one given by a `const` item
        // is asserted here, on the loss's token.
        let last = loss.clone().into_iter().last();
        let one_output = match (last, output) {
            (Some(TokenTree::Ident(kind)), W::Expr(_)) if kind == "SoftmaxCrossEntropy" => {
                let message = crate::validate::SOFTMAX_ONE_OUTPUT;
                quote_spanned! {kind.span()=>
                    const _: () = ::core::assert!(#output != 1, #message);
                }
            }
            _ => TokenStream::new(),
        };
        quote! {
            #one_output
            impl<T: #sn::Scalar> #sn::Supervised<T, #input, #output> for #name<T> {
                type Loss = #loss;
            }
        }
    });

    let shaped = shaped(vis, name, input, output, loss.as_ref());

    let inference = if plan.inference {
        let mut t = crate::inference::expand(plan);
        t.extend(crate::int8::expand(plan));
        t
    } else {
        TokenStream::new()
    };
    let params_doc = format!(
        "Learnable parameters of [`{name}`], layer by layer: one contiguous block of scalars."
    );
    let state_doc =
        format!("Persistent non-learned state of [`{name}`] (running statistics), layer by layer.");
    let tape_doc = format!(
        "Everything a train-mode forward of [`{name}`] on `B` samples saves for backward; each public field is that layer's output."
    );
    let input_w = input;

    // The steps: a chain as above, or, with residual blocks, scheduled over their tree
    // (`residual`), whose scratch and gradient buffers are slots.
    let forward_body = quote! {
        const __S: usize = #scratch_rows;
        let mut __s = #pv::zeroed::<#sn::SMatrix::<T, __S, { B }>>();
        let mut __out = #pv::zeroed::<#sn::SMatrix::<T, #output, { B }>>();
        let _ = &mut __s;
        #(#forward_steps)*
        __out
    };
    let train_body = quote!(#(#train_steps)*);
    let backward_body = quote! {
        let [__g0, __g1, ..] = &mut tape.__grad;
        let _ = (&__g0, &__g1);
        let mut __finite = true;
        #(#backward_steps)*
    };
    let (forward_body, train_body, backward_body, widest, scratch_rows, grad_slots) = if residual {
        let items = crate::residual::Items {
            forward: &lt_forward,
            forward_train: &lt_forward_train,
            backward: &lt_backward,
            backward_set: &lt_backward_set,
            backward_finite: &lt_backward_finite,
            aux: &aux,
        };
        let code = crate::residual::code(layers, input, output, &items);
        let steps = code.backward;
        (
            code.forward,
            code.train,
            quote! {
                let mut __finite = true;
                #steps
            },
            code.widest,
            code.scratch_rows,
            code.grads,
        )
    } else {
        (
            forward_body,
            train_body,
            backward_body,
            widest,
            scratch_rows,
            2,
        )
    };
    // The backward buffers: on x86-64 as many as `backward_sgd` keeps output gradients in,
    // when that is more than the two the backward pass alternates between.
    let grad_field = if fused_slots > grad_slots {
        quote! {
            #[cfg(target_arch = "x86_64")]
            __grad: [#sn::SMatrix<T, #widest, { B }>; #fused_slots],
            #[cfg(not(target_arch = "x86_64"))]
            __grad: [#sn::SMatrix<T, #widest, { B }>; #grad_slots],
        }
    } else {
        quote!(__grad: [#sn::SMatrix<T, #widest, { B }>; #grad_slots],)
    };

    // The summary reports the scratch `forward` uses (its steps, or with residual blocks its
    // slots, not the layers one by one); the inference-only form's leaves out what only
    // training needs.
    let deployed_summary = if plan.deployed {
        quote! {
            fn summary(&self) -> #sn::Summary {
                #pv::deployed_summary::<T, Self, #input_w, #output>(Self::SCRATCH)
            }
        }
    } else {
        quote! {
            fn summary(&self) -> #sn::Summary {
                #pv::summary::<T, Self, #input_w, #output>(Self::SCRATCH)
            }
        }
    };

    quote! {
        #(#attrs)*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq)]
        #vis struct #name<T: #sn::Scalar = f32> {
            /// Learnable parameters, layer by layer.
            pub params: #params_ty<T>,
            /// Persistent non-learned state, layer by layer.
            pub state: #state_ty<T>,
        }

        #[doc = #params_doc]
        #[repr(C)]
        #line_align
        #[derive(Clone, Copy, PartialEq)]
        #[allow(unused_braces)]
        #vis struct #params_ty<T: #sn::Scalar = f32> {
            #(
                #[doc = #field_docs]
                #(#docs)*
                pub #fields: #lt_params,
            )*
            /// Padding to whole cache lines (x86-64): zero, nobody's parameter. A struct
            /// literal fills it with `..Self::zeroed()`.
            #[doc(hidden)]
            pub __pad: [T; #params_pad],
        }

        #[doc = #state_doc]
        #[repr(C)]
        #line_align
        #[derive(Clone, Copy, PartialEq)]
        #[allow(unused_braces)]
        #vis struct #state_ty<T: #sn::Scalar = f32> {
            #(
                #[doc = #field_docs]
                pub #fields: #lt_state,
            )*
            /// Padding to whole cache lines (x86-64), as in the parameters.
            #[doc(hidden)]
            pub __pad: [T; #state_pad],
        }

        #[doc = #tape_doc]
        #line_align
        #[allow(unused_braces)]
        #vis struct #tape_ty<T: #sn::Scalar, const B: usize> {
            #(
                #[doc = #field_docs]
                pub #fields: #sn::SMatrix<T, #outs, { B }>,
            )*
            #( #aux: #lt_tape<{ B }>, )*
            #grad_field
        }

        #[allow(unsafe_code, unused_braces)]
        const _: () = {
            // SAFETY: `#[repr(C)]` structs whose fields are blocks of `T` (the `Layer` contract
            // for `Params` and `State`), so there is no padding and any bit pattern is valid.
            unsafe impl<T: #sn::Scalar> #pv::Zeroable for #name<T> {}
            unsafe impl<T: #sn::Scalar> #pv::Pod for #name<T> {}
            unsafe impl<T: #sn::Scalar> #pv::Zeroable for #params_ty<T> {}
            unsafe impl<T: #sn::Scalar> #pv::Pod for #params_ty<T> {}
            unsafe impl<T: #sn::Scalar> #pv::Zeroable for #state_ty<T> {}
            unsafe impl<T: #sn::Scalar> #pv::Pod for #state_ty<T> {}
            // SAFETY: every field is `Zeroable`.
            unsafe impl<T: #sn::Scalar, const B: usize> #pv::Zeroable for #tape_ty<T, { B }> {}
        };

        #[allow(unused_braces, clippy::all)]
        impl<T: #sn::Scalar> #params_ty<T> {
            /// Every parameter zero, in a `const` context (a `static` gradient block).
            pub const fn zeroed() -> Self {
                #pv::zeroed()
            }
        }

        #[allow(unused_braces, clippy::all)]
        impl<T: #sn::Scalar> #state_ty<T> {
            /// Every state value zero, in a `const` context.
            pub const fn zeroed() -> Self {
                #pv::zeroed()
            }
        }

        #[allow(unused_braces, clippy::all)]
        impl<T: #sn::Scalar, const B: usize> #tape_ty<T, { B }> {
            /// A zeroed tape, in a `const` context: `static mut TAPE: Tape<f32, 8> =
            /// Tape::zeroed();` needs no `unsafe`.
            pub const fn zeroed() -> Self {
                #pv::zeroed()
            }
        }

        // The layers' blocks, without the padding (nobody's).
        #[allow(unused_braces)]
        impl<T: #sn::Scalar> ::core::fmt::Debug for #params_ty<T> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#params_name)
                    #( .field(#labels, &self.#fields) )*
                    .finish()
            }
        }

        #[allow(unused_braces)]
        impl<T: #sn::Scalar> ::core::fmt::Debug for #state_ty<T> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#state_name)
                    #( .field(#labels, &self.#fields) )*
                    .finish()
            }
        }

        #[allow(unused_braces)]
        impl<T: #sn::Scalar, const B: usize> ::core::fmt::Debug for #tape_ty<T, { B }> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#tape_name)
                    #( .field(#labels, &self.#fields) )*
                    .finish_non_exhaustive()
            }
        }

        #(#checks)*
        #(#(#asserts)*)*

        #[allow(unused_braces, clippy::all)]
        impl<T: #sn::Scalar> #name<T> {
            /// The network with every parameter and state value zero, in a `const` context,
            /// so that a `static` (or `static mut`) network needs no `unsafe`:
            /// `static mut NET: Net<f32> = Net::zeroed();`, then `Network::init` at run time.
            /// Zero bytes are a valid value of every generated block (they are `Zeroable`).
            pub const fn zeroed() -> Self {
                #pv::zeroed()
            }

            /// Input features.
            pub const INPUT: usize = #input_w;
            /// Output features.
            pub const OUTPUT: usize = #output;
            /// Learnable scalars.
            pub const PARAMS: usize = 0 #( + #lt_count )*;
            /// Forward FLOPs per sample.
            pub const FLOPS: usize = 0 #( + #lt_flops )*;
            /// Bytes of the parameter block (also of a gradient block): on x86-64 the
            /// parameters padded to whole 64-byte lines (at most 15 zero scalars; see
            /// `staticnn::block`), elsewhere `PARAMS` scalars exactly.
            pub const PARAM_BYTES: usize = ::core::mem::size_of::<#params_ty<T>>();
            /// Bytes of the persistent state (padded as the parameters are).
            pub const STATE_BYTES: usize = ::core::mem::size_of::<#state_ty<T>>();
            /// Bytes of the blob `staticnn::io::to_bytes` writes: a header, the parameters
            /// and the state (without the blocks' padding: a blob is the same on every
            /// target).
            pub const BLOB_BYTES: usize = #sn::io::HEADER_BYTES
                + (Self::PARAMS #( + #sn::block::len::<T, #lt_state>() )*)
                    * ::core::mem::size_of::<T>();
            /// Architecture fingerprint (`staticnn::io::fingerprint` of the layers), recorded
            /// in blobs so that a blob made by another architecture is refused.
            pub const FINGERPRINT: u64 =
                #sn::io::fingerprint(<Self as #sn::Network<T, #input_w, #output>>::LAYERS);
            /// Widest layer output: the height of each of the tape's backward buffers (two;
            /// on x86-64, a chain of `Linear` and `ReLU` layers has one per `Linear` but
            /// the first, and one for a last `ReLU`, when that is more).
            pub const WIDEST: usize = #widest;
            /// Rows of eval-mode scratch: the largest input width plus output width of any
            /// layer (the first layer counting only its output, the last only its input).
            pub const SCRATCH: usize = #scratch_rows;
            /// Bytes of the training tape for batches of `B` samples.
            pub const fn tape_bytes<const B: usize>() -> usize {
                ::core::mem::size_of::<#tape_ty<T, { B }>>()
            }
            /// Bytes of eval-mode scratch for `B` samples, on the stack of `forward`: one
            /// buffer of [`SCRATCH`](Self::SCRATCH) rows, in which each layer reads its input
            /// at one end and writes its output at the other (the returned output is not
            /// included).
            pub const fn scratch_bytes<const B: usize>() -> usize {
                Self::SCRATCH * B * ::core::mem::size_of::<T>()
            }

            /// The eval forward's steps, inlined into `Network::forward` and, on x86-64,
            /// into its copy compiled for AVX2 + FMA.
            #[inline(always)]
            fn __forward<const B: usize>(&self, x: &#sn::SMatrix<T, #input_w, { B }>) -> #sn::SMatrix<T, #output, { B }> {
                #forward_body
            }

            /// `Network::forward` compiled for AVX2 + FMA: the same operations (Rust fuses
            /// no multiply and add by itself), so the same bits, with the small layers'
            /// loops on 256-bit vectors and no call per activation. `Network::forward`
            /// runs it when `staticnn::__private::avx2_forward` says so.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            fn __forward_avx2<const B: usize>(&self, x: &#sn::SMatrix<T, #input_w, { B }>) -> #sn::SMatrix<T, #output, { B }> {
                self.__forward::<{ B }>(x)
            }

            /// The train-mode forward's steps, inlined into `Network::forward_train` and,
            /// on x86-64, into its copy compiled for AVX2 + FMA. With `BOUND` (for
            /// `Network::forward_train_bounded`), each layer's parameters are checked
            /// against `staticnn::__private::params_bounded` just after its forward read
            /// them; the result says whether all are (`false` without `BOUND`).
            #[inline(always)]
            fn __forward_train<'t, const B: usize, const BOUND: bool, R: #pv::Rng + ?Sized>(
                &mut self,
                x: &#sn::SMatrix<T, #input_w, { B }>,
                tape: &'t mut #tape_ty<T, { B }>,
                rng: &mut R,
            ) -> (&'t #sn::SMatrix<T, #output, { B }>, bool) {
                let mut __bounded = BOUND;
                #train_body
                (&tape.#last, __bounded)
            }

            /// `Network::forward_train` compiled for AVX2 + FMA, as `__forward_avx2` is
            /// for `forward`: the same operations, so the same bits.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            fn __forward_train_avx2<'t, const B: usize, const BOUND: bool, R: #pv::Rng + ?Sized>(
                &mut self,
                x: &#sn::SMatrix<T, #input_w, { B }>,
                tape: &'t mut #tape_ty<T, { B }>,
                rng: &mut R,
            ) -> (&'t #sn::SMatrix<T, #output, { B }>, bool) {
                self.__forward_train::<{ B }, BOUND, R>(x, tape, rng)
            }

            /// `Network::forward_train` (`BOUND` false) and
            /// `Network::forward_train_bounded` (`BOUND`), on the copy the CPU runs best.
            #[inline(always)]
            fn __forward_train_on<'t, const B: usize, const BOUND: bool, R: #pv::Rng + ?Sized>(
                &mut self,
                x: &#sn::SMatrix<T, #input_w, { B }>,
                tape: &'t mut #tape_ty<T, { B }>,
                rng: &mut R,
            ) -> (&'t #sn::SMatrix<T, #output, { B }>, bool) {
                #[cfg(target_arch = "x86_64")]
                if #pv::avx2_forward() {
                    // SAFETY: `avx2_forward` says that the CPU runs AVX2 and FMA.
                    return unsafe { self.__forward_train_avx2::<{ B }, BOUND, R>(x, tape, rng) };
                }
                self.__forward_train::<{ B }, BOUND, R>(x, tape, rng)
            }

            /// The backward pass of `Network::backward` (`SET` false: the layers add their
            /// gradients), `Network::backward_overwrite` (`SET`: they write them) and
            /// `Network::backward_overwrite_finite` (`CHECK`: they write them and say
            /// whether they are finite). Returns whether every layer's are (`true` without
            /// `CHECK`).
            #[inline(always)]
            fn __backward<const B: usize, const SET: bool, const CHECK: bool>(
                &self,
                x: &#sn::SMatrix<T, #input_w, { B }>,
                tape: &mut #tape_ty<T, { B }>,
                dy: &#sn::SMatrix<T, #output, { B }>,
                grads: &mut #params_ty<T>,
                dx: ::core::option::Option<&mut #sn::SMatrix<T, #input_w, { B }>>,
            ) -> bool {
                const __W: usize = #widest;
                #backward_body
                if SET || CHECK {
                    // The padding of the block is nobody's gradient: zero, whatever it held.
                    grads.__pad = [T::zero(); #params_pad];
                }
                __finite
            }
        }

        impl<T: #sn::Scalar> #sn::ParamBlock<T> for #params_ty<T> {
            const LAYERS: &'static [#sn::LayerInfo] =
                <#name<T> as #sn::Network<T, #input_w, #output>>::LAYERS;
            const PADDING: usize = #params_pad;
        }

        #[allow(unused_braces, clippy::all)]
        impl<T: #sn::Scalar> #sn::Network<T, #input_w, #output> for #name<T> {
            type Params = #params_ty<T>;
            type State = #state_ty<T>;
            type Tape<const B: usize> = #tape_ty<T, { B }>;

            const NAME: &'static str = #name_str;
            const LAYERS: &'static [#sn::LayerInfo] = &[
                #(
                    #sn::LayerInfo {
                        name: #info_names,
                        kind: #lt_kind,
                        inputs: #info_ins,
                        outputs: #outs,
                        in_shape: #in_shapes,
                        out_shape: #out_shapes,
                        params: #lt_count,
                        flops: #lt_flops,
                        segments: #lt_segments,
                        state: #sn::block::len::<T, #lt_state>(),
                        named: #named,
                        path: #paths,
                        tensors: #lt_tensors,
                    },
                )*
            ];

            #[inline]
            fn params(&self) -> &#params_ty<T> {
                &self.params
            }
            #[inline]
            fn params_mut(&mut self) -> &mut #params_ty<T> {
                &mut self.params
            }
            #[inline]
            fn state(&self) -> &#state_ty<T> {
                &self.state
            }
            #[inline]
            fn state_mut(&mut self) -> &mut #state_ty<T> {
                &mut self.state
            }

            #deployed_summary

            fn init_with<D: #sn::init::Draw, R: #pv::Rng + ?Sized>(&mut self, draw: D, rng: &mut R) {
                let _ = draw;
                #( #lt_init(&#values, draw, &mut self.params.#fields, &mut self.state.#fields, rng); )*
            }

            fn forward<const B: usize>(&self, x: &#sn::SMatrix<T, #input_w, { B }>) -> #sn::SMatrix<T, #output, { B }> {
                #[cfg(target_arch = "x86_64")]
                if #pv::avx2_forward() {
                    // SAFETY: `avx2_forward` says that the CPU runs AVX2 and FMA.
                    return unsafe { self.__forward_avx2::<{ B }>(x) };
                }
                self.__forward::<{ B }>(x)
            }

            fn forward_train<'t, const B: usize, R: #pv::Rng + ?Sized>(
                &mut self,
                x: &#sn::SMatrix<T, #input_w, { B }>,
                tape: &'t mut #tape_ty<T, { B }>,
                rng: &mut R,
            ) -> &'t #sn::SMatrix<T, #output, { B }> {
                #(#batch_guards)*
                self.__forward_train_on::<{ B }, false, R>(x, tape, rng).0
            }

            fn forward_train_bounded<'t, const B: usize, R: #pv::Rng + ?Sized>(
                &mut self,
                x: &#sn::SMatrix<T, #input_w, { B }>,
                tape: &'t mut #tape_ty<T, { B }>,
                rng: &mut R,
            ) -> (&'t #sn::SMatrix<T, #output, { B }>, bool) {
                #(#batch_guards)*
                self.__forward_train_on::<{ B }, { #pv::BOUNDS_IN_FORWARD }, R>(x, tape, rng)
            }

            #[inline]
            fn output<const B: usize>(tape: &#tape_ty<T, { B }>) -> &#sn::SMatrix<T, #output, { B }> {
                &tape.#last
            }

            fn backward<const B: usize>(
                &self,
                x: &#sn::SMatrix<T, #input_w, { B }>,
                tape: &mut #tape_ty<T, { B }>,
                dy: &#sn::SMatrix<T, #output, { B }>,
                grads: &mut #params_ty<T>,
                dx: ::core::option::Option<&mut #sn::SMatrix<T, #input_w, { B }>>,
            ) {
                self.__backward::<{ B }, false, false>(x, tape, dy, grads, dx);
            }

            fn backward_overwrite<const B: usize>(
                &self,
                x: &#sn::SMatrix<T, #input_w, { B }>,
                tape: &mut #tape_ty<T, { B }>,
                dy: &#sn::SMatrix<T, #output, { B }>,
                grads: &mut #params_ty<T>,
                dx: ::core::option::Option<&mut #sn::SMatrix<T, #input_w, { B }>>,
            ) {
                self.__backward::<{ B }, true, false>(x, tape, dy, grads, dx);
            }

            fn backward_overwrite_finite<const B: usize>(
                &self,
                x: &#sn::SMatrix<T, #input_w, { B }>,
                tape: &mut #tape_ty<T, { B }>,
                dy: &#sn::SMatrix<T, #output, { B }>,
                grads: &mut #params_ty<T>,
                dx: ::core::option::Option<&mut #sn::SMatrix<T, #input_w, { B }>>,
            ) -> bool {
                if #pv::FUSED_FINITE_CHECK {
                    self.__backward::<{ B }, true, true>(x, tape, dy, grads, dx)
                } else {
                    self.__backward::<{ B }, true, false>(x, tape, dy, grads, dx);
                    #sn::block::all_finite::<T, _>(grads)
                }
            }

            #backward_sgd
        }

        #supervised

        #shaped

        #inference
    }
}

/// Gives every token of `tokens` the span `span`, when there is one.
fn respan(tokens: TokenStream, span: Option<Span>) -> TokenStream {
    let Some(span) = span else { return tokens };
    tokens
        .into_iter()
        .map(|mut t| {
            if let proc_macro2::TokenTree::Group(g) = &t {
                let mut g2 = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), Some(span)));
                g2.set_span(span);
                t = proc_macro2::TokenTree::Group(g2);
            } else {
                t.set_span(span);
            }
            t
        })
        .collect()
}

fn grad_buf(k: usize) -> proc_macro2::Ident {
    proc_macro2::Ident::new(
        if k.is_multiple_of(2) { "__g0" } else { "__g1" },
        Span::call_site(),
    )
}

/// The network's own `forward`, `predict` and `classify` (and, with a loss, `loss` and
/// `train_step`): the trait methods, taking their data as a type parameter bounded by
/// `staticnn::shape`, so that data of the wrong width is one labelled error naming this
/// network and both widths (see the docs of `staticnn::shape` for how).
pub fn shaped(
    vis: &syn::Visibility,
    name: &proc_macro2::Ident,
    input: &impl quote::ToTokens,
    output: &impl quote::ToTokens,
    loss: Option<&TokenStream>,
) -> TokenStream {
    let sn = quote!(::staticnn);
    let sh = quote!(::staticnn::shape);
    let net = quote!(#sn::Network<T, #input, #output>);
    // The data's check: `X` of `R` rows for this network, its samples named so that rustc
    // knows `R` before it checks `Input`.
    let input_s =
        quote!(#sh::Input<Self, T, { R }, #input, #output, <X as #sh::Rows<T, { R }>>::Samples>);
    let input_b =
        quote!(#sh::Input<Self, T, { R }, #input, #output, #sh::Samples<{ B }>, Then<T> = T>);
    let supervised = loss.map(|loss| {
        let labels = loss
            .clone()
            .into_iter()
            .last()
            .is_some_and(|t| t.to_string() == "SoftmaxCrossEntropy" || t.to_string() == "Hinge");
        let check = if labels { quote!(Labels) } else { quote!(TargetRows) };
        let target_s = quote!(#sh::#check<Self, #loss, T, { K }, #output, <Y as #sh::Targets<#loss, T, { K }>>::Samples>);
        let target_b =
            quote!(#sh::#check<Self, #loss, T, { K }, #output, #sh::Samples<{ B }>, Then<T> = T>);
        let checked = quote!(<Y as #target_s>::Then<<X as #input_s>::Then<T>>);
        let bounds = quote! {
            X: #sh::Rows<T, { R }, Samples = #sh::Samples<{ B }>> + #input_b,
            Y: #sh::Targets<#loss, T, { K }, Samples = #sh::Samples<{ B }>> + #target_b,
        };
        let what = if labels {
            "class labels (`[ClassIndex<OUT>; B]`)"
        } else {
            "target matrices (`SMatrix<T, OUT, B>`)"
        };
        let loss_doc = format!(
            "Eval-mode loss of a batch, as `Supervised::loss`: data of `INPUT` rows and {what}, each of another size a compile error that names this network and both sizes."
        );
        let step_doc = format!(
            "One training step on a batch, as `Supervised::train_step`: data of `INPUT` rows and {what}, each of another size a compile error that names this network and both sizes, as is an optimiser of another network.\n\n# Errors\n\n`TrainError::NonFinite` when the loss or a gradient is not finite, `TrainError::NonFiniteUpdate` when the update would be; nothing is changed then."
        );
        quote! {
            #[doc = #loss_doc]
            #[inline]
            #vis fn loss<const R: usize, const K: usize, const B: usize, X, Y>(
                &self,
                x: &X,
                target: &Y,
            ) -> #checked
            where
                #bounds
            {
                let x = <X as #sh::Rows<T, { R }>>::matrix::<#input, { B }>(x);
                <Y as #sh::Targets<#loss, T, { K }>>::with::<#output, { B }, T, _>(target, |t| {
                    <Self as #sn::Supervised<T, #input, #output>>::loss(self, x, t)
                })
            }

            #[doc = #step_doc]
            #[inline]
            #vis fn train_step<const R: usize, const K: usize, const B: usize, X, Y, O, Rn>(
                &mut self,
                x: &X,
                target: &Y,
                grads: &mut <Self as #net>::Params,
                tape: &mut <Self as #net>::Tape<{ B }>,
                opt: &mut O,
                rng: &mut Rn,
            ) -> ::core::result::Result<
                #checked,
                <O as #sn::optim::OptimizerOf<T, <Self as #net>::Params>>::Error,
            >
            where
                #bounds
                O: #sn::optim::OptimizerOf<T, <Self as #net>::Params, Error = #sn::network::TrainError>,
                Rn: #sn::__private::Rng + ?::core::marker::Sized,
            {
                let x = <X as #sh::Rows<T, { R }>>::matrix::<#input, { B }>(x);
                <Y as #sh::Targets<#loss, T, { K }>>::with::<#output, { B }, _, _>(target, |t| {
                    <Self as #sn::Supervised<T, #input, #output>>::train_step(
                        self,
                        x,
                        t,
                        grads,
                        tape,
                        opt,
                        rng,
                    )
                })
            }
        }
    });
    quote! {
        #[allow(unused_braces, clippy::all)]
        impl<T: #sn::Scalar> #name<T> {
            /// Eval-mode forward of a batch (one sample per column), as `Network::forward`:
            /// data of another height than `INPUT` is a compile error that names this
            /// network and both widths.
            #[inline]
            #vis fn forward<const R: usize, X>(&self, x: &X) -> <X as #input_s>::Output
            where
                X: #sh::Rows<T, { R }> + #input_s,
            {
                <X as #input_s>::forward(self, x)
            }

            /// Eval-mode forward of one sample (a column vector), as `Network::predict`:
            /// another height than `INPUT` is a compile error that names this network and
            /// both widths. (Given several columns, it is `forward`.)
            #[inline]
            #vis fn predict<const R: usize, X>(&self, x: &X) -> <X as #input_s>::Output
            where
                X: #sh::Rows<T, { R }> + #input_s,
            {
                <X as #input_s>::forward(self, x)
            }

            /// Index of the largest output for each sample of a batch, as
            /// `Network::classify`: data of another height than `INPUT` is a compile error
            /// that names this network and both widths.
            #[inline]
            #vis fn classify<const R: usize, X>(&self, x: &X) -> <X as #input_s>::Classified
            where
                X: #sh::Rows<T, { R }> + #input_s,
            {
                <X as #input_s>::classify(self, x)
            }

            #supervised
        }
    }
}
