//! Phase 1 of `#[wtd_behaviour]`: the mission (and an optional wire name), and the
//! `impl GenServer for Type` block it is on.
//!
//! Only the shape is checked here: one mission, and an `impl` of a behaviour trait for a
//! named, non-generic type. What the message types may be is `behaviour_check.rs`'s job.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Ident, ImplItem, Item, ItemImpl, LitStr, Token, Type};

use crate::behaviour_kinds::{self, Kind};
use crate::parse::{self, Mission};

/// What the attribute's arguments say.
pub struct Args {
    pub mission: Mission,
    /// `name = "counter"`: the wire name, instead of the module path and type name.
    pub name: Option<String>,
}

/// Parses `mission` or `mission, name = "wire-name"`.
pub fn args(args: TokenStream) -> syn::Result<Args> {
    let tokens: Vec<TokenTree> = args.into_iter().collect();
    let comma = tokens
        .iter()
        .position(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ','));
    let (head, tail) = match comma {
        Some(at) => (&tokens[..at], &tokens[at + 1..]),
        None => (&tokens[..], &[][..]),
    };
    let mission = parse::mission_of(head.iter().cloned().collect(), "wtd_behaviour", "behaviour")?;
    let name = if tail.is_empty() {
        None
    } else {
        Some(name(tail.iter().cloned().collect())?)
    };
    Ok(Args { mission, name })
}

/// `name = "counter"`: 1–64 characters of a-z, A-Z, 0-9, `_` and `::`.
fn name(tokens: TokenStream) -> syn::Result<String> {
    let whole = tokens.clone();
    let hint = "after the mission, only `name = \"...\"` may follow, like \
                `#[wtd_behaviour(counting, name = \"counter\")]`";
    let parsed = syn::parse::Parser::parse2(
        |input: syn::parse::ParseStream| {
            let key: Ident = input.parse()?;
            let _: Token![=] = input.parse()?;
            let value: LitStr = input.parse()?;
            let _: Option<Token![,]> = input.parse()?;
            Ok((key, value))
        },
        tokens,
    );
    let Ok((key, value)) = parsed else {
        return Err(syn::Error::new_spanned(whole, hint));
    };
    if key != "name" {
        return Err(syn::Error::new_spanned(key, hint));
    }
    let name = value.value();
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
    if !ok {
        return Err(syn::Error::new_spanned(
            value,
            format!(
                "behaviour name {name:?} is not valid: it travels on the wire, so it is 1–64 \
                 characters of a-z, A-Z, 0-9, _ and ::"
            ),
        ));
    }
    Ok(name)
}

/// The `impl` block, its type's name, and which behaviour it implements.
pub struct BehaviourImpl {
    pub item: ItemImpl,
    /// The type's own name (`Counter` of `impl GenServer for crate::Counter`).
    pub type_name: Ident,
    /// Which behaviour the `impl` is of.
    pub kind: &'static Kind,
}

/// Parses the item: an `impl` of a behaviour trait for a named type without generics.
pub fn behaviour_impl(item: TokenStream) -> syn::Result<BehaviourImpl> {
    let parsed = syn::parse2::<Item>(item.clone());
    let item = match parsed {
        Ok(Item::Impl(item)) => item,
        Ok(other) => return Err(not_an_impl(&other)),
        Err(_) => {
            return Err(syn::Error::new(
                item.span(),
                "`#[wtd_behaviour]` goes on an `impl GenServer for YourType { .. }` block",
            ));
        }
    };
    let Some((_, trait_path, _)) = &item.trait_ else {
        return Err(syn::Error::new_spanned(
            &item.self_ty,
            "`#[wtd_behaviour]` goes on the `impl GenServer for ..` block of your server, not \
             on its own `impl` block: move the attribute to `impl GenServer for ...`",
        ));
    };
    let kind = trait_path
        .segments
        .last()
        .and_then(|segment| behaviour_kinds::kind(&segment.ident.to_string()));
    let Some(kind) = kind else {
        let name = trait_path.to_token_stream().to_string().replace(' ', "");
        return Err(syn::Error::new_spanned(
            trait_path,
            format!(
                "`{name}` is not a behaviour: `#[wtd_behaviour]` goes on the `impl` of a \
                 behaviour ({}) for your type, which says how other nodes talk to your \
                 process; to call a plain function from another node, use \
                 `#[wtd_export(mission)]` on it",
                behaviour_kinds::names()
            ),
        ));
    };
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &item.generics,
            "a behaviour exposed to other nodes cannot be generic: the calling node must know \
             the exact message types; implement the behaviour for one concrete type",
        ));
    }
    let type_name = match &*item.self_ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .filter(|segment| segment.arguments.is_empty())
            .map(|segment| segment.ident.clone()),
        _ => None,
    };
    let Some(type_name) = type_name else {
        return Err(syn::Error::new_spanned(
            &item.self_ty,
            "a behaviour exposed to other nodes must be a named type without generics, like \
             `struct Counter { .. }`",
        ));
    };
    Ok(BehaviourImpl {
        item,
        type_name,
        kind,
    })
}

fn not_an_impl(item: &Item) -> syn::Error {
    let (what, tokens): (&str, TokenStream) = match item {
        Item::Struct(s) => ("a struct", s.ident.to_token_stream()),
        Item::Enum(e) => ("an enum", e.ident.to_token_stream()),
        Item::Fn(f) => ("a function", f.sig.ident.to_token_stream()),
        Item::Trait(t) => ("a trait", t.ident.to_token_stream()),
        Item::Mod(m) => ("a module", m.ident.to_token_stream()),
        other => ("this item", other.to_token_stream()),
    };
    let hint = if matches!(item, Item::Fn(_)) {
        "to call a function from another node, use `#[wtd_export(mission)]` on it"
    } else {
        "write `impl GenServer for YourType { .. }` and put the attribute on that block"
    };
    syn::Error::new_spanned(
        tokens,
        format!(
            "`#[wtd_behaviour]` goes on an `impl GenServer for YourType` block, not on {what}: {hint}"
        ),
    )
}

/// The message types the impl names: `(associated type name, type)` for those its
/// behaviour sends over the wire (a gen_server's `Call`, `Reply` and `Cast`; its `Info`
/// stays on its node).
pub fn message_types(behaviour: &BehaviourImpl) -> Vec<(Ident, Type)> {
    behaviour
        .item
        .items
        .iter()
        .filter_map(|item| match item {
            ImplItem::Type(ty) if behaviour.kind.messages.iter().any(|n| ty.ident == n) => {
                Some((ty.ident.clone(), ty.ty.clone()))
            }
            _ => None,
        })
        .collect()
}
