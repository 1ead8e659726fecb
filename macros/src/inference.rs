//! The inference-only form of a network with batch norm, dropout or `Normalize`.
//!
//! `NameInference` is the same network with every `Dropout` removed (it is the identity in
//! eval mode) and every `BatchNorm` that follows a `Linear` layer or a convolution (possibly
//! through dropout) folded into that layer's weight and bias. A convolution declared without
//! a bias gets one in the inference form when a batch norm is folded into it. It is written by the ordinary expansion from a
//! second plan; `Name::to_inference` copies and folds the parameters. A leading `Normalize`
//! is folded into the `Linear` layer or unpadded convolution that follows it (through
//! `Dropout` and `Flatten`), and kept otherwise.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::validate::{Layer, Plan};

/// What becomes of each layer of the trained network.
pub(crate) enum Fate {
    /// Copied unchanged.
    Keep,
    /// Removed (dropout).
    Drop,
    /// Folded into the `Linear` layer at this position of the trained network.
    FoldInto(usize),
    /// A `Normalize` layer folded into the `Linear` layer or convolution at this later
    /// position (after its parameters are copied, before a batch norm is folded into it).
    FoldForward(usize),
}

pub fn expand(plan: &Plan) -> TokenStream {
    // (Folding and dropping keep residual blocks: a batch norm folds only into the layer
    // before it in the same sequence, and the kept layers get the keys of their new
    // positions.)
    let layers = &plan.layers;
    if !layers
        .iter()
        .any(|l| matches!(l.kind.as_str(), "BatchNorm" | "Dropout" | "Normalize"))
    {
        return TokenStream::new();
    }
    let fates = fates(layers);

    // The kept layers. The layers left out keep the shape, so each kept layer's input is
    // what it was in the trained network.
    // A convolution without bias that a batch norm folds into gets one.
    let mut kept: Vec<Layer> = Vec::new();
    for (k, (l, fate)) in layers.iter().zip(&fates).enumerate() {
        if let Fate::Keep = fate {
            let mut l = l.clone();
            l.asserts.clear();
            if folded(&fates, k)
                && let Some((ty, value)) = l.biased.take()
            {
                (l.ty, l.value) = (ty, value);
            }
            kept.push(l);
        }
    }
    renumber(&mut kept);
    let name = format_ident!("{}Inference", plan.name);
    let doc = format!(
        "Inference-only form of [`{}`]: batch norms that follow a `Linear` layer are folded into it, a leading `Normalize` into the layer after it (when exact), and dropout is removed. Made by [`{}::to_inference`].",
        plan.name, plan.name
    );
    let inference_plan = Plan {
        attrs: vec![syn::parse_quote!(#[doc = #doc])],
        vis: plan.vis.clone(),
        name: name.clone(),
        input: plan.input.clone(),
        input_shape: plan.input_shape.clone(),
        layers: kept,
        loss: None,
        checks: Vec::new(),
        inference: false,
        deployed: true,
    };
    let body = crate::expand::expand(&inference_plan);

    let steps = layers.iter().zip(&fates).enumerate().map(|(k, (l, fate))| {
        let f = &l.field;
        // `Normalize` layers folded into this one, once its parameters are copied.
        let normalized = layers
            .iter()
            .zip(&fates)
            .filter_map(|(n, fate)| match fate {
                Fate::FoldForward(t) if *t == k => Some(n),
                _ => None,
            });
        let normalized = normalized.map(|n| {
            let (nf, nv) = (&n.field, &n.value);
            if l.kind == "Linear" {
                quote!(#nv.fold_into(&mut out.params.#f, &self.state.#nf);)
            } else {
                let conv = &l.value;
                quote!((#conv).fold_normalize(&#nv, &mut out.params.#f, &self.state.#nf);)
            }
        });
        let normalized: Vec<TokenStream> = normalized.collect();
        match fate {
            // The bias the inference form added starts at zero (whatever `out` held), and
            // the folds set it.
            Fate::Keep if l.biased.is_some() && folded(&fates, k) => quote! {
                out.params.#f.weight = self.params.#f.weight;
                out.params.#f.bias.fill(T::zero());
                out.state.#f = self.state.#f;
                #(#normalized)*
            },
            Fate::Keep => quote! {
                out.params.#f = self.params.#f;
                out.state.#f = self.state.#f;
                #(#normalized)*
            },
            Fate::Drop | Fate::FoldForward(_) => quote!(),
            Fate::FoldInto(j) => {
                let (target, bn) = (&layers[*j].field, &l.value);
                quote!(#bn.fold_into(&mut out.params.#target, &self.params.#f, &self.state.#f);)
            }
        }
    });
    let (orig, vis) = (&plan.name, &plan.vis);
    quote! {
        #body

        impl<T: ::staticnn::Scalar> #orig<T> {
            /// The inference-only form of this network: batch norms after `Linear` layers
            /// folded into their weights, a leading `Normalize` into the layer after it
            /// (when exact), dropout removed. Its eval-mode outputs equal this
            /// network's eval-mode outputs up to rounding.
            #vis fn to_inference(&self) -> #name<T> {
                let mut out = <#name<T> as ::staticnn::__private::Zeroable>::zeroed();
                self.to_inference_into(&mut out);
                out
            }

            /// Writes the inference-only form into `out` (for networks too large for the
            /// stack: `out` can be a zeroed `Box` or a `static`).
            #vis fn to_inference_into(&self, out: &mut #name<T>) {
                #(#steps)*
            }
        }
    }
}

/// What becomes of each layer in the inference form (the int8 twin takes its layers from
/// here too).
pub(crate) fn fates(layers: &[Layer]) -> Vec<Fate> {
    let mut fates = Vec::with_capacity(layers.len());
    let mut last_kept: Option<usize> = None; // the last kept layer, looking through dropout
    for (k, l) in layers.iter().enumerate() {
        let fate = match l.kind.as_str() {
            "Dropout" => Fate::Drop,
            // Only within one sequence: not into a layer before a residual block or inside
            // another part of one, whose output something else reads too.
            "BatchNorm" => match last_kept {
                Some(j)
                    if folds_into(&layers[j])
                        && !bn_folded(&fates, j)
                        && layers[j].nest.scope == l.nest.scope =>
                {
                    Fate::FoldInto(j)
                }
                _ => Fate::Keep,
            },
            "Normalize" => match next_target(layers, k) {
                Some(j) => Fate::FoldForward(j),
                None => Fate::Keep,
            },
            _ => Fate::Keep,
        };
        if matches!(fate, Fate::Keep) {
            last_kept = Some(k);
        }
        fates.push(fate);
    }
    // A network of nothing but dropout keeps one dropout layer, which is the identity.
    if fates.iter().all(|f| !matches!(f, Fate::Keep)) {
        fates[0] = Fate::Keep;
    }

    fates
}

/// Whether a batch norm right after `layer` can be folded into its weights.
fn folds_into(layer: &Layer) -> bool {
    !layer.custom && matches!(layer.kind.as_str(), "Linear" | "Conv1d" | "Conv2d")
}

/// Whether a batch norm is folded into layer `j` already.
fn bn_folded(fates: &[Fate], j: usize) -> bool {
    fates
        .iter()
        .any(|f| matches!(f, Fate::FoldInto(t) if *t == j))
}

/// Gives the kept layers the module keys of their new positions (`nn.Sequential` indices
/// count the layers that remain), inside residual blocks too.
fn renumber(layers: &mut [Layer]) {
    use std::collections::HashMap;
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut keys: HashMap<String, (String, Option<String>)> = HashMap::new();
    for l in layers.iter_mut() {
        let (parent, word) = match l.nest.scope.last() {
            None => (None, ""),
            Some((h, crate::validate::Part::Body)) => (Some(h.to_string()), "body"),
            Some((h, crate::validate::Part::Projection)) => (Some(h.to_string()), "projection"),
        };
        let counter = format!("{}/{word}", parent.clone().unwrap_or_default());
        let count = counts.entry(counter).or_insert(0);
        let i = *count;
        *count += 1;
        match parent.and_then(|p| keys.get(&p)) {
            None => {
                l.nest.path = i.to_string();
            }
            Some((path, named)) => {
                l.nest.path = format!("{path}.{word}.{i}");
                l.nest.named_path = named.as_ref().map(|n| format!("{n}.{word}.{i}"));
            }
        }
        if l.nest.block {
            keys.insert(
                l.field.to_string(),
                (l.nest.path.clone(), l.nest.named_path.clone()),
            );
        }
    }
}

/// Whether anything (a batch norm or a `Normalize`) is folded into layer `j`.
pub(crate) fn folded(fates: &[Fate], j: usize) -> bool {
    fates
        .iter()
        .any(|f| matches!(f, Fate::FoldInto(t) | Fate::FoldForward(t) if *t == j))
}

/// The layer a `Normalize` at `k` folds into exactly: the next layer, looking through
/// `Dropout` and `Flatten`, when it is a `Linear` layer or a convolution without padding
/// (with padding, the border would see `−μ/σ` instead of zeros).
fn next_target(layers: &[Layer], k: usize) -> Option<usize> {
    let j = (k + 1..layers.len())
        .find(|&j| !matches!(layers[j].kind.as_str(), "Dropout" | "Flatten"))?;
    let l = &layers[j];
    if l.nest.scope != layers[k].nest.scope {
        return None;
    }
    let padding: &[usize] = match l.kind.as_str() {
        "Linear" => &[],
        "Conv1d" => &[6],
        "Conv2d" => &[10, 11],
        _ => return None,
    };
    (!l.custom && padding.iter().all(|&a| generic_is_zero(&l.ty, a))).then_some(j)
}

/// Whether the generic argument at `index` of a layer type (`Conv2d<3, 28, …>`) is the
/// literal `0`. Arguments given by `const` items are braced expressions: not known zero.
fn generic_is_zero(ty: &TokenStream, index: usize) -> bool {
    use proc_macro2::TokenTree;
    let mut args = ty
        .clone()
        .into_iter()
        .skip_while(|t| !matches!(t, TokenTree::Punct(p) if p.as_char() == '<'))
        .skip(1);
    let mut at = 0;
    let mut zero = false;
    for t in args.by_ref() {
        match &t {
            TokenTree::Punct(p) if p.as_char() == ',' || p.as_char() == '>' => {
                if at == index {
                    return zero;
                }
                at += 1;
                zero = false;
            }
            TokenTree::Literal(l) if l.to_string() == "0" => zero = true,
            _ => zero = false,
        }
    }
    false
}
