//! Wire names of fieldless serde enums, written once per enum.
//!
//! Code that needs a kind's name (edge IDs, `hide=` tokens, messages) calls `as_str` instead of
//! serializing the value: one macro keeps the names and the list of variants in one place, and
//! each enum's test checks them against what serde writes (`wire_names!`).

/// Gives a fieldless enum `as_str` (the name serde writes for it) and `ALL` (every variant, in
/// order), both from one list: the `match` in `as_str` is exhaustive, so a variant added to the
/// enum but not here does not compile, and `ALL` is complete whenever it does.
macro_rules! wire_names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The name serde writes for it (its wire name).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }
    };
}

/// Test helper: each value's `as_str` equals its serde serialization and parses back to it.
#[cfg(test)]
pub(crate) fn assert_wire_names<T>(all: &[T], as_str: impl Fn(&T) -> &'static str)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let mut seen = std::collections::HashSet::new();
    for v in all {
        let name = as_str(v);
        assert_eq!(
            serde_json::to_value(v).unwrap(),
            serde_json::Value::String(name.to_owned()),
            "{v:?}"
        );
        assert_eq!(&serde_json::from_value::<T>(name.into()).unwrap(), v);
        assert!(seen.insert(name), "{name} twice");
    }
}
