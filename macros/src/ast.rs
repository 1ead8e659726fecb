//! Parsing: the declaration as a syntax tree that keeps the user's tokens.
//!
//! Grammar:
//!
//! ```text
//! decl    := attr* vis 'struct' IDENT '{' entry (',' entry)* ','? '}'
//! entry   := 'input' ':' width
//!          | 'loss' ':' IDENT args?
//!          | attr* (IDENT ':')? IDENT args?          -- a layer, optionally named
//! args    := '(' (arg (',' arg)* ','?)? ')'
//! arg     := IDENT '=' expr                          -- an option
//!          | width ('->' width)?                     -- widths: output, or input -> output
//!          | type                                    -- only as Custom's first argument
//! width   := INTEGER | path                          -- a literal or a `const` item
//! ```

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Ident, LitInt, Path, Token, Type, Visibility, braced, parenthesized};

/// The whole declaration.
pub struct Decl {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub entries: Vec<Entry>,
}

/// One comma-separated entry of the body.
pub enum Entry {
    Input { key: Ident, width: Width },
    Loss { key: Ident, kind: Ident, args: Option<Args> },
    Layer(LayerDecl),
}

/// A layer as written.
pub struct LayerDecl {
    pub attrs: Vec<Attribute>,
    pub name: Option<Ident>,
    pub kind: Ident,
    pub args: Option<Args>,
}

/// A parenthesised argument list.
pub struct Args {
    pub span: Span,
    pub items: Vec<Arg>,
}

/// One argument.
pub enum Arg {
    Option { key: Ident, value: Expr },
    Widths { input: Option<Width>, output: Width },
    Type(Type),
}

/// A width as written.
#[derive(Clone)]
pub enum Width {
    Lit(LitInt),
    Path(Path),
}

impl Width {
    pub fn span(&self) -> Span {
        match self {
            Width::Lit(l) => l.span(),
            Width::Path(p) => p.span(),
        }
    }
}

impl Parse for Decl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let lookahead = input.lookahead1();
        if !lookahead.peek(Token![struct]) {
            return Err(syn::Error::new(
                input.span(),
                "expected `struct NAME { ... }`, as in `network! { pub struct Net { input: 4, Linear(2) } }`",
            ));
        }
        input.parse::<Token![struct]>()?;
        let name: Ident = input.parse()?;
        if input.peek(Token![<]) {
            return Err(syn::Error::new(
                input.span(),
                "a network takes no generic parameters here; it is generic over its scalar type already",
            ));
        }
        if !input.peek(syn::token::Brace) {
            return Err(syn::Error::new(input.span(), "expected `{` and the network's layers"));
        }
        let body;
        braced!(body in input);
        let mut entries = Vec::new();
        while !body.is_empty() {
            entries.push(body.parse()?);
            if body.is_empty() {
                break;
            }
            if !body.peek(Token![,]) {
                return Err(syn::Error::new(body.span(), "expected `,` between entries"));
            }
            body.parse::<Token![,]>()?;
        }
        if !input.is_empty() {
            return Err(syn::Error::new(input.span(), "unexpected tokens after the network's body"));
        }
        Ok(Decl { attrs, vis, name, entries })
    }
}

impl Parse for Entry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let named = input.peek(Ident) && input.peek2(Token![:]) && !input.peek2(Token![::]);
        let name = if named {
            let key: Ident = input.parse()?;
            input.parse::<Token![:]>()?;
            if key == "input" {
                return Ok(Entry::Input { key, width: input.parse()? });
            }
            if key == "loss" {
                let kind = parse_kind(input, "a loss, such as `SoftmaxCrossEntropy`")?;
                let args = parse_args(input, &kind)?;
                return Ok(Entry::Loss { key, kind, args });
            }
            Some(key)
        } else {
            None
        };
        let kind = parse_kind(input, "a layer, such as `Linear(10)` or `ReLU`")?;
        let args = parse_args(input, &kind)?;
        Ok(Entry::Layer(LayerDecl { attrs, name, kind, args }))
    }
}

fn parse_kind(input: ParseStream, what: &str) -> syn::Result<Ident> {
    if input.peek(Ident) {
        input.parse()
    } else {
        Err(syn::Error::new(input.span(), format!("expected {what}")))
    }
}

fn parse_args(input: ParseStream, kind: &Ident) -> syn::Result<Option<Args>> {
    if !input.peek(syn::token::Paren) {
        return Ok(None);
    }
    let content;
    let paren = parenthesized!(content in input);
    let mut items = Vec::new();
    while !content.is_empty() {
        let is_option = content.peek(Ident) && content.peek2(Token![=]) && !content.peek2(Token![==]);
        let item = if is_option {
            let key: Ident = content.parse()?;
            content.parse::<Token![=]>()?;
            Arg::Option { key, value: content.parse()? }
        } else if kind == "Custom" && items.is_empty() {
            Arg::Type(content.parse()?)
        } else {
            let first: Width = content.parse()?;
            if content.peek(Token![->]) {
                content.parse::<Token![->]>()?;
                Arg::Widths { input: Some(first), output: content.parse()? }
            } else {
                Arg::Widths { input: None, output: first }
            }
        };
        items.push(item);
        if content.is_empty() {
            break;
        }
        if !content.peek(Token![,]) {
            return Err(syn::Error::new(content.span(), "expected `,` between arguments"));
        }
        content.parse::<Token![,]>()?;
    }
    Ok(Some(Args { span: paren.span.join(), items }))
}

impl Parse for Width {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(LitInt) {
            Ok(Width::Lit(input.parse()?))
        } else if input.peek(Ident) || input.peek(Token![::]) || input.peek(Token![crate]) || input.peek(Token![self]) || input.peek(Token![super]) {
            Ok(Width::Path(input.parse()?))
        } else {
            Err(syn::Error::new(
                input.span(),
                "expected a width: an integer literal such as `64` or the name of a `const` item",
            ))
        }
    }
}
