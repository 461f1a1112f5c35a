//! Phase 2: refuse functions that cannot be called from another node, and say why.
//!
//! A call travels as bytes: the caller encodes the arguments, the callee decodes them,
//! runs the function and encodes the result. So everything in the signature must be
//! plain data of one exact type. Each rule below is one way a signature can break that,
//! and each message says what to write instead. Whether a type is actually serde data is
//! left to rustc (see the `Remote` bounds in `expand.rs`); here we catch what rustc would
//! only report as a confusing trait error, or not at all.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::visit::{self, Visit};
use syn::{
    Attribute, FnArg, Generics, Ident, ItemFn, Lifetime, Pat, ReturnType, Type, TypeParamBound,
};

use crate::diag::Diagnostics;

/// Checks everything about `function` and records every problem found.
pub fn function(function: &ItemFn, diag: &mut Diagnostics) {
    exported_twice(&function.attrs, diag);
    let sig = &function.sig;
    if let Some(unsafety) = &sig.unsafety {
        diag.error_spanned_by(
            unsafety,
            "exported functions cannot be `unsafe`: a caller on another node cannot keep its \
             safety rules; export a safe function that checks them and calls this one",
        );
    }
    if let Some(variadic) = &sig.variadic {
        diag.error_spanned_by(
            variadic,
            "exported functions cannot take a variable number of arguments (`...`)",
        );
    }
    generics(&sig.generics, diag);
    name(&sig.ident, diag);

    // With a receiver the function is a method; saying so once is enough, so `Self`
    // elsewhere in its signature is not reported again.
    let is_method = sig
        .inputs
        .iter()
        .any(|input| matches!(input, FnArg::Receiver(_)));
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => diag.error_spanned_by(
                receiver,
                "exported functions cannot take `self`: the node holds no object for callers \
                 to use; export a free function (outside the `impl` block) that takes the \
                 data it needs as arguments",
            ),
            FnArg::Typed(arg) => {
                let position = Position::Argument(arg_name(&arg.pat));
                data_type(&arg.ty, &position, is_method, diag);
            }
        }
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        data_type(ty, &Position::Result, is_method, diag);
    }
}

/// Two `#[wtd_export]` on one function would register it twice; the second is still on
/// the item when the first expands.
fn exported_twice(attrs: &[Attribute], diag: &mut Diagnostics) {
    for attr in attrs {
        let is_export = attr
            .path()
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "wtd_export");
        if is_export {
            diag.error_spanned_by(
                attr,
                "this function is already exported: one `#[wtd_export(..)]` per function",
            );
        }
    }
}

fn generics(generics: &Generics, diag: &mut Diagnostics) {
    if !generics.params.is_empty() {
        let only_lifetimes =
            generics.type_params().next().is_none() && generics.const_params().next().is_none();
        let message = if only_lifetimes {
            "exported functions cannot have lifetime parameters: arguments travel to another \
             node by value, so they cannot borrow; use owned types like `String` and `Vec<T>`"
        } else {
            GENERIC
        };
        diag.error_spanned_by(generics, message);
    } else if let Some(where_clause) = &generics.where_clause {
        diag.error_spanned_by(where_clause, GENERIC);
    }
}

const GENERIC: &str = "exported functions cannot be generic: the calling node must know the \
                       exact types to encode the arguments and decode the result; write one \
                       function per type (like `add_i64` and `add_f64`)";

/// The name travels on the wire, where function names are 1–64 ASCII characters
/// (`wtd::wire::check_function`).
fn name(ident: &Ident, diag: &mut Diagnostics) {
    let name = ident.unraw().to_string();
    if !name.is_ascii() {
        diag.error_spanned_by(
            ident,
            format!(
                "function names travel on the wire as ASCII: rename `{name}` using only \
                 a-z, A-Z, 0-9 and _"
            ),
        );
    } else if name.len() > 64 {
        diag.error_spanned_by(
            ident,
            format!(
                "function names travel on the wire and are at most 64 characters; this one \
                 has {}",
                name.len()
            ),
        );
    }
}

/// Where a type appears, for the wording of messages.
enum Position {
    /// An argument, with its name when the pattern is a plain identifier.
    Argument(Option<String>),
    Result,
}

/// "`f`" or "this argument": the subject of a sentence about an argument.
fn subject(name: Option<&str>) -> String {
    match name {
        Some(name) => format!("`{name}`"),
        None => "this argument".to_string(),
    }
}

fn arg_name(pat: &Pat) -> Option<String> {
    match pat {
        Pat::Ident(pat) => Some(pat.ident.unraw().to_string()),
        _ => None,
    }
}

/// Checks one argument or result type.
///
/// A function anywhere in the type (`Box<dyn Fn()>`, `Vec<fn()>`, `&dyn Fn()`) is the
/// real mistake and outranks everything else in it, so it is reported alone, on the
/// whole type. Otherwise every reference, `impl Trait`, borrowed lifetime and `Self`
/// inside is reported on its own token.
fn data_type(ty: &Type, position: &Position, is_method: bool, diag: &mut Diagnostics) {
    let mut finder = FunctionFinder::default();
    finder.visit_type(ty);
    if let Some(kind) = finder.found {
        diag.error_spanned_by(ty, function_message(kind, position));
        return;
    }
    let mut finder = NotDataFinder {
        position,
        report_self: !is_method,
        diag,
    };
    finder.visit_type(ty);
}

/// What function hides in `ty`, if any: "a function (closure)" or "a function pointer".
/// Also used on the message types of a behaviour (`behaviour_check.rs`).
pub fn function_in(ty: &Type) -> Option<&'static str> {
    let mut finder = FunctionFinder::default();
    finder.visit_type(ty);
    finder.found.map(|kind| match kind {
        FunctionKind::Closure => "a function (closure)",
        FunctionKind::Pointer => "a function pointer",
    })
}

#[derive(Clone, Copy)]
enum FunctionKind {
    Closure,
    Pointer,
}

fn function_message(kind: FunctionKind, position: &Position) -> String {
    let what = match kind {
        FunctionKind::Closure => "a function (closure)",
        FunctionKind::Pointer => "a function pointer",
    };
    match position {
        Position::Argument(name) => format!(
            "{} is {what}; functions cannot be sent to another node: pass data instead, or \
             export that function too and send its name",
            subject(name.as_deref())
        ),
        Position::Result => format!(
            "this function returns {what}; functions cannot be sent back from another node: \
             return data instead"
        ),
    }
}

/// Finds the first closure type (`impl Fn..`, `dyn Fn..`) or function pointer in a type.
#[derive(Default)]
struct FunctionFinder {
    found: Option<FunctionKind>,
}

impl<'ast> Visit<'ast> for FunctionFinder {
    fn visit_type(&mut self, ty: &'ast Type) {
        if self.found.is_some() {
            return;
        }
        match ty {
            Type::BareFn(_) => self.found = Some(FunctionKind::Pointer),
            Type::ImplTrait(t) if has_fn_bound(t.bounds.iter()) => {
                self.found = Some(FunctionKind::Closure);
            }
            Type::TraitObject(t) if has_fn_bound(t.bounds.iter()) => {
                self.found = Some(FunctionKind::Closure);
            }
            _ => visit::visit_type(self, ty),
        }
    }
}

fn has_fn_bound<'a>(mut bounds: impl Iterator<Item = &'a TypeParamBound>) -> bool {
    const FN_TRAITS: [&str; 6] = [
        "Fn",
        "FnMut",
        "FnOnce",
        "AsyncFn",
        "AsyncFnMut",
        "AsyncFnOnce",
    ];
    bounds.any(|bound| bound_named(bound, &FN_TRAITS))
}

fn bound_named(bound: &TypeParamBound, names: &[&str]) -> bool {
    match bound {
        TypeParamBound::Trait(t) => t
            .path
            .segments
            .last()
            .is_some_and(|segment| names.iter().any(|name| segment.ident == name)),
        _ => false,
    }
}

/// Reports every part of a type that cannot travel: references, `impl Trait`, borrowed
/// lifetimes, `_`, `!` and `Self`. Does not descend into a part it reported.
struct NotDataFinder<'a> {
    position: &'a Position,
    report_self: bool,
    diag: &'a mut Diagnostics,
}

impl<'ast> Visit<'ast> for NotDataFinder<'_> {
    fn visit_type(&mut self, ty: &'ast Type) {
        match ty {
            Type::Reference(reference) => {
                let message = reference_message(reference, self.position);
                self.diag.error_spanned_by(reference, message);
            }
            Type::ImplTrait(impl_trait) => {
                let is_future = impl_trait
                    .bounds
                    .iter()
                    .any(|bound| bound_named(bound, &["Future"]));
                let message = match self.position {
                    Position::Result if is_future => {
                        "to export an asynchronous function, write `async fn` instead of \
                         returning `impl Future`"
                            .to_string()
                    }
                    Position::Result => "exported functions cannot return `impl Trait`: the \
                                         calling node must know the exact type to decode the \
                                         result; return a concrete type (like `Vec<T>` \
                                         instead of `impl Iterator<Item = T>`)"
                        .to_string(),
                    Position::Argument(name) => format!(
                        "{} cannot be `impl Trait`: the calling node must know the exact \
                         type to encode it; take a concrete type (like `String`, or a struct \
                         deriving `Serialize` and `Deserialize`)",
                        subject(name.as_deref())
                    ),
                };
                self.diag.error_spanned_by(impl_trait, message);
            }
            Type::Infer(infer) => self.diag.error_spanned_by(
                infer,
                "write the type out: the calling node must know it exactly to encode and \
                 decode the value",
            ),
            Type::Never(never) => self.diag.error_spanned_by(
                never,
                "exported functions must return to their caller, and `!` never does; return \
                 `()` when there is nothing to send back",
            ),
            Type::Path(path) if path.qself.is_none() && path.path.is_ident("Self") => {
                if self.report_self {
                    self.diag.error_spanned_by(
                        path,
                        "exported functions are free functions, where `Self` means nothing: \
                         move the function out of the `impl` block and name the type",
                    );
                }
            }
            _ => visit::visit_type(self, ty),
        }
    }

    fn visit_lifetime(&mut self, lifetime: &'ast Lifetime) {
        if lifetime.ident == "static" {
            return;
        }
        let message = match self.position {
            Position::Argument(_) => format!(
                "arguments travel to another node by value and cannot borrow: use an owned \
                 type without the lifetime `{lifetime}`"
            ),
            Position::Result => format!(
                "results travel back by value and cannot borrow: return an owned type \
                 without the lifetime `{lifetime}`"
            ),
        };
        self.diag.error_spanned_by(lifetime, message);
    }
}

fn reference_message(reference: &syn::TypeReference, position: &Position) -> String {
    let borrowed = type_text(reference);
    let owned = match &*reference.elem {
        Type::Path(path) if path.qself.is_none() && path.path.is_ident("str") => {
            Some("String".to_string())
        }
        Type::Path(path)
            if path
                .path
                .segments
                .last()
                .is_some_and(|segment| segment.ident == "Path") =>
        {
            Some("PathBuf".to_string())
        }
        Type::Slice(slice) => Some(format!("Vec<{}>", type_text(&slice.elem))),
        Type::TraitObject(_) | Type::ImplTrait(_) => None,
        elem => Some(type_text(elem)),
    };
    let instead = match owned {
        Some(owned) => format!("`{owned}` instead of `{borrowed}`"),
        None => format!(
            "an owned value (like `String`, or a struct deriving `Serialize` and \
             `Deserialize`) instead of `{borrowed}`"
        ),
    };
    match position {
        Position::Argument(_) if reference.mutability.is_some() => format!(
            "arguments travel to another node by value, so changes made there never come \
             back: take {instead} and return the new value"
        ),
        Position::Argument(_) => {
            format!("arguments travel to another node by value: take {instead}")
        }
        Position::Result => format!("results travel back by value: return {instead}"),
    }
}

/// A type as a person would write it (`Vec<u8>`, not `Vec < u8 >`), for messages.
fn type_text(ty: &impl ToTokens) -> String {
    let tokens: TokenStream = ty.to_token_stream();
    let mut text = tokens.to_string();
    for (spaced, tight) in [
        (" :: ", "::"),
        (":: ", "::"),
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        ("& ", "&"),
        ("( ", "("),
        (" )", ")"),
        ("[ ", "["),
        (" ]", "]"),
        (" ;", ";"),
    ] {
        text = text.replace(spaced, tight);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn messages(item: TokenStream) -> Vec<String> {
        let function: ItemFn = syn::parse2(item).expect("a function");
        let mut diag = Diagnostics::default();
        super::function(&function, &mut diag);
        diag.messages()
    }

    #[test]
    fn plain_data_passes() {
        assert!(
            messages(quote!(
                fn add(a: i64, b: i64) -> i64 {
                    a + b
                }
            ))
            .is_empty()
        );
        assert!(
            messages(quote!(
                async fn f(mut p: Point, (x, y): (i32, i32)) {}
            ))
            .is_empty()
        );
        assert!(
            messages(quote!(
                fn f(s: Cow<'static, str>) {}
            ))
            .is_empty()
        );
    }

    #[test]
    fn references_suggest_the_owned_type() {
        let found = messages(quote!(
            fn f(a: &str, b: &[u8], c: Option<&Point>) {}
        ));
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found[0].contains("take `String` instead of `&str`"),
            "{found:?}"
        );
        assert!(
            found[1].contains("take `Vec<u8>` instead of `&[u8]`"),
            "{found:?}"
        );
        assert!(
            found[2].contains("take `Point` instead of `&Point`"),
            "{found:?}"
        );
    }

    #[test]
    fn a_function_inside_a_type_is_reported_once() {
        let found = messages(quote!(
            fn f(g: &dyn Fn(&str) -> i64) {}
        ));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("`g` is a function (closure)"),
            "{found:?}"
        );
        let found = messages(quote!(
            fn f(g: Vec<fn(i64)>) {}
        ));
        assert!(
            found[0].starts_with("`g` is a function pointer"),
            "{found:?}"
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let found = messages(quote!(
            unsafe fn f<T>(&self, x: impl Display) -> impl Iterator {}
        ));
        assert_eq!(found.len(), 5, "{found:?}");
    }

    #[test]
    fn impl_future_suggests_async_fn() {
        let found = messages(quote!(
            fn f() -> impl Future<Output = i64> {}
        ));
        assert!(found[0].contains("write `async fn`"), "{found:?}");
    }
}
