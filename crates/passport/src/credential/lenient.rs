//! Lenient reading of another issuer's JSON: types that take whatever shape a member has, keep what
//! they can read and treat the rest as absent, borrowing strings from the payload where they can.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// How a lenient type reads each JSON shape. Whatever a type does not override reads as its default,
/// and an object or array it does not read is drained unread.
pub(super) trait ShapeRead<'de>: Sized + Default {
    fn from_str(_: Cow<'de, str>) -> Self {
        Self::default()
    }

    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        IgnoredAny.visit_map(map)?;
        Ok(Self::default())
    }

    fn from_seq<A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        IgnoredAny.visit_seq(seq)?;
        Ok(Self::default())
    }
}

/// The one visitor behind every [`ShapeRead`] type: it takes any JSON value.
pub(super) struct ShapeVisitor<T>(PhantomData<T>);

impl<T> ShapeVisitor<T> {
    pub(super) fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error>
    where
        T: ShapeRead<'de>,
    {
        deserializer.deserialize_any(ShapeVisitor(PhantomData))
    }
}

impl<'de, T: ShapeRead<'de>> Visitor<'de> for ShapeVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<T, E> {
        Ok(T::from_str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok(T::from_str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<T, E> {
        Ok(T::from_str(Cow::Owned(v)))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::from_map(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::from_seq(seq)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }
}

/// A JSON string, borrowed from the payload where it has no escapes; any other value reads as absent.
#[derive(Default)]
pub(super) struct Text<'a>(pub(super) Option<Cow<'a, str>>);

impl Text<'_> {
    pub(super) fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'de: 'a, 'a> ShapeRead<'de> for Text<'a> {
    fn from_str(s: Cow<'de, str>) -> Self {
        Text(Some(s))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ShapeVisitor::read(deserializer)
    }
}

/// A string or a list of them (OB 3.0 allows either for `type`); other entries are skipped.
#[derive(Default)]
pub(super) struct TextList<'a>(pub(super) Vec<Cow<'a, str>>);

impl<'de: 'a, 'a> ShapeRead<'de> for TextList<'a> {
    fn from_str(s: Cow<'de, str>) -> Self {
        TextList(vec![s])
    }

    fn from_seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut items = Vec::new();
        while let Some(Text(item)) = seq.next_element()? {
            items.extend(item);
        }
        Ok(TextList(items))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for TextList<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ShapeVisitor::read(deserializer)
    }
}

/// An object read as `T`; any other value reads as `T::default()`.
#[derive(Default)]
pub(super) struct Lenient<T>(pub(super) T);

impl<'de, T: Deserialize<'de> + Default> ShapeRead<'de> for Lenient<T> {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Lenient)
    }
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ShapeVisitor::read(deserializer)
    }
}

/// An array read as `Vec<T>`; any other value reads as empty.
pub(super) struct LenientList<T>(pub(super) Vec<T>);

impl<T> Default for LenientList<T> {
    fn default() -> Self {
        LenientList(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> ShapeRead<'de> for LenientList<T> {
    fn from_seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(LenientList(items))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for LenientList<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ShapeVisitor::read(deserializer)
    }
}
