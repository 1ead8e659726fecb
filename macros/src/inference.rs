//! The inference-only form of a network with batch norm or dropout.
//!
//! `NameInference` is the same network with every `Dropout` removed (it is the identity in
//! eval mode) and every `BatchNorm` that follows a `Linear` layer or a convolution (possibly
//! through dropout) folded into that layer's weight and bias. A convolution declared without
//! a bias gets one in the inference form when a batch norm is folded into it. It is written by the ordinary expansion from a
//! second plan; `Name::to_inference` copies and folds the parameters.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::validate::{Layer, Plan};

/// What becomes of each layer of the trained network.
enum Fate {
    /// Copied unchanged.
    Keep,
    /// Removed (dropout).
    Drop,
    /// Folded into the `Linear` layer at this position of the trained network.
    FoldInto(usize),
}

pub fn expand(plan: &Plan) -> TokenStream {
    // (Folding and dropping keep residual blocks: a batch norm folds only into the layer
    // before it in the same sequence, and the kept layers get the keys of their new
    // positions.)
    let layers = &plan.layers;
    if !layers
        .iter()
        .any(|l| l.kind == "BatchNorm" || l.kind == "Dropout")
    {
        return TokenStream::new();
    }
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
                        && !folded(&fates, j)
                        && layers[j].nest.scope == l.nest.scope =>
                {
                    Fate::FoldInto(j)
                }
                _ => Fate::Keep,
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
        "Inference-only form of [`{}`]: batch norms that follow a `Linear` layer are folded into it and dropout is removed. Made by [`{}::to_inference`].",
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
        match fate {
            // The bias the inference form added stays zero until the fold sets it.
            Fate::Keep if l.biased.is_some() && folded(&fates, k) => quote! {
                out.params.#f.weight = self.params.#f.weight;
                out.state.#f = self.state.#f;
            },
            Fate::Keep => quote! {
                out.params.#f = self.params.#f;
                out.state.#f = self.state.#f;
            },
            Fate::Drop => quote!(),
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
            /// folded into their weights, dropout removed. Its eval-mode outputs equal this
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

/// Whether a batch norm right after `layer` can be folded into its weights.
fn folds_into(layer: &Layer) -> bool {
    !layer.custom && matches!(layer.kind.as_str(), "Linear" | "Conv1d" | "Conv2d")
}

fn folded(fates: &[Fate], j: usize) -> bool {
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
