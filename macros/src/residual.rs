//! The steps of a network with residual blocks.
//!
//! A plain network is a chain: each layer reads the output of the one before, and
//! `expand` threads the values through two ends of one scratch buffer (eval) and two
//! gradient buffers (backward). With residual blocks a value is read twice (a block's input
//! feeds its body and its skip path), so this module schedules the steps over a tree of the
//! layers instead: eval-mode values live in slots of a scratch array, gradients in slots of
//! the tape's gradient array, each slot reused as soon as its value is dead. The number of
//! slots is what the tree needs (one more per level of nesting while a block runs), known
//! when the macro runs, so nothing is allocated.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::validate::{Layer, Part, W};

/// A node of the tree: a layer, or a block with its body and projection.
pub(crate) enum Node {
    Layer(usize),
    Block {
        header: usize,
        body: Vec<Node>,
        projection: Option<Vec<Node>>,
    },
}

/// A value flowing forward: the network's input, or a layer's output (a block header's is
/// the block's sum).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Val {
    X,
    Out(usize),
}

/// One forward step.
pub(crate) enum Op {
    /// Layer `k` reads `src`.
    Layer { k: usize, src: Val },
    /// Block header `h` writes `body + skip`.
    Join { h: usize, body: Val, skip: Val },
}

impl Op {
    pub(crate) fn out(&self) -> usize {
        match self {
            Op::Layer { k, .. } => *k,
            Op::Join { h, .. } => *h,
        }
    }
    pub(crate) fn reads(&self) -> Vec<Val> {
        match self {
            Op::Layer { src, .. } => vec![*src],
            Op::Join { body, skip, .. } => vec![*body, *skip],
        }
    }
}

/// The layers from `k` on at nesting `depth` (inside `part` of the block whose header field
/// is named, when `depth > 0`), as a tree; returns the nodes and the index after them.
pub(crate) fn tree(
    layers: &[Layer],
    mut k: usize,
    depth: usize,
    part: Option<(&str, Part)>,
) -> (Vec<Node>, usize) {
    let mut nodes = Vec::new();
    let inside = |l: &Layer| match part {
        None => l.nest.scope.is_empty(),
        Some((h, p)) => {
            l.nest.scope.len() > depth - 1
                && l.nest.scope[depth - 1].0 == h
                && l.nest.scope[depth - 1].1 == p
        }
    };
    while k < layers.len() && inside(&layers[k]) && layers[k].nest.scope.len() == depth {
        let l = &layers[k];
        if l.nest.block {
            let h = l.field.to_string();
            let (body, next) = tree(layers, k + 1, depth + 1, Some((&h, Part::Body)));
            let (projection, next2) = tree(layers, next, depth + 1, Some((&h, Part::Projection)));
            let has_projection = next2 > next;
            nodes.push(Node::Block {
                header: k,
                body,
                projection: has_projection.then_some(projection),
            });
            k = next2;
        } else {
            nodes.push(Node::Layer(k));
            k += 1;
        }
    }
    (nodes, k)
}

/// The forward steps of `nodes` fed `input`; returns the value out.
pub(crate) fn ops(nodes: &[Node], input: Val, out: &mut Vec<Op>) -> Val {
    let mut v = input;
    for n in nodes {
        v = match n {
            Node::Layer(k) => {
                out.push(Op::Layer { k: *k, src: v });
                Val::Out(*k)
            }
            Node::Block {
                header,
                body,
                projection,
            } => {
                let b = ops(body, v, out);
                let s = match projection {
                    Some(p) => ops(p, v, out),
                    None => v,
                };
                out.push(Op::Join {
                    h: *header,
                    body: b,
                    skip: s,
                });
                Val::Out(*header)
            }
        };
    }
    v
}

/// Slots handed out and taken back, lowest free first.
#[derive(Default)]
struct Slots {
    used: Vec<bool>,
}

impl Slots {
    fn take(&mut self) -> usize {
        match self.used.iter().position(|u| !u) {
            Some(i) => {
                self.used[i] = true;
                i
            }
            None => {
                self.used.push(true);
                self.used.len() - 1
            }
        }
    }
    fn give(&mut self, i: usize) {
        self.used[i] = false;
    }
}

/// What `expand` splices into a network with residual blocks.
pub struct Code {
    /// The body of `Network::forward`.
    pub forward: TokenStream,
    /// The statements of `Network::forward_train`.
    pub train: TokenStream,
    /// The statements of the generated `__backward` (after `__finite` is declared).
    pub backward: TokenStream,
    /// Rows of eval-mode scratch (all slots).
    pub scratch_rows: TokenStream,
    /// Rows of each gradient slot: the widest value.
    pub widest: TokenStream,
    /// Number of gradient slots.
    pub grads: usize,
}

/// Tokens a step needs from `expand`: each layer's `<Ty as Layer<T, I, O>>::method` and
/// value.
pub struct Items<'a> {
    pub forward: &'a [TokenStream],
    pub forward_train: &'a [TokenStream],
    pub backward: &'a [TokenStream],
    pub backward_set: &'a [TokenStream],
    pub backward_finite: &'a [TokenStream],
    pub aux: &'a [proc_macro2::Ident],
}

pub fn code(layers: &[Layer], input: &W, output: &W, items: &Items) -> Code {
    let pv = quote!(::staticnn::__private);
    let join = quote!(::staticnn::layers::Residual);
    let (nodes, _) = tree(layers, 0, 0, None);
    let mut steps = Vec::new();
    ops(&nodes, Val::X, &mut steps);
    let width = |v: Val| -> TokenStream {
        match v {
            Val::X => quote!(#input),
            Val::Out(k) => {
                let w = &layers[k].output;
                quote!(#w)
            }
        }
    };
    let outs: Vec<&W> = layers.iter().map(|l| &l.output).collect();
    let widest = quote!({ #pv::max_width(&[#input #(, #outs)*]) });

    // Eval forward: each value in a slot from the step that writes it to its last reader;
    // the last step writes the returned matrix.
    let last_read = |v: Val, from: usize| -> usize {
        (from..steps.len())
            .rev()
            .find(|&i| steps[i].reads().contains(&v))
            .unwrap_or(from)
    };
    let mut slots = Slots::default();
    let mut slot_of: Vec<Option<usize>> = vec![None; layers.len()];
    let mut forward = Vec::new();
    let view = |v: Val, slot_of: &[Option<usize>]| -> TokenStream {
        match v {
            Val::X => quote!(x),
            Val::Out(k) => {
                let s = format_ident!("__s{}", slot_of[k].expect("written before read"));
                let w = width(v);
                quote!(#pv::front::<T, #w, { __WS - (#w) }, { B }, __WS>(&*#s))
            }
        }
    };
    for (i, op) in steps.iter().enumerate() {
        let o = op.out();
        let last = i == steps.len() - 1;
        let dst = if last {
            quote!(&mut __out)
        } else {
            let s = slots.take();
            slot_of[o] = Some(s);
            let s = format_ident!("__s{s}");
            let w = width(Val::Out(o));
            quote!(#pv::front_mut::<T, #w, { __WS - (#w) }, { B }, __WS>(&mut *#s))
        };
        forward.push(match op {
            Op::Layer { k, src } => {
                let (fwd, v, f) = (&items.forward[*k], &layers[*k].value, &layers[*k].field);
                let src = view(*src, &slot_of);
                quote!(#fwd(&#v, &self.params.#f, &self.state.#f, #src, #dst);)
            }
            Op::Join { body, skip, .. } => {
                let (a, b) = (view(*body, &slot_of), view(*skip, &slot_of));
                quote!(#join::join(#a, #b, #dst);)
            }
        });
        // Values read for the last time here free their slots (once: a sum may read one
        // value twice).
        let mut reads = op.reads();
        reads.dedup();
        for v in reads {
            if let Val::Out(k) = v
                && last_read(v, i) == i
                && let Some(s) = slot_of[k]
            {
                slots.give(s);
            }
        }
    }
    let ns = slots.used.len();
    let slot_names: Vec<_> = (0..ns).map(|i| format_ident!("__s{i}")).collect();
    let forward = quote! {
        const __WS: usize = #widest;
        let mut __s = #pv::zeroed::<[::staticnn::SMatrix<T, __WS, { B }>; #ns]>();
        let mut __out = #pv::zeroed::<::staticnn::SMatrix<T, #output, { B }>>();
        #[allow(unused_variables)]
        let [#(#slot_names),*] = &mut __s;
        #(#forward)*
        __out
    };
    let scratch_rows = quote!({ #ns * #widest });

    // Train forward: every value is in the tape.
    let tape_view = |v: Val| match v {
        Val::X => quote!(x),
        Val::Out(k) => {
            let f = &layers[k].field;
            quote!(&tape.#f)
        }
    };
    let train = steps.iter().map(|op| match op {
        Op::Layer { k, src } => {
            let (fwdt, v, f, a) = (
                &items.forward_train[*k],
                &layers[*k].value,
                &layers[*k].field,
                &items.aux[*k],
            );
            let src = tape_view(*src);
            quote! {
                #fwdt(&#v, &self.params.#f, &mut self.state.#f, #src, &mut tape.#f, &mut tape.#a, rng);
                if BOUND {
                    __bounded &= #pv::params_bounded::<T, _>(&self.params.#f);
                }
            }
        }
        Op::Join { h, body, skip } => {
            let (a, b, f) = (tape_view(*body), tape_view(*skip), &layers[*h].field);
            quote!(#join::join(#a, #b, &mut tape.#f);)
        }
    });
    let train = quote!(#(#train)*);

    // Backward over the tree, gradients in slots of the tape.
    let mut bw = Backward {
        layers,
        items,
        input,
        slots: Slots::default(),
        out: Vec::new(),
    };
    bw.seq(&nodes, Val::X, G::Dy, true, Target::Dx);
    let grads = bw.slots.used.len();
    let gnames: Vec<_> = (0..grads).map(|i| format_ident!("__g{i}")).collect();
    let steps = bw.out;
    let backward = quote! {
        #[allow(unused_variables)]
        let [#(#gnames),*] = &mut tape.__grad;
        #(#steps)*
    };
    Code {
        forward,
        train,
        backward,
        scratch_rows,
        widest,
        grads,
    }
}

/// Where a gradient is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum G {
    /// The caller's `dy`.
    Dy,
    /// A slot of the tape's gradient array.
    Slot(usize),
    /// The caller's `dx` (an `Option`).
    Dx,
}

/// Where an input gradient is to go.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Dx,
    Fresh,
}

struct Backward<'a> {
    layers: &'a [Layer],
    items: &'a Items<'a>,
    input: &'a W,
    slots: Slots,
    out: Vec<TokenStream>,
}

impl Backward<'_> {
    fn width(&self, v: Val) -> TokenStream {
        match v {
            Val::X => {
                let w = self.input;
                quote!(#w)
            }
            Val::Out(k) => {
                let w = &self.layers[k].output;
                quote!(#w)
            }
        }
    }

    fn value(&self, v: Val) -> TokenStream {
        match v {
            Val::X => quote!(x),
            Val::Out(k) => {
                let f = &self.layers[k].field;
                quote!(&tape.#f)
            }
        }
    }

    /// The gradient at `g` of a value of width that of `v`, read-only.
    fn read(&self, g: G, v: Val) -> TokenStream {
        let pv = quote!(::staticnn::__private);
        let w = self.width(v);
        match g {
            G::Dy => quote!(dy),
            G::Slot(i) => {
                let s = format_ident!("__g{i}");
                quote!(#pv::front::<T, #w, { __W - (#w) }, { B }, __W>(&*#s))
            }
            G::Dx => unreachable!("the caller's `dx` is only written"),
        }
    }

    fn write(&self, g: G, v: Val) -> TokenStream {
        let pv = quote!(::staticnn::__private);
        let w = self.width(v);
        match g {
            G::Slot(i) => {
                let s = format_ident!("__g{i}");
                quote!(#pv::front_mut::<T, #w, { __W - (#w) }, { B }, __W>(&mut *#s))
            }
            _ => unreachable!("written through `dx` or a slot"),
        }
    }

    fn free(&mut self, g: G) {
        if let G::Slot(i) = g {
            self.slots.give(i);
        }
    }

    /// Backward through `nodes` fed `input`, from the gradient `dy` of their output (freed
    /// after use unless `keep`); returns where the gradient of `input` is.
    fn seq(&mut self, nodes: &[Node], input: Val, dy: G, keep: bool, target: Target) -> G {
        let mut cur = dy;
        let mut cur_keep = keep;
        for j in (0..nodes.len()).rev() {
            let src = if j == 0 { input } else { out_of(&nodes[j - 1]) };
            let tgt = if j == 0 { target } else { Target::Fresh };
            let next = self.node(&nodes[j], src, cur, tgt);
            if !cur_keep {
                self.free(cur);
            }
            cur = next;
            cur_keep = false;
        }
        cur
    }

    fn node(&mut self, node: &Node, src: Val, dy: G, target: Target) -> G {
        match node {
            Node::Layer(k) => {
                let k = *k;
                let dx_at = match target {
                    Target::Dx => G::Dx,
                    Target::Fresh => G::Slot(self.slots.take()),
                };
                let dx = match dx_at {
                    G::Dx => quote!(dx),
                    g => {
                        let w = self.write(g, src);
                        quote!(::staticnn::__private::Some(#w))
                    }
                };
                let (bwd, bwd_set, bwd_finite) = (
                    &self.items.backward[k],
                    &self.items.backward_set[k],
                    &self.items.backward_finite[k],
                );
                let (v, f, a) = (
                    &self.layers[k].value,
                    &self.layers[k].field,
                    &self.items.aux[k],
                );
                let x = self.value(src);
                let dyv = self.read(dy, Val::Out(k));
                let args = quote!((&#v, &self.params.#f, #x, &tape.#f, &tape.#a, #dyv, #dx, &mut grads.#f));
                self.out.push(quote! {
                    if CHECK {
                        __finite &= #bwd_finite #args;
                    } else if SET {
                        #bwd_set #args
                    } else {
                        #bwd #args
                    }
                });
                dx_at
            }
            Node::Block {
                body, projection, ..
            } => {
                // The gradient of the sum flows unchanged into both paths.
                let skip = match projection {
                    Some(p) => self.seq(p, src, dy, true, Target::Fresh),
                    None => dy,
                };
                let main = if body.is_empty() {
                    dy
                } else {
                    self.seq(body, src, dy, true, Target::Fresh)
                };
                let join = quote!(::staticnn::layers::Residual);
                let fresh = |g: G| matches!(g, G::Slot(_)) && g != dy;
                let result = match target {
                    Target::Dx => {
                        let (a, b) = (self.read(main, src), self.read(skip, src));
                        self.out.push(quote! {
                            if let ::core::option::Option::Some(dx) = dx {
                                #join::join(#a, #b, dx);
                            }
                        });
                        if fresh(main) {
                            self.free(main);
                        }
                        G::Dx
                    }
                    Target::Fresh if fresh(main) => {
                        let (a, b) = (self.write(main, src), self.read(skip, src));
                        self.out.push(quote!(#join::join_grad(#a, #b);));
                        main
                    }
                    Target::Fresh => {
                        let r = G::Slot(self.slots.take());
                        let (a, b, o) = (
                            self.read(main, src),
                            self.read(skip, src),
                            self.write(r, src),
                        );
                        self.out.push(quote!(#join::join(#a, #b, #o);));
                        r
                    }
                };
                if fresh(skip) && skip != main {
                    self.free(skip);
                }
                result
            }
        }
    }
}

/// The value a node produces.
fn out_of(node: &Node) -> Val {
    match node {
        Node::Layer(k) => Val::Out(*k),
        Node::Block { header, .. } => Val::Out(*header),
    }
}
