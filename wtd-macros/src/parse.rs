//! Phase 1: read the attribute's arguments (the mission) and the item it is on.
//!
//! Only the *shape* is checked here: is there exactly one mission name, and is the item
//! a function at all. What a function may look like is `check.rs`'s job.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Ident, Item, ItemFn, LitStr, Token};

/// The mission named in `#[wtd_export(mission)]`: the group of functions a grant
/// gives access to.
#[derive(Debug, PartialEq, Eq)]
pub struct Mission {
    pub name: String,
}

/// Parses `#[wtd_export]`'s arguments: one mission name, as an identifier (`demo`) or a
/// string (`"my-mission"`, for names an identifier cannot spell).
pub fn mission(args: TokenStream) -> syn::Result<Mission> {
    mission_of(args, "wtd_export", "function")
}

/// Parses one mission name given to the attribute `attr` on a `what` (`function`,
/// `behaviour`), with messages that name that attribute.
pub fn mission_of(args: TokenStream, attr: &str, what: &str) -> syn::Result<Mission> {
    let example = format!("`#[{attr}(demo)]`");
    if args.is_empty() {
        // The attribute itself (`#[wtd_export]`) is the call site of the macro.
        return Err(syn::Error::new(
            Span::call_site(),
            format!(
                "missing mission name: write {example}, naming the mission this {what} \
                 belongs to (callers are granted access per mission)"
            ),
        ));
    }
    let whole = args.clone();
    let parser = |input: ParseStream| parse_mission(input, &whole, attr, what);
    parser.parse2(args)
}

fn parse_mission(
    input: ParseStream,
    whole: &TokenStream,
    attr: &str,
    what: &str,
) -> syn::Result<Mission> {
    let example = format!("`#[{attr}(demo)]`");
    let example = example.as_str();
    let (name, span, quoted) = if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        (lit.value(), lit.span(), true)
    } else if input.peek(Ident::peek_any) {
        let ident = input.call(Ident::parse_any)?;
        (ident.unraw().to_string(), ident.span(), false)
    } else {
        return Err(input.error(format!("expected a mission name, like {example}")));
    };

    if !quoted && input.peek(Token![-]) {
        // `my-mission` arrives as `my`, `-`, `mission`: three tokens, not one name.
        let spelled: String = whole.to_string().split_whitespace().collect();
        let hint = if is_valid_mission(&spelled) {
            format!("write it as a string: `#[{attr}(\"{spelled}\")]`")
        } else {
            mission_rules()
        };
        return Err(syn::Error::new_spanned(
            whole,
            format!("a mission name containing `-` must be quoted: {hint}"),
        ));
    }
    if input.peek(Token![=]) {
        let rest: TokenStream = input.parse()?;
        return Err(syn::Error::new_spanned(
            rest,
            format!("`#[{attr}]` takes only a mission name, like {example}"),
        ));
    }
    if input.peek(Token![,]) {
        let comma: Token![,] = input.parse()?;
        if !input.is_empty() {
            let rest: TokenStream = input.parse()?;
            return Err(syn::Error::new_spanned(
                rest,
                format!("a {what} belongs to exactly one mission: keep one name, like {example}"),
            ));
        }
        // A trailing comma (`#[wtd_export(demo,)]`) is harmless.
        let _ = comma;
    }
    if !input.is_empty() {
        let rest: TokenStream = input.parse()?;
        return Err(syn::Error::new_spanned(
            rest,
            format!("expected only a mission name, like {example}"),
        ));
    }

    if !is_valid_mission(&name) {
        let lower = name.to_lowercase();
        let hint = if lower != name && is_valid_mission(&lower) {
            if quoted {
                format!(": write `#[{attr}(\"{lower}\")]`")
            } else {
                format!(": write `#[{attr}({lower})]`")
            }
        } else {
            String::new()
        };
        return Err(syn::Error::new(
            span,
            format!(
                "mission name {name:?} is not valid: {}{hint}",
                mission_rules()
            ),
        ));
    }
    Ok(Mission { name })
}

fn mission_rules() -> String {
    "mission names are 1–64 characters of a-z, 0-9, _ and -".to_string()
}

/// The wire's rule for names (`wtd::wire::check_name`), checked at compile time so a bad
/// name is a build error rather than a refused call.
pub fn is_valid_mission(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Parses the item the attribute is on; anything but a function with a body is refused
/// with a message naming what it is instead.
pub fn function(item: TokenStream) -> syn::Result<ItemFn> {
    if let Ok(function) = syn::parse2::<ItemFn>(item.clone()) {
        return Ok(function);
    }
    let error = match syn::parse2::<Item>(item.clone()) {
        Ok(item) => not_a_function(&item),
        Err(_) => syn::Error::new(
            item.span(),
            "`#[wtd_export]` goes on a function with a body, like \
             `pub fn add(a: i64, b: i64) -> i64 { a + b }`",
        ),
    };
    Err(error)
}

fn not_a_function(item: &Item) -> syn::Error {
    let data_hint = "only functions can be called from another node; to send this type, \
                     derive `serde::Serialize` and `serde::Deserialize` on it and take it \
                     as an argument of an exported function";
    let (what, tokens, hint): (&str, TokenStream, &str) = match item {
        Item::Struct(s) => ("a struct", spanned(&s.struct_token, &s.ident), data_hint),
        Item::Enum(e) => ("an enum", spanned(&e.enum_token, &e.ident), data_hint),
        Item::Union(u) => ("a union", spanned(&u.union_token, &u.ident), data_hint),
        Item::Impl(i) => (
            "an `impl` block",
            spanned(&i.impl_token, &i.self_ty),
            "methods cannot be exported; write free functions that take and return data",
        ),
        Item::Trait(t) => (
            "a trait",
            spanned(&t.trait_token, &t.ident),
            "only free functions can be exported",
        ),
        Item::Mod(m) => (
            "a module",
            spanned(&m.mod_token, &m.ident),
            "put `#[wtd_export(..)]` on each function in it you want to export",
        ),
        Item::Const(c) => (
            "a constant",
            spanned(&c.const_token, &c.ident),
            "only functions can be called from another node",
        ),
        Item::Static(s) => (
            "a static",
            spanned(&s.static_token, &s.ident),
            "only functions can be called from another node",
        ),
        Item::Type(t) => (
            "a type alias",
            spanned(&t.type_token, &t.ident),
            "only functions can be called from another node",
        ),
        Item::Use(u) => (
            "a `use` declaration",
            spanned(&u.use_token, &u.tree),
            "put `#[wtd_export(..)]` on the function where it is defined",
        ),
        other => (
            "this item",
            other.to_token_stream(),
            "only functions with a body can be exported",
        ),
    };
    syn::Error::new_spanned(
        tokens,
        format!("`#[wtd_export]` goes on a function, not on {what}: {hint}"),
    )
}

/// The keyword and name of an item (`struct Point`), to underline just those.
fn spanned(keyword: &impl ToTokens, name: &impl ToTokens) -> TokenStream {
    let mut tokens = keyword.to_token_stream();
    name.to_tokens(&mut tokens);
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn name(args: TokenStream) -> Result<String, String> {
        mission(args).map(|m| m.name).map_err(|e| e.to_string())
    }

    #[test]
    fn accepts_identifiers_and_strings() {
        assert_eq!(name(quote!(demo)), Ok("demo".into()));
        assert_eq!(name(quote!(demo_2)), Ok("demo_2".into()));
        assert_eq!(name(quote!(r#type)), Ok("type".into()));
        assert_eq!(name(quote!("my-mission")), Ok("my-mission".into()));
        assert_eq!(name(quote!(demo,)), Ok("demo".into()));
    }

    #[test]
    fn refuses_a_missing_name() {
        let error = name(quote!()).expect_err("empty");
        assert!(error.starts_with("missing mission name"), "{error}");
    }

    #[test]
    fn refuses_names_outside_the_wire_rules() {
        let error = name(quote!(Demo)).expect_err("upper case");
        assert!(error.contains("write `#[wtd_export(demo)]`"), "{error}");
        assert!(name(quote!("Demo!")).is_err());
        assert!(name(quote!("")).is_err());
        let long = "a".repeat(65);
        assert!(name(quote!(#long)).is_err());
        assert!(name(quote!(42)).is_err());
    }

    #[test]
    fn suggests_quoting_a_dashed_name() {
        let error = name(quote!(my - mission)).expect_err("dash");
        assert!(
            error.contains(r#"`#[wtd_export("my-mission")]`"#),
            "{error}"
        );
    }

    #[test]
    fn refuses_more_than_a_name() {
        let error = name(quote!(a, b)).expect_err("two names");
        assert!(error.contains("exactly one mission"), "{error}");
        let error = name(quote!(a = 1)).expect_err("key-value");
        assert!(error.contains("takes only a mission name"), "{error}");
        assert!(name(quote!(a b)).is_err());
    }

    #[test]
    fn refuses_items_that_are_not_functions() {
        let error = function(quote!(
            struct Point {
                x: i64,
            }
        ))
        .map(|_| ());
        let error = error.expect_err("struct").to_string();
        assert!(error.contains("not on a struct"), "{error}");
        assert!(
            function(quote!(
                fn add(a: i64) -> i64 {
                    a
                }
            ))
            .is_ok()
        );
    }
}
