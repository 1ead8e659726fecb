//! Parsing: the declaration as a syntax tree that keeps the user's tokens.
//!
//! Grammar:
//!
//! ```text
//! decl    := attr* vis 'struct' IDENT '{' entry (',' entry)* ','? '}'
//! entry   := 'input' ':' (width | '[' width (',' width)* ','? ']')   -- [C, L] or [C, H, W]
//!          | 'loss' ':' IDENT args?
//!          | attr* (IDENT ':')? IDENT args?          -- a layer, optionally named
//!          | attr* (IDENT ':')? 'Residual' block     -- a residual block, optionally named
//! block   := '(' layer (',' layer)* ','? (';' 'projection' '=' layer (',' layer)* ','?)? ')'
//! layer   := attr* IDENT args? | 'Residual' block    -- inside a block: unnamed layers
//! args    := '(' (arg (',' arg)* ','?)? ')'
//! arg     := IDENT '=' expr                          -- an option
//!          | width ('->' width)?                     -- widths: output, or input -> output
//!          | type                                    -- only as Custom's first argument
//!          | expr                                    -- only for Dropout: its probability
//! width   := INTEGER | path                          -- a literal or a `const` item
//! ```

use proc_macro2::{Delimiter, Span, TokenTree};
use syn::parse::discouraged::Speculative;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Ident, LitInt, Path, Token, Type, Visibility, braced, parenthesized};

/// The whole declaration.
///
/// Once the network's name is known, a syntax error no longer aborts parsing: it is kept (in
/// `errors`, or in an [`Entry::Broken`] whose tokens are skipped up to the next `,`), and
/// validation reports it together with everything else, so that the fallback still declares
/// the network and code using it adds no errors.
pub struct Decl {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub entries: Vec<Entry>,
    /// Whether the braced body was found; without it, nothing can be said about the entries.
    pub has_body: bool,
    /// Syntax errors outside the entries.
    pub errors: Vec<syn::Error>,
}

/// One comma-separated entry of the body.
pub enum Entry {
    Input {
        key: Ident,
        shape: InputDecl,
    },
    Loss {
        key: Ident,
        kind: Ident,
        args: Option<Args>,
    },
    Layer(LayerDecl),
    /// An entry with a syntax error, and what it was meant to be. Validation reports the
    /// error in its turn, so that errors come in source order.
    Broken(Broken, syn::Error),
}

/// What an [`Entry::Broken`] entry was meant to be.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Broken {
    Input,
    Loss,
    Layer,
}

/// A layer as written.
pub struct LayerDecl {
    pub attrs: Vec<Attribute>,
    pub name: Option<Ident>,
    pub kind: Ident,
    pub args: Option<Args>,
    /// The layers of a `Residual` block (then `args` is `None`).
    pub block: Option<Block>,
}

/// The layers of a `Residual(...)` block as written: its body and, after `;`, its
/// projection. A layer with a syntax error is kept as the error, so that the others are
/// still checked.
pub struct Block {
    pub body: Vec<Result<LayerDecl, syn::Error>>,
    /// `projection = ...`: the `projection` keyword and the layers.
    pub projection: Option<(Ident, Vec<Result<LayerDecl, syn::Error>>)>,
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

/// The network's input as written: a width, or a bracketed shape.
pub enum InputDecl {
    Width(Width),
    /// `[C, L]` or `[C, H, W]` (any count is parsed; validation checks it).
    Shape {
        span: Span,
        dims: Vec<Width>,
    },
}

impl Parse for InputDecl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(syn::token::Bracket) {
            let content;
            let bracket = syn::bracketed!(content in input);
            let dims = content.parse_terminated(Width::parse, Token![,])?;
            Ok(InputDecl::Shape {
                span: bracket.span.join(),
                dims: dims.into_iter().collect(),
            })
        } else {
            Ok(InputDecl::Width(input.parse()?))
        }
    }
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
        let mut errors = Vec::new();
        if input.peek(Token![<]) {
            errors.push(syn::Error::new(
                input.span(),
                "a network takes no generic parameters here; it is generic over its scalar type already",
            ));
            skip_until(
                input,
                |tt| matches!(tt, TokenTree::Group(g) if g.delimiter() == Delimiter::Brace),
            );
        }
        if !input.peek(syn::token::Brace) {
            let span = if input.is_empty() {
                name.span()
            } else {
                input.span()
            };
            errors.push(syn::Error::new(
                span,
                "expected `{` and the network's input and layers after the name",
            ));
            skip_until(input, |_| false);
            return Ok(Decl {
                attrs,
                vis,
                name,
                entries: Vec::new(),
                has_body: false,
                errors,
            });
        }
        let body;
        braced!(body in input);
        let mut entries = Vec::new();
        while !body.is_empty() {
            entries.push(parse_entry(&body));
            if body.is_empty() {
                break;
            }
            if !body.peek(Token![,]) {
                // The tokens up to the next `,` are lost; count them as a broken layer.
                let error = syn::Error::new(body.span(), "expected `,` between entries");
                skip_until(&body, is_comma);
                entries.push(Entry::Broken(Broken::Layer, error));
                if body.is_empty() {
                    break;
                }
            }
            body.parse::<Token![,]>()?;
        }
        if !input.is_empty() {
            errors.push(syn::Error::new(
                input.span(),
                "unexpected tokens after the network's body",
            ));
            skip_until(input, |_| false);
        }
        Ok(Decl {
            attrs,
            vis,
            name,
            entries,
            has_body: true,
            errors,
        })
    }
}

fn is_comma(tt: &TokenTree) -> bool {
    matches!(tt, TokenTree::Punct(p) if p.as_char() == ',')
}

/// Skips token trees up to (not including) the first one for which `stop` holds.
fn skip_until(input: ParseStream, stop: impl Fn(&TokenTree) -> bool) {
    let _ = input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if stop(&tt) {
                break;
            }
            rest = next;
        }
        Ok(((), rest))
    });
}

/// Parses one entry; on a syntax error, skips to the next `,` and returns an
/// [`Entry::Broken`] with the error and what the entry was meant to be.
///
/// The entry is parsed on a fork: a failed parse may leave tokens unread inside a group,
/// which syn would otherwise report once more as "unexpected token" and fail the whole macro.
fn parse_entry(input: ParseStream) -> Entry {
    let mut meant = Broken::Layer;
    let fork = input.fork();
    match parse_entry_inner(&fork, &mut meant) {
        Ok(entry) => {
            input.advance_to(&fork);
            entry
        }
        Err(e) => {
            skip_until(input, is_comma);
            Entry::Broken(meant, e)
        }
    }
}

fn parse_entry_inner(input: ParseStream, meant: &mut Broken) -> syn::Result<Entry> {
    let attrs = input.call(Attribute::parse_outer)?;
    let named = input.peek(Ident) && input.peek2(Token![:]) && !input.peek2(Token![::]);
    let name = if named {
        let key: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        if key == "input" {
            *meant = Broken::Input;
            return Ok(Entry::Input {
                key,
                shape: input.parse()?,
            });
        }
        if key == "loss" {
            *meant = Broken::Loss;
            let kind = parse_kind(input, "a loss, such as `SoftmaxCrossEntropy`")?;
            let args = parse_args(input, &kind)?;
            return Ok(Entry::Loss { key, kind, args });
        }
        Some(key)
    } else {
        None
    };
    let mut layer = parse_layer(input)?;
    layer.attrs = attrs;
    layer.name = name;
    Ok(Entry::Layer(layer))
}

/// A layer without attributes and name: its kind and arguments, or a residual block.
fn parse_layer(input: ParseStream) -> syn::Result<LayerDecl> {
    let kind = parse_kind(input, "a layer, such as `Linear(10)` or `ReLU`")?;
    if kind == "Residual" && input.peek(syn::token::Paren) {
        let content;
        parenthesized!(content in input);
        let block = parse_block(&content)?;
        return Ok(LayerDecl {
            attrs: Vec::new(),
            name: None,
            kind,
            args: None,
            block: Some(block),
        });
    }
    let args = parse_args(input, &kind)?;
    Ok(LayerDecl {
        attrs: Vec::new(),
        name: None,
        kind,
        args,
        block: None,
    })
}

/// The inside of `Residual(...)`: layers, then optionally `; projection = ` and layers.
fn parse_block(input: ParseStream) -> syn::Result<Block> {
    let body = parse_block_layers(input)?;
    let projection = if input.peek(Token![;]) {
        input.parse::<Token![;]>()?;
        let key: Ident = match input.parse() {
            Ok(k) if k == "projection" => k,
            _ => {
                return Err(syn::Error::new(
                    input.span(),
                    "expected `projection = ` and its layers after `;`, as in `; projection = Conv2d(32, kernel = 1, stride = 2)`",
                ));
            }
        };
        input.parse::<Token![=]>()?;
        Some((key, parse_block_layers(input)?))
    } else {
        None
    };
    if !input.is_empty() {
        return Err(syn::Error::new(
            input.span(),
            "expected `,` between the layers of a block, or `; projection = …`",
        ));
    }
    Ok(Block { body, projection })
}

/// Layers separated by `,` up to `;` or the end; each parsed on a fork, so that a syntax
/// error in one is kept and the next is still parsed.
fn parse_block_layers(input: ParseStream) -> syn::Result<Vec<Result<LayerDecl, syn::Error>>> {
    let mut layers = Vec::new();
    while !input.is_empty() && !input.peek(Token![;]) {
        let fork = input.fork();
        let parsed = (|| {
            let attrs = fork.call(Attribute::parse_outer)?;
            let named = fork.peek(Ident) && fork.peek2(Token![:]) && !fork.peek2(Token![::]);
            if named {
                let name: Ident = fork.parse()?;
                return Err(syn::Error::new(
                    name.span(),
                    "a layer inside `Residual` cannot be named; name the block instead (its layers are then keyed `NAME.body.0`, …)",
                ));
            }
            let mut layer = parse_layer(&fork)?;
            layer.attrs = attrs;
            if !fork.is_empty() && !fork.peek(Token![,]) && !fork.peek(Token![;]) {
                return Err(syn::Error::new(
                    fork.span(),
                    "expected `,` between the layers of a block",
                ));
            }
            Ok(layer)
        })();
        match parsed {
            Ok(layer) => {
                input.advance_to(&fork);
                layers.push(Ok(layer));
            }
            Err(e) => {
                skip_until(
                    input,
                    |tt| matches!(tt, TokenTree::Punct(p) if p.as_char() == ',' || p.as_char() == ';'),
                );
                layers.push(Err(e));
            }
        }
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
        }
    }
    Ok(layers)
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
        let is_option =
            content.peek(Ident) && content.peek2(Token![=]) && !content.peek2(Token![==]);
        let item = if is_option {
            let key: Ident = content.parse()?;
            content.parse::<Token![=]>()?;
            Arg::Option {
                key,
                value: content.parse()?,
            }
        } else if kind == "Dropout" {
            // `Dropout(0.5)`, `Dropout(P)`: a positional argument is the drop probability
            // (a dropout keeps its input's width, so it needs no width).
            let value: syn::Expr = content.parse()?;
            Arg::Option {
                key: Ident::new("p", syn::spanned::Spanned::span(&value)),
                value,
            }
        } else if kind == "Custom" && items.is_empty() {
            Arg::Type(content.parse()?)
        } else {
            let first: Width = content.parse()?;
            if content.peek(Token![->]) {
                content.parse::<Token![->]>()?;
                Arg::Widths {
                    input: Some(first),
                    output: content.parse()?,
                }
            } else {
                Arg::Widths {
                    input: None,
                    output: first,
                }
            }
        };
        items.push(item);
        if content.is_empty() {
            break;
        }
        if !content.peek(Token![,]) {
            return Err(syn::Error::new(
                content.span(),
                "expected `,` between arguments",
            ));
        }
        content.parse::<Token![,]>()?;
    }
    Ok(Some(Args {
        span: paren.span.join(),
        items,
    }))
}

impl Parse for Width {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(LitInt) {
            Ok(Width::Lit(input.parse()?))
        } else if input.peek(Ident)
            || input.peek(Token![::])
            || input.peek(Token![crate])
            || input.peek(Token![self])
            || input.peek(Token![super])
        {
            Ok(Width::Path(input.parse()?))
        } else {
            Err(syn::Error::new(
                input.span(),
                "expected a width: an integer literal such as `64` or the name of a `const` item",
            ))
        }
    }
}
