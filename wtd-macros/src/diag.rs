//! Error collection.
//!
//! A beginner who writes `fn f(x: &str, g: impl Fn())` should learn about both arguments
//! from one build, so every phase pushes its errors here instead of returning at the
//! first one. Each error keeps its own span, so rustc underlines the offending token.

use proc_macro2::TokenStream;
use quote::ToTokens;
use std::fmt::Display;

/// The errors of one `#[wtd_export]` invocation, in the order they were found.
#[derive(Default)]
pub struct Diagnostics {
    errors: Vec<syn::Error>,
}

impl Diagnostics {
    /// Records an error underlining `tokens` (all of them, from the first to the last).
    pub fn error_spanned_by(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.errors.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error that a parser already built.
    pub fn push(&mut self, error: syn::Error) {
        self.errors.push(error);
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// One `compile_error!` per error, followed by the user's item exactly as written.
    ///
    /// Keeping the item means the rest of the crate still finds the function, so the
    /// only errors the user sees are ours, not a cascade of "cannot find function".
    pub fn emit_with(self, item: TokenStream) -> TokenStream {
        let errors = self.errors.iter().map(syn::Error::to_compile_error);
        let mut out: TokenStream = errors.collect();
        item.to_tokens(&mut out);
        out
    }
}

#[cfg(test)]
impl Diagnostics {
    /// The messages, for tests.
    pub fn messages(&self) -> Vec<String> {
        self.errors.iter().map(ToString::to_string).collect()
    }
}
