//! Phase 3: generate the stub module and the registration of a checked function.
//!
//! For `#[wtd_export(demo)] pub fn add(a: i64, b: i64) -> i64` the output is:
//!
//! * the function, exactly as written;
//! * `pub mod add` (same name, other namespace), holding `PATH`, `call`, `cast` for
//!   callers and the hidden `__wtd_apply` shim the node runs when a call arrives;
//! * an `inventory` entry pointing at that shim, so a node finds the function by
//!   mission, module and name.
//!
//! [`Expander`] has one method per generated item. Everything generated names items by
//! absolute path (`::wtd::__private::…`, `::core::…`, `::std::…`) so a user's own
//! `Result`, `Vec` or `inventory` cannot capture it; hidden items start with `__wtd_`.
//!
//! # Where a non-serde type is reported
//!
//! A type that is not `Remote` (not `Serialize + Deserialize`) would break every
//! generated body that uses it, and rustc would report the same mistake half a dozen
//! times, the first inside an `async fn` stub and in terms of argument tuples. So each
//! type is proven `Remote` in exactly one place, underlining the user's own type, and
//! everywhere else the fact is *assumed*:
//!
//! * The stubs carry `where for<'__wtd> T: Remote`. A bound with a (dummy) higher-ranked
//!   lifetime is not checked where it is written, only where the function is used, and
//!   inside the function it holds. So a broken type does not break the stubs' bodies;
//!   only a caller of a broken stub hears about it, at the call.
//! * The shim is a chain of checks: `__wtd_apply` calls `__wtd_check_1`, which calls
//!   `__wtd_check_2`, and so on; the last one runs the function. Check k assumes types
//!   1..=k, so calling it proves type k alone. rustc blames an unmet bound of a call on
//!   the argument whose type holds the offending type, and that argument is a
//!   `PhantomData<type k>` spanned over the user's type: each broken type gets its
//!   error on itself, in the words of `Remote`'s `#[diagnostic::on_unimplemented]`
//!   (one error per missing trait).
//!
//! Well-known plain types (`i64`, `bool`, `String`, ...) are serde data already; they
//! get no bound, so most stubs read without a `where` clause.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::visit_mut::{self, VisitMut};
use syn::{
    Attribute, ExprPath, FnArg, GenericArgument, Ident, ItemFn, Pat, Path, PathArguments,
    PathSegment, QSelf, ReturnType, Type, TypePath,
};

use crate::parse::Mission;

/// Generates everything `#[wtd_export]` adds next to one function.
pub struct Expander<'a> {
    mission: &'a str,
    function: &'a ItemFn,
    /// The function's name as it travels on the wire (`r#type` → `type`).
    name: String,
    /// `#[cfg]`s of the function, repeated on the stub module and the registration so
    /// they exist exactly when the function does.
    cfgs: Vec<&'a Attribute>,
    args: Vec<StubArg>,
    /// The result type as seen from the stub module; `()` when the function has none.
    result: Type,
}

/// One argument, as the stubs and the shim see it.
struct StubArg {
    /// The user's name when the pattern is a plain identifier (it reads well in the
    /// stub's documentation), `__wtd_argN` for patterns like `(x, y): (i32, i32)`.
    name: Ident,
    /// The type as seen from the stub module (see [`ReRoot`]).
    ty: Type,
}

impl<'a> Expander<'a> {
    /// `function` must have passed `check::function`: no receiver, no generics.
    pub fn new(mission: &'a Mission, function: &'a ItemFn) -> Self {
        let args = function
            .sig
            .inputs
            .iter()
            .enumerate()
            .filter_map(|(index, input)| match input {
                FnArg::Typed(arg) => Some(StubArg {
                    name: stub_arg_name(&arg.pat, index),
                    ty: rerooted(&arg.ty),
                }),
                FnArg::Receiver(_) => None,
            })
            .collect();
        let result = match &function.sig.output {
            ReturnType::Type(_, ty) => rerooted(ty),
            ReturnType::Default => syn::parse_quote!(()),
        };
        Expander {
            mission: &mission.name,
            function,
            name: function.sig.ident.unraw().to_string(),
            cfgs: function
                .attrs
                .iter()
                .filter(|attr| attr.path().is_ident("cfg"))
                .collect(),
            args,
            result,
        }
    }

    pub fn expand(&self) -> TokenStream {
        let function = self.function;
        let stub_module = self.stub_module();
        let registration = self.registration();
        quote! {
            #function
            #stub_module
            #registration
        }
    }

    /// `mod add { … }`: everything a caller needs, under the function's own name.
    fn stub_module(&self) -> TokenStream {
        let Expander {
            mission,
            name,
            cfgs,
            ..
        } = self;
        let vis = &self.function.vis;
        let ident = &self.function.sig.ident;
        let names: String = self
            .args
            .iter()
            .map(|arg| format!(", {}", arg.name))
            .collect();
        let example = format!("(&peer{names})");
        let doc = format!(
            " Calls [`{name}`](fn@{ident}) on other nodes (generated by \
             `#[wtd_export({mission})]`).\n\
             \n\
             * [`{ident}::call`]`{example}.await` runs `{name}` on `peer`'s node and \
             returns its result.\n\
             * [`{ident}::cast`]`{example}.await` asks `peer`'s node to run it and does \
             not wait for the result.\n\
             \n\
             Only nodes granted mission `{mission}` may call it."
        );
        let path_const = self.path_const();
        let call = self.call_stub();
        let cast = self.cast_stub();
        let apply = self.apply_shim();
        quote! {
            #(#cfgs)*
            #[doc = #doc]
            // Lints the function itself already raises (a non-snake-case name, too many
            // arguments, deprecation) are not repeated on its stubs; and a private
            // function's stubs are often unused in its own crate: other nodes call it.
            #[allow(
                dead_code,
                deprecated,
                non_snake_case,
                clippy::too_many_arguments
            )]
            #vis mod #ident {
                // The stubs repeat the function's argument types, which name items of
                // the function's module.
                #[allow(unused_imports)]
                use super::*;

                #path_const
                #call
                #cast
                #apply
            }
        }
    }

    /// `PATH`: mission, module and name, which is all a caller sends to find it.
    fn path_const(&self) -> TokenStream {
        let Expander { mission, name, .. } = self;
        let doc = format!(
            " Where [`{name}`](fn@super::{ident}) is found: mission `{mission}`, the module \
             it is defined in, and its name.",
            ident = self.function.sig.ident,
        );
        quote! {
            #[doc = #doc]
            pub const PATH: ::wtd::__private::FnPath = ::wtd::__private::FnPath {
                mission: #mission,
                // This constant sits in the stub module, one level below the function.
                module_path: ::wtd::__private::parent_module(::core::module_path!()),
                name: #name,
            };
        }
    }

    /// `call(peer, args…)`: run the function on `peer`'s node, wait for its result.
    fn call_stub(&self) -> TokenStream {
        let name = &self.name;
        let ident = &self.function.sig.ident;
        let params = self.params();
        let (tuple_ty, tuple) = self.arg_tuple();
        let result = &self.result;
        let mut types: Vec<&Type> = self.args.iter().map(|arg| &arg.ty).collect();
        types.push(result);
        let bounds = where_clause(&types);
        let doc = format!(
            " Runs [`{name}`](fn@super::{ident}) on `peer`'s node and waits for its \
             result.\n\
             \n\
             Fails with a `wtd::Error` when the call cannot reach that node, is refused \
             there, or gets no answer within the peer's timeout."
        );
        quote! {
            #[doc = #doc]
            pub async fn call(peer: &::wtd::Peer, #params)
                -> ::core::result::Result<#result, ::wtd::Error>
            #bounds
            {
                ::wtd::__private::call_typed::<#tuple_ty, #result>(peer, &PATH, #tuple).await
            }
        }
    }

    /// `cast(peer, args…)`: ask `peer`'s node to run the function, without a result.
    fn cast_stub(&self) -> TokenStream {
        let name = &self.name;
        let ident = &self.function.sig.ident;
        let params = self.params();
        let (tuple_ty, tuple) = self.arg_tuple();
        let types: Vec<&Type> = self.args.iter().map(|arg| &arg.ty).collect();
        let bounds = where_clause(&types);
        let doc = format!(
            " Asks `peer`'s node to run [`{name}`](fn@super::{ident}) and does not wait \
             for it to finish; its result is dropped.\n\
             \n\
             Fails with a `wtd::Error` when the call cannot be sent."
        );
        quote! {
            #[doc = #doc]
            pub async fn cast(peer: &::wtd::Peer, #params)
                -> ::core::result::Result<(), ::wtd::Error>
            #bounds
            {
                ::wtd::__private::cast_typed::<#tuple_ty>(peer, &PATH, #tuple).await
            }
        }
    }

    /// `__wtd_apply`: what the node runs when a call arrives. Decodes the arguments,
    /// runs the function (on the blocking pool, or as a task for an `async fn`) and
    /// encodes its result, after the chain of checks described in the module docs.
    fn apply_shim(&self) -> TokenStream {
        let mut types: Vec<&Type> = self.args.iter().map(|arg| &arg.ty).collect();
        types.push(&self.result);
        let types = needing_bounds(&types);
        let params = quote! {
            encoding: ::wtd::__private::Encoding,
            args: ::std::vec::Vec<u8>,
        };
        let output = quote!(-> ::wtd::__private::ApplyFuture);

        let first = match types.first() {
            Some(first) => call_check(0, first),
            None => self.run(),
        };
        let mut items = quote! {
            #[doc(hidden)]
            /// Runs the function for a call that arrived from another node.
            pub fn __wtd_apply(#params) #output {
                #first
            }
        };
        for (k, ty) in types.iter().enumerate() {
            // Named at the type too, so rustc's "required by a bound in this function"
            // lands on the type instead of repeating the attribute.
            let check = Ident::new(&check_ident(k).to_string(), first_span(ty));
            let bounds = where_clause(&types[..=k]);
            let body = match types.get(k + 1) {
                Some(next) => call_check(k + 1, next),
                None => self.run(),
            };
            items.extend(quote! {
                fn #check(#params _: ::core::marker::PhantomData<#ty>) #output #bounds {
                    #body
                }
            });
        }
        items
    }

    /// The end of the chain: decode, run, encode.
    fn run(&self) -> TokenStream {
        let ident = &self.function.sig.ident;
        let names: Vec<&Ident> = self.args.iter().map(|arg| &arg.name).collect();
        let (tuple_ty, _) = self.arg_tuple();
        let (apply, span) = match &self.function.sig.asyncness {
            Some(_) => (quote!(apply_async), ident.span()),
            None => (quote!(apply_blocking), Span::call_site()),
        };
        // An `async fn` whose future is not `Send` cannot run as a task; spanning the
        // call at the function's name puts rustc's error there, not on the attribute.
        quote_spanned! {span=>
            ::wtd::__private::#apply(
                encoding,
                args,
                |(#(#names,)*): #tuple_ty| super::#ident(#(#names),*),
            )
        }
    }

    /// The inventory entry: how a node finds the shim.
    fn registration(&self) -> TokenStream {
        let Expander {
            mission,
            name,
            cfgs,
            ..
        } = self;
        let ident = &self.function.sig.ident;
        let arity = self.args.len();
        quote! {
            #(#cfgs)*
            ::wtd::__private::inventory::submit! {
                ::wtd::__private::ExportedFn {
                    mission: #mission,
                    module_path: ::core::module_path!(),
                    name: #name,
                    arity: #arity,
                    apply: #ident::__wtd_apply,
                }
            }
        }
    }

    /// `a: i64, b: i64` for the stubs' signatures.
    fn params(&self) -> TokenStream {
        let params = self
            .args
            .iter()
            .map(|StubArg { name, ty }| quote!(#name: #ty));
        quote!(#(#params),*)
    }

    /// The argument tuple's type and value: `()`, `(T,)`, `(T, U,)`.
    fn arg_tuple(&self) -> (TokenStream, TokenStream) {
        let types = self.args.iter().map(|arg| &arg.ty);
        let names = self.args.iter().map(|arg| &arg.name);
        (quote!((#(#types,)*)), quote!((#(#names,)*)))
    }
}

fn stub_arg_name(pat: &Pat, index: usize) -> Ident {
    if let Pat::Ident(pat) = pat
        && pat.by_ref.is_none()
        && pat.subpat.is_none()
    {
        let name = pat.ident.unraw().to_string();
        // `peer` is the stubs' first parameter and `PATH` a constant they use (a
        // parameter named after a constant is a pattern matching it).
        let taken = name == "peer" || name == "PATH" || name.starts_with("__wtd");
        if !taken {
            return pat.ident.clone();
        }
    }
    format_ident!("__wtd_arg{}", index)
}

/// `where for<'__wtd> T: Remote, …` for the types that need a bound, or nothing.
fn where_clause(types: &[&Type]) -> TokenStream {
    let types = needing_bounds(types);
    if types.is_empty() {
        return TokenStream::new();
    }
    let bounds = types.iter().map(|ty| {
        quote_spanned! {first_span(ty)=>
            for<'__wtd> #ty: ::wtd::__private::Remote
        }
    });
    quote!(where #(#bounds),*)
}

/// The types that are not well-known plain data, each once.
fn needing_bounds<'t>(types: &[&'t Type]) -> Vec<&'t Type> {
    let mut seen = Vec::new();
    let mut needing = Vec::new();
    for ty in types {
        let text = ty.to_token_stream().to_string();
        if !is_plain_data(ty) && !seen.contains(&text) {
            seen.push(text);
            needing.push(*ty);
        }
    }
    needing
}

/// Well-known serde data: primitive numbers, `bool`, `char`, `String`, and tuples,
/// `Vec`, `Option` and `Result` of those. They need no `Remote` bound, which keeps the
/// common stubs free of `where` clauses. A user type shadowing one of these names is
/// still refused if it is not serde data (the shim's body proves every type), just with
/// a less tidy error.
pub fn is_plain_data(ty: &Type) -> bool {
    const PRIMITIVE: [&str; 17] = [
        "bool", "char", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64",
        "u128", "usize", "f32", "f64", "String",
    ];
    const CONTAINER: [&str; 3] = ["Vec", "Option", "Result"];
    match ty {
        Type::Tuple(tuple) => tuple.elems.iter().all(is_plain_data),
        Type::Paren(paren) => is_plain_data(&paren.elem),
        Type::Group(group) => is_plain_data(&group.elem),
        Type::Path(path) if path.qself.is_none() && path.path.leading_colon.is_none() => {
            let mut segments = path.path.segments.iter();
            let (Some(segment), None) = (segments.next(), segments.next()) else {
                return false;
            };
            match &segment.arguments {
                PathArguments::None => PRIMITIVE.iter().any(|name| segment.ident == name),
                PathArguments::AngleBracketed(generic) => {
                    CONTAINER.iter().any(|name| segment.ident == name)
                        && generic.args.iter().all(|arg| match arg {
                            GenericArgument::Type(ty) => is_plain_data(ty),
                            _ => false,
                        })
                }
                PathArguments::Parenthesized(_) => false,
            }
        }
        _ => false,
    }
}

fn check_ident(k: usize) -> Ident {
    format_ident!("__wtd_check_{}", k + 1)
}

/// Calls check `k`, which proves `ty` is `Remote`.
///
/// rustc reports an unmet bound of a call on the argument whose type holds the
/// offending type: here a `PhantomData<ty>` whose tokens are spanned from `ty`'s first
/// token to its last, so the error underlines exactly the user's type.
fn call_check(k: usize, ty: &Type) -> TokenStream {
    let check = Ident::new(&check_ident(k).to_string(), last_span(ty));
    let module = quote_spanned!(first_span(ty)=> self::);
    let path = quote_spanned!(first_span(ty)=> ::core::marker::);
    let phantom = Ident::new("PhantomData", last_span(ty));
    quote! { #module #check(encoding, args, #path #phantom) }
}

pub fn first_span(ty: &Type) -> Span {
    ty.to_token_stream()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |token| token.span())
}

pub fn last_span(ty: &Type) -> Span {
    ty.to_token_stream()
        .into_iter()
        .last()
        .map_or_else(Span::call_site, |token| token.span())
}

/// A copy of `ty` that means the same one module deeper, inside the stub module:
/// `self::X` becomes `super::X` and `super::X` becomes `super::super::X`.
fn rerooted(ty: &Type) -> Type {
    let mut ty = ty.clone();
    ReRoot.visit_type_mut(&mut ty);
    ty
}

struct ReRoot;

impl ReRoot {
    /// Re-roots `path`; tells whether a segment was inserted at the front.
    fn reroot(path: &mut Path) -> bool {
        if path.leading_colon.is_some() {
            return false;
        }
        let Some(first) = path.segments.first_mut() else {
            return false;
        };
        if first.ident == "self" {
            first.ident = Ident::new("super", first.ident.span());
            false
        } else if first.ident == "super" {
            let span = first.ident.span();
            path.segments
                .insert(0, PathSegment::from(Ident::new("super", span)));
            true
        } else {
            false
        }
    }

    /// In `<T as super::Trait>::Item`, `qself.position` counts the trait's segments.
    fn reroot_qualified(&mut self, qself: &mut Option<QSelf>, path: &mut Path) {
        if let Some(qself) = qself {
            self.visit_type_mut(&mut qself.ty);
        }
        let inserted = Self::reroot(path);
        if let Some(qself) = qself
            && inserted
        {
            qself.position += 1;
        }
        for segment in &mut path.segments {
            self.visit_path_arguments_mut(&mut segment.arguments);
        }
    }
}

impl VisitMut for ReRoot {
    fn visit_type_path_mut(&mut self, ty: &mut TypePath) {
        self.reroot_qualified(&mut ty.qself, &mut ty.path);
    }

    fn visit_expr_path_mut(&mut self, expr: &mut ExprPath) {
        self.reroot_qualified(&mut expr.qself, &mut expr.path);
    }

    fn visit_path_mut(&mut self, path: &mut Path) {
        Self::reroot(path);
        visit_mut::visit_path_mut(self, path);
    }
}
