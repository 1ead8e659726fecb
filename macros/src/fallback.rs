//! What to emit when validation fails: the errors, plus a minimal struct of the declared
//! name so that code using the network does not add a cascade of "cannot find type" errors.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::Decl;

pub fn fallback(decl: &Decl, errors: syn::Error) -> TokenStream {
    let errors = errors.into_compile_error();
    let Decl { attrs, vis, name, .. } = decl;
    let docs = attrs.iter().filter(|a| a.path().is_ident("doc"));
    quote! {
        #errors
        #(#docs)*
        #vis struct #name<T = f32>(::core::marker::PhantomData<T>);
    }
}
