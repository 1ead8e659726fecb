//! The `network!` proc macro of [staticnn](https://docs.rs/staticnn). Use it through the
//! `staticnn` crate, which documents the DSL.
//!
//! The macro is a pipeline with one module per stage: `ast` parses the declaration into a
//! syntax tree that keeps the user's tokens (for spans), `validate` checks it and resolves
//! every width into a `validate::Plan`, and `expand` writes the Rust code. When
//! a network has batch norm or dropout, `inference` also writes its inference-only form. `int8` writes the int8 twin (`NameInt8`, `quantize`). When
//! validation fails, `fallback` emits the errors together with a minimal struct so that one
//! mistake gives one error, not a cascade.

use proc_macro::TokenStream;

mod ast;
mod catalogue;
mod expand;
mod fallback;
#[cfg(test)]
mod growth;
mod inference;
mod int8;
mod options;
mod residual;
mod shape;
mod validate;

/// Declares a neural network; see the `staticnn` crate for the DSL.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    let decl = syn::parse_macro_input!(input as ast::Decl);
    match validate::plan(&decl) {
        Ok(plan) => expand::expand(&plan),
        Err(errors) => fallback::fallback(&decl, errors),
    }
    .into()
}
