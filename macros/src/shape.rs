//! Sizes and shapes as the macro carries them between layers.
//!
//! A size ([`W`]) is a number the macro knows, or a `const` expression it writes for the
//! compiler to evaluate (a size given by a `const` item, or computed from one). A [`Shape`]
//! is what flows from layer to layer: a flat width, a 1-D `[C, L]` or a 2-D `[C, H, W]`; at
//! run time every shape is one column of `C·L` or `C·H·W` scalars in PyTorch's order.

use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens, quote};

use crate::ast::Width;
use crate::validate::Errors;

/// A size resolved to tokens that can stand in a const-generic position.
#[derive(Clone)]
pub enum W {
    Known(usize),
    /// A `const` expression (a path to a `const` item, or arithmetic on such sizes), written
    /// braced wherever it is used.
    Expr(TokenStream),
}

impl W {
    /// The width as written; `None` (with an error pushed) when it is not a valid width.
    pub fn of(w: &Width, errors: &mut Errors) -> Option<W> {
        match w {
            Width::Lit(l) => match l.base10_parse::<usize>() {
                Ok(0) => {
                    errors.push(l.span(), "a width must be at least 1");
                    None
                }
                Err(_) if l.base10_digits().starts_with('-') => {
                    errors.push(l.span(), "a width must be at least 1");
                    None
                }
                Ok(n) if l.suffix().is_empty() || l.suffix() == "usize" => Some(W::Known(n)),
                Ok(_) => {
                    errors.push(
                        l.span(),
                        "write a width without a type suffix, or with `usize`",
                    );
                    None
                }
                Err(_) => {
                    errors.push(l.span(), "this width does not fit in a `usize`");
                    None
                }
            },
            Width::Path(p) => Some(W::Expr(quote!(#p))),
        }
    }

    pub fn known(&self) -> Option<usize> {
        match self {
            W::Known(n) => Some(*n),
            W::Expr(_) => None,
        }
    }

    /// The product of sizes: a number when every factor is known.
    pub fn product(factors: &[&W]) -> W {
        let known: Option<usize> = factors
            .iter()
            .try_fold(1usize, |acc, f| acc.checked_mul(f.known()?));
        match known {
            Some(n) => W::Known(n),
            None => {
                let fs = factors.iter();
                W::Expr(quote!(1 #( * #fs )*))
            }
        }
    }

    /// How the size reads in a message: the number, or the expression as written.
    pub fn describe(&self) -> String {
        match self {
            W::Known(n) => n.to_string(),
            W::Expr(e) => e.to_string().replace(' ', ""),
        }
    }
}

impl ToTokens for W {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            W::Known(n) => Literal::usize_unsuffixed(*n).to_tokens(tokens),
            // Parenthesised, so that a block at the start of the expression (`{ C } / 2`) is
            // read as an operand, not as a statement.
            W::Expr(e) => quote!({ (#e) }).to_tokens(tokens),
        }
    }
}

/// What flows between layers.
#[derive(Clone)]
pub enum Shape {
    /// `N` features.
    Flat(W),
    /// `[C, L]`: `C` channels of length `L` (a sequence).
    Seq([W; 2]),
    /// `[C, H, W]`: `C` channels of `H` rows and `W` columns (an image).
    Image([W; 3]),
}

impl Shape {
    /// The number of scalars of one sample: the height of the batch matrix.
    pub fn width(&self) -> W {
        match self {
            Shape::Flat(w) => w.clone(),
            Shape::Seq(d) => W::product(&[&d[0], &d[1]]),
            Shape::Image(d) => W::product(&[&d[0], &d[1], &d[2]]),
        }
    }

    /// The channels of a sequence or image.
    pub fn channels(&self) -> Option<&W> {
        match self {
            Shape::Flat(_) => None,
            Shape::Seq(d) => Some(&d[0]),
            Shape::Image(d) => Some(&d[0]),
        }
    }

    /// The spatial sizes of a sequence (`[L]`) or image (`[H, W]`).
    pub fn spatial(&self) -> &[W] {
        match self {
            Shape::Flat(_) => &[],
            Shape::Seq(d) => &d[1..],
            Shape::Image(d) => &d[1..],
        }
    }

    /// A shape of the same kind with `channels` and `spatial` sizes.
    pub fn with(&self, channels: W, spatial: &[W]) -> Shape {
        match self {
            Shape::Flat(_) => Shape::Flat(channels),
            Shape::Seq(_) => Shape::Seq([channels, spatial[0].clone()]),
            Shape::Image(_) => Shape::Image([channels, spatial[0].clone(), spatial[1].clone()]),
        }
    }

    /// How the shape reads in a message: `64`, `[8, 12]`, `[8, 4, 4]`.
    pub fn describe(&self) -> String {
        let dims = |d: &[W]| {
            let parts: Vec<String> = d.iter().map(W::describe).collect();
            format!("[{}]", parts.join(", "))
        };
        match self {
            Shape::Flat(w) => w.describe(),
            Shape::Seq(d) => dims(d),
            Shape::Image(d) => dims(d),
        }
    }

    /// The width of the shape as a product that shows its factors: `8 × 4 × 4 = 128`.
    pub fn describe_width(&self) -> String {
        let d: &[W] = match self {
            Shape::Flat(w) => return w.describe(),
            Shape::Seq(d) => d,
            Shape::Image(d) => d,
        };
        let parts: Vec<String> = d.iter().map(W::describe).collect();
        format!("{} = {}", parts.join(" × "), self.width().describe())
    }

    /// The tokens of the shape's dimensions as written in `LayerInfo` (`&[C, H, W]`).
    pub fn dims_tokens(&self) -> TokenStream {
        match self {
            Shape::Flat(w) => quote!(&[#w]),
            Shape::Seq([c, l]) => quote!(&[#c, #l]),
            Shape::Image([c, h, w]) => quote!(&[#c, #h, #w]),
        }
    }
}
