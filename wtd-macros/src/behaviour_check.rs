//! Phase 2 of `#[wtd_behaviour]`: refuse message types that cannot travel, and say why.
//!
//! `Call`, `Reply` and `Cast` cross the wire as bytes. A function in one (a closure, a
//! function pointer) is the mistake a beginner makes that rustc would only report as a
//! puzzling trait error; it is caught here on the type itself. Whether a type is serde
//! data is left to rustc, through the `Message` bounds the expansion puts on each type.

use syn::{Ident, Type};

use crate::check::function_in;
use crate::diag::Diagnostics;

/// Checks every message type and records every problem found.
pub fn message_types(types: &[(Ident, Type)], diag: &mut Diagnostics) {
    for (kind, ty) in types {
        if let Some(what) = function_in(ty) {
            diag.error_spanned_by(
                ty,
                format!(
                    "`{kind}` is {what}; functions cannot be sent to another node: make \
                     `{kind}` data, like an enum whose variants name what to do \
                     (`enum CounterCall {{ Incr(u64), Get }}`)"
                ),
            );
        }
    }
}
