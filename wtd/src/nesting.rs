//! A bound on how deeply nested a value from the network may be.
//!
//! postcard (like serde itself) decodes nested values by recursion, one stack frame or
//! more per level, and sets no limit. An exported function may take a recursive type (a
//! tree, an expression); a key holder could then send a value nested a million levels
//! deep, a few bytes per level, and overflow the callee's stack, which kills the whole
//! process. A callee could do the same to a caller through a result.
//!
//! [`from_postcard`] decodes through an adapter that counts the levels on the way down
//! (every `Option`, sequence, map, tuple, struct and enum is a level) and refuses the input
//! past [`MAX_DEPTH`], as `serde_json` does at 128.
//!
//! The adapter wraps each serde trait (deserializer, visitor, the access types, seeds) in
//! a type that forwards every call and hands a "levels left" count down. It changes no
//! decoding: a value within the bound decodes exactly as before.

use std::cell::Cell;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

/// Deepest nesting accepted in arguments and results.
pub const MAX_DEPTH: usize = 128;

/// Why [`from_postcard`] refused the bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NestingError {
    /// The value is nested deeper than [`MAX_DEPTH`].
    #[error("the value is nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// The bytes are not a postcard encoding of the type.
    #[error("{0}")]
    Postcard(String),
    /// Bytes are left over after the value.
    #[error("{0} bytes are left over after the value")]
    Trailing(usize),
}

/// Decodes exactly one `T` from `bytes` (no bytes left over), nested at most
/// [`MAX_DEPTH`] levels.
pub fn from_postcard<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, NestingError> {
    let too_deep = Cell::new(false);
    let mut postcard = postcard::Deserializer::from_bytes(bytes);
    let limited = Limited {
        inner: &mut postcard,
        left: MAX_DEPTH,
        too_deep: &too_deep,
    };
    match T::deserialize(limited) {
        // postcard keeps no message of a custom error, so the flag says which it was.
        Err(_) if too_deep.get() => Err(NestingError::TooDeep),
        Err(e) => Err(NestingError::Postcard(e.to_string())),
        Ok(value) => match postcard.finalize() {
            Ok([]) => Ok(value),
            Ok(rest) => Err(NestingError::Trailing(rest.len())),
            Err(e) => Err(NestingError::Postcard(e.to_string())),
        },
    }
}

/// One level down from `left`, or the error that ends decoding.
fn deeper<E: de::Error>(left: usize, too_deep: &Cell<bool>) -> Result<usize, E> {
    match left.checked_sub(1) {
        Some(left) => Ok(left),
        None => {
            too_deep.set(true);
            Err(E::custom(NestingError::TooDeep))
        }
    }
}

/// A deserializer that passes the count of levels left to every visitor it is given.
struct Limited<'c, D> {
    inner: D,
    left: usize,
    too_deep: &'c Cell<bool>,
}

impl<'c, D> Limited<'c, D> {
    fn wrap<V>(&self, visitor: V) -> Wrap<'c, V> {
        Wrap {
            inner: visitor,
            left: self.left,
            too_deep: self.too_deep,
        }
    }
}

macro_rules! forward_deserialize {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
                let visitor = self.wrap(visitor);
                self.inner.$method(visitor)
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Limited<'_, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = self.wrap(visitor);
        self.inner.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = self.wrap(visitor);
        self.inner.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = self.wrap(visitor);
        self.inner.deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = self.wrap(visitor);
        self.inner.deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = self.wrap(visitor);
        self.inner.deserialize_struct(name, fields, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = self.wrap(visitor);
        self.inner.deserialize_enum(name, variants, visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// A visitor that counts a level whenever the value opens a nested one.
struct Wrap<'c, V> {
    inner: V,
    left: usize,
    too_deep: &'c Cell<bool>,
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty))*) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
                self.inner.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64)
        visit_i128(i128) visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64)
        visit_u128(u128) visit_f32(f32) visit_f64(f64) visit_char(char) visit_str(&str)
        visit_borrowed_str(&'de str) visit_string(String) visit_bytes(&[u8])
        visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        let left = deeper(self.left, self.too_deep)?;
        self.inner.visit_some(Limited {
            inner: deserializer,
            left,
            too_deep: self.too_deep,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<V::Value, D::Error> {
        let left = deeper(self.left, self.too_deep)?;
        self.inner.visit_newtype_struct(Limited {
            inner: deserializer,
            left,
            too_deep: self.too_deep,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        let left = deeper(self.left, self.too_deep)?;
        self.inner.visit_seq(Access {
            inner: seq,
            left,
            too_deep: self.too_deep,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let left = deeper(self.left, self.too_deep)?;
        self.inner.visit_map(Access {
            inner: map,
            left,
            too_deep: self.too_deep,
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        let left = deeper(self.left, self.too_deep)?;
        self.inner.visit_enum(Access {
            inner: data,
            left,
            too_deep: self.too_deep,
        })
    }
}

/// A sequence, map, enum or variant access that hands the count to what it decodes.
struct Access<'c, A> {
    inner: A,
    left: usize,
    too_deep: &'c Cell<bool>,
}

impl<'c, A> Access<'c, A> {
    fn seed<T>(&self, seed: T) -> Seed<'c, T> {
        Seed {
            inner: seed,
            left: self.left,
            too_deep: self.too_deep,
        }
    }

    fn wrap<V>(&self, visitor: V) -> Wrap<'c, V> {
        Wrap {
            inner: visitor,
            left: self.left,
            too_deep: self.too_deep,
        }
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Access<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let seed = self.seed(seed);
        self.inner.next_element_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Access<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let seed = self.seed(seed);
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        let seed = self.seed(seed);
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, 'c, A: EnumAccess<'de>> EnumAccess<'de> for Access<'c, A> {
    type Error = A::Error;
    type Variant = Access<'c, A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        let seed = self.seed(seed);
        let (value, variant) = self.inner.variant_seed(seed)?;
        Ok((
            value,
            Access {
                inner: variant,
                left: self.left,
                too_deep: self.too_deep,
            },
        ))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Access<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        let seed = self.seed(seed);
        self.inner.newtype_variant_seed(seed)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let visitor = self.wrap(visitor);
        self.inner.tuple_variant(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let visitor = self.wrap(visitor);
        self.inner.struct_variant(fields, visitor)
    }
}

/// A seed that decodes through [`Limited`].
struct Seed<'c, T> {
    inner: T,
    left: usize,
    too_deep: &'c Cell<bool>,
}

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'_, T> {
    type Value = T::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T::Value, D::Error> {
        self.inner.deserialize(Limited {
            inner: deserializer,
            left: self.left,
            too_deep: self.too_deep,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use super::*;

    /// A recursive type, as an exported function might take.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Expr {
        Num(i64),
        Neg(Box<Expr>),
        Add(Box<Expr>, Box<Expr>),
        Let { name: String, body: Box<Expr> },
        List(Vec<Expr>),
        Maybe(Option<Box<Expr>>),
    }

    fn negations(depth: usize) -> Vec<u8> {
        // Neg is variant 1; a value n levels deep is n bytes of 0x01 then Num(0).
        let mut bytes = vec![1u8; depth];
        bytes.extend([0, 0]);
        bytes
    }

    #[test]
    fn values_within_the_bound_decode_as_postcard_does() {
        let mut map = BTreeMap::new();
        map.insert("k".to_string(), vec![Some((1u8, -2i64)), None]);
        let bytes = postcard::to_allocvec(&map).expect("encode");
        let plain: BTreeMap<String, Vec<Option<(u8, i64)>>> =
            postcard::from_bytes(&bytes).expect("plain");
        assert_eq!(
            from_postcard::<BTreeMap<String, Vec<Option<(u8, i64)>>>>(&bytes),
            Ok(plain)
        );

        let expr = Expr::Add(
            Box::new(Expr::Let {
                name: "x".into(),
                body: Box::new(Expr::List(vec![Expr::Num(3), Expr::Maybe(None)])),
            }),
            Box::new(Expr::Maybe(Some(Box::new(Expr::Neg(Box::new(Expr::Num(
                -7,
            ))))))),
        );
        let bytes = postcard::to_allocvec(&expr).expect("encode");
        assert_eq!(from_postcard::<Expr>(&bytes), Ok(expr));
        assert_eq!(
            from_postcard::<Expr>(&negations(100)).map(|_| ()),
            Ok(()),
            "100 levels is fine"
        );
    }

    #[test]
    fn a_value_nested_a_million_levels_is_refused_not_a_stack_overflow() {
        assert_eq!(
            from_postcard::<Expr>(&negations(1_000_000)),
            Err(NestingError::TooDeep)
        );
        // Through options and sequences as well as enums.
        let mut deep_list = vec![5u8; 200_000]; // List(vec![ ... one element ... ])
        for pair in deep_list.chunks_mut(2) {
            pair.copy_from_slice(&[4, 1][..pair.len()]);
        }
        assert_eq!(
            from_postcard::<Expr>(&deep_list),
            Err(NestingError::TooDeep)
        );
        let deep_options = [[5u8, 1].repeat(100_000), vec![0u8]].concat();
        assert_eq!(
            from_postcard::<Expr>(&deep_options),
            Err(NestingError::TooDeep)
        );
    }

    #[test]
    fn other_errors_are_not_called_nesting() {
        assert!(matches!(
            from_postcard::<Expr>(&[9]),
            Err(NestingError::Postcard(_))
        ));
        assert_eq!(from_postcard::<u8>(&[1, 2]), Err(NestingError::Trailing(1)));
    }
}
