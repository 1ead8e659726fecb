//! What to emit when validation fails: the errors, plus a stand-in for the declared network
//! so that code using it adds no errors of its own: no "cannot find type", and no "no
//! function `new`" either.
//!
//! The stand-in has the declared name, the input and output widths and the loss as far as
//! they can be made out (see [`validate::shape`]), and implements `Network` (and, with a
//! known loss, `Supervised`) with bodies that never run, since the crate does not compile.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::Decl;
use crate::validate::{self, Outline};

pub fn fallback(decl: &Decl, errors: syn::Error) -> TokenStream {
    let errors = errors.into_compile_error();
    let Decl {
        attrs, vis, name, ..
    } = decl;
    let Outline {
        input,
        output,
        loss,
    } = validate::outline(decl);
    // A derive is itself a mistake (see `validate`); leave it out so it is reported once.
    let attrs = attrs.iter().filter(|a| !a.path().is_ident("derive"));
    let sn = quote!(::staticnn);
    let pv = quote!(::staticnn::__private);
    let shaped = crate::expand::shaped(vis, name, &input, &output, loss.as_ref());
    let supervised = loss.map(|loss| {
        quote! {
            impl<T: #sn::Scalar> #sn::Supervised<T, #input, #output> for #name<T> {
                type Loss = #loss;
            }
        }
    });
    quote! {
        #errors

        #shaped

        #(#attrs)*
        #[derive(Clone, Copy, Debug, PartialEq)]
        #vis struct #name<T: #sn::Scalar = f32>(#pv::PhantomData<T>);

        #[allow(unsafe_code, unused_braces, unused_variables, clippy::all)]
        const _: () = {
            // SAFETY: a zero-sized `Copy` struct; never used, as the crate does not compile.
            unsafe impl<T: #sn::Scalar> #pv::Zeroable for #name<T> {}
            unsafe impl<T: #sn::Scalar> #pv::Pod for #name<T> {}

            impl<T: #sn::Scalar> #sn::Network<T, #input, #output> for #name<T> {
                type Params = ();
                type State = ();
                type Tape<const B: usize> = ();
                const NAME: &'static str = "";
                const LAYERS: &'static [#sn::LayerInfo] = &[];
                fn params(&self) -> &() {
                    &()
                }
                fn params_mut(&mut self) -> &mut () {
                    ::core::unreachable!()
                }
                fn state(&self) -> &() {
                    &()
                }
                fn state_mut(&mut self) -> &mut () {
                    ::core::unreachable!()
                }
                fn init_with<D: #sn::init::Draw, R: #pv::Rng + ?Sized>(&mut self, draw: D, rng: &mut R) {}
                fn forward<const B: usize>(&self, x: &#sn::SMatrix<T, #input, B>) -> #sn::SMatrix<T, #output, B> {
                    ::core::unreachable!()
                }
                fn forward_train<'t, const B: usize, R: #pv::Rng + ?Sized>(
                    &mut self,
                    x: &#sn::SMatrix<T, #input, B>,
                    tape: &'t mut (),
                    rng: &mut R,
                ) -> &'t #sn::SMatrix<T, #output, B> {
                    ::core::unreachable!()
                }
                fn backward<const B: usize>(
                    &self,
                    x: &#sn::SMatrix<T, #input, B>,
                    tape: &mut (),
                    dy: &#sn::SMatrix<T, #output, B>,
                    grads: &mut (),
                    dx: ::core::option::Option<&mut #sn::SMatrix<T, #input, B>>,
                ) {
                }
                fn output<const B: usize>(tape: &()) -> &#sn::SMatrix<T, #output, B> {
                    ::core::unreachable!()
                }
            }

            #supervised
        };

        #[allow(dead_code, unused_braces, clippy::all)]
        impl<T: #sn::Scalar> #name<T> {
            pub const fn zeroed() -> Self {
                Self(#pv::PhantomData)
            }
            pub const INPUT: usize = #input;
            pub const OUTPUT: usize = #output;
            pub const PARAMS: usize = 0;
            pub const FLOPS: usize = 0;
            pub const PARAM_BYTES: usize = 0;
            pub const STATE_BYTES: usize = 0;
            pub const WIDEST: usize = 0;
            pub const SCRATCH: usize = 0;
            pub const fn tape_bytes<const B: usize>() -> usize {
                0
            }
            pub const fn scratch_bytes<const B: usize>() -> usize {
                0
            }
        }
    }
}
