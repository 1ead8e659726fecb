//! Option values as written in a layer's arguments: numbers, sizes and initialisation
//! schemes, with the messages for values that are not what the option takes.

use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit, UnOp};

use crate::shape::W;
use crate::validate::Errors;

/// Options given to a layer, each used at most once.
pub struct Options<'a> {
    pub kind: &'a Ident,
    pub allowed: &'static [&'static str],
    pub given: Vec<(&'a Ident, &'a Expr)>,
}

impl<'a> Options<'a> {
    pub fn take(&mut self, key: &str) -> Option<(&'a Ident, &'a Expr)> {
        let pos = self.given.iter().position(|(k, _)| *k == key)?;
        Some(self.given.remove(pos))
    }
}

/// "; did you mean `X`?" for a name that differs from a known one only in case, or the list
/// of known names.
pub fn suggest(name: &Ident, known: &[&str]) -> String {
    let name = name.to_string();
    match known.iter().find(|k| k.eq_ignore_ascii_case(&name)) {
        Some(k) => format!("; did you mean `{k}`?"),
        None => format!("; expected one of {}", list(known)),
    }
}

pub fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A size option (`stride = 2`, `kernel = (3, 5)`): `n` sizes, each a literal or a `const`
/// item; a single value stands for all `n`. `min` is the smallest value allowed (0 for
/// padding, 1 otherwise). `None` (with an error pushed) when the value is not such.
pub fn sizes(e: &Expr, key: &str, n: usize, min: usize, errors: &mut Errors) -> Option<Vec<W>> {
    let one = |e: &Expr, errors: &mut Errors| -> Option<W> {
        match e {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Int(l), ..
            }) => match l.base10_parse::<usize>() {
                Ok(v) if v >= min && (l.suffix().is_empty() || l.suffix() == "usize") => {
                    Some(W::Known(v))
                }
                Ok(v) if v < min => {
                    errors.push(l.span(), format!("`{key}` must be at least {min}, not {v}"));
                    None
                }
                _ => {
                    errors.push(
                        l.span(),
                        format!("`{key}` must be a whole number, as in `{key} = 2`"),
                    );
                    None
                }
            },
            Expr::Path(p) => Some(W::Expr(p.path.to_token_stream())),
            _ => {
                errors.push(
                    e.span(),
                    format!("`{key}` must be a whole number or the name of a `const` item"),
                );
                None
            }
        }
    };
    match e {
        Expr::Tuple(t) if n > 1 => {
            if t.elems.len() != n {
                let example = match n {
                    2 => "(3, 5)",
                    _ => "(3, 3, 3)",
                };
                errors.push(
                    t.span(),
                    format!("`{key}` takes one size or {n}, as in `{key} = {example}`"),
                );
                return None;
            }
            let v: Vec<Option<W>> = t.elems.iter().map(|e| one(e, errors)).collect();
            v.into_iter().collect()
        }
        Expr::Tuple(t) => {
            errors.push(
                t.span(),
                format!("`{key}` takes one size here, as in `{key} = 3`"),
            );
            None
        }
        Expr::Paren(p) => sizes(&p.expr, key, n, min, errors),
        e => one(e, errors).map(|w| vec![w; n]),
    }
}

/// A floating-point option that must be positive (or, with `unit`, lie in `(0, 1]`) when
/// it is a literal.
pub fn positive(
    opts: &mut Options,
    key: &str,
    default: f64,
    unit: bool,
    errors: &mut Errors,
) -> TokenStream {
    match opts.take(key) {
        Some((_, e)) => {
            if let Some(Ok(v)) = literal_f64(e)
                && (v <= 0.0 || (unit && v > 1.0))
            {
                let range = if unit { "in (0, 1]" } else { "positive" };
                errors.push(e.span(), format!("`{key}` must be {range}, not {v}"));
            }
            float(e, errors)
        }
        None => Literal::f64_suffixed(default).into_token_stream(),
    }
}

/// A floating-point option: a number literal (optionally negated) or a `const` item of
/// type `f64`.
pub fn float(e: &Expr, errors: &mut Errors) -> TokenStream {
    match literal_f64(e) {
        Some(Ok(v)) => Literal::f64_suffixed(v).into_token_stream(),
        Some(Err(())) => {
            errors.push(
                e.span(),
                "expected a number, such as `0.1`, or the name of a `const` item",
            );
            quote!(0.0f64)
        }
        None => match e {
            Expr::Path(p) => quote_spanned!(p.span()=> ::staticnn::__private::float_option(#p)),
            _ => {
                errors.push(
                    e.span(),
                    "expected a number, such as `0.1`, or the name of a `const` item",
                );
                quote!(0.0f64)
            }
        },
    }
}

/// The value of a (possibly negated) number literal; `None` when `e` is not a literal.
pub fn literal_f64(e: &Expr) -> Option<Result<f64, ()>> {
    match e {
        Expr::Lit(l) => match &l.lit {
            Lit::Float(f) => Some(f.base10_parse::<f64>().map_err(|_| ())),
            Lit::Int(i) => Some(i.base10_parse::<f64>().map_err(|_| ())),
            _ => Some(Err(())),
        },
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => {
            literal_f64(&u.expr).map(|r| r.map(|v| -v))
        }
        Expr::Paren(p) => literal_f64(&p.expr),
        _ => None,
    }
}

const INITS: &[&str] = &[
    "zeros",
    "constant(c)",
    "uniform(lo, hi)",
    "normal(mean, std)",
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "lecun_normal",
    "torch_default",
];

/// Every name `init` accepts, aliases included.
const INIT_NAMES: &[&str] = &[
    "zeros",
    "constant",
    "uniform",
    "normal",
    "xavier_uniform",
    "glorot_uniform",
    "xavier_normal",
    "glorot_normal",
    "he_uniform",
    "kaiming_uniform",
    "he_normal",
    "kaiming_normal",
    "lecun_normal",
    "torch_default",
];

/// "; did you mean …?" for an unknown initialisation that differs from a known one in case
/// or is the start of known ones (`kaiming`, `he`), or the list of schemes.
pub fn suggest_init(name: &Ident) -> String {
    let name = name.to_string().to_lowercase();
    let close: Vec<String> = INIT_NAMES
        .iter()
        .filter(|n| **n == name || n.starts_with(&format!("{name}_")))
        .map(|n| format!("`{n}`"))
        .collect();
    match close.as_slice() {
        [] => format!("; expected one of {}", list(INITS)),
        [one] => format!("; did you mean {one}?"),
        [first @ .., last] => format!("; did you mean {} or {last}?", first.join(", ")),
    }
}

/// An initialisation scheme: `he_normal`, `he_normal(slope = 0.1)`, `normal(0.0, 0.01)`, …
pub fn init(e: &Expr, errors: &mut Errors) -> TokenStream {
    let (name, args): (&Ident, Vec<&Expr>) = match e {
        Expr::Path(p) if p.path.get_ident().is_some() => (p.path.get_ident().unwrap(), Vec::new()),
        Expr::Call(c) => match &*c.func {
            Expr::Path(p) if p.path.get_ident().is_some() => {
                (p.path.get_ident().unwrap(), c.args.iter().collect())
            }
            _ => {
                errors.push(
                    e.span(),
                    format!("expected an initialisation scheme: one of {}", list(INITS)),
                );
                return quote!(::staticnn::Init::Zeros);
            }
        },
        _ => {
            errors.push(
                e.span(),
                format!("expected an initialisation scheme: one of {}", list(INITS)),
            );
            return quote!(::staticnn::Init::Zeros);
        }
    };
    // Arguments may be positional or named (`gain = 1.0`); names must match.
    let arg = |i: usize, key: &str, default: Option<f64>, errors: &mut Errors| -> TokenStream {
        match args.get(i) {
            Some(Expr::Assign(a)) => {
                let ok = matches!(&*a.left, Expr::Path(p) if p.path.is_ident(key));
                if !ok {
                    errors.push(a.left.span(), format!("`{name}` takes `{key}` here"));
                }
                float(&a.right, errors)
            }
            Some(v) => float(v, errors),
            None => match default {
                Some(d) => Literal::f64_suffixed(d).into_token_stream(),
                None => {
                    let usage = INITS
                        .iter()
                        .find(|i| i.starts_with(&format!("{name}(")))
                        .unwrap_or(&"");
                    errors.push(e.span(), format!("`{name}` needs `{key}`, as in `{usage}`"));
                    quote!(0.0f64)
                }
            },
        }
    };
    let (ts, max_args) = match name.to_string().as_str() {
        "zeros" => (quote!(::staticnn::Init::Zeros), 0),
        "constant" => {
            let c = arg(0, "value", None, errors);
            (quote!(::staticnn::Init::Constant(#c)), 1)
        }
        "uniform" => {
            let (lo, hi) = (arg(0, "lo", None, errors), arg(1, "hi", None, errors));
            (quote!(::staticnn::Init::Uniform { lo: #lo, hi: #hi }), 2)
        }
        "normal" => {
            let (mean, std) = (arg(0, "mean", None, errors), arg(1, "std", None, errors));
            (
                quote!(::staticnn::Init::Normal { mean: #mean, std: #std }),
                2,
            )
        }
        "xavier_uniform" | "glorot_uniform" => {
            let gain = arg(0, "gain", Some(1.0), errors);
            (quote!(::staticnn::Init::XavierUniform { gain: #gain }), 1)
        }
        "xavier_normal" | "glorot_normal" => {
            let gain = arg(0, "gain", Some(1.0), errors);
            (quote!(::staticnn::Init::XavierNormal { gain: #gain }), 1)
        }
        "he_uniform" | "kaiming_uniform" => {
            let slope = arg(0, "slope", Some(0.0), errors);
            (quote!(::staticnn::Init::HeUniform { slope: #slope }), 1)
        }
        "he_normal" | "kaiming_normal" => {
            let slope = arg(0, "slope", Some(0.0), errors);
            (quote!(::staticnn::Init::HeNormal { slope: #slope }), 1)
        }
        "lecun_normal" => (quote!(::staticnn::Init::LecunNormal), 0),
        "torch_default" => (quote!(::staticnn::Init::TorchDefault), 0),
        _ => {
            errors.push(
                name.span(),
                format!("unknown initialisation `{name}`{}", suggest_init(name)),
            );
            return quote!(::staticnn::Init::Zeros);
        }
    };
    if args.len() > max_args {
        errors.push(
            args[max_args].span(),
            format!("`{name}` takes at most {max_args} argument(s)"),
        );
    }
    ts
}
