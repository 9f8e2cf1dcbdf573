//! Enums whose variants each have one name, written once: `name()`, `Display`, serde and the
//! list of every variant all come from the same line.

/// Defines `enum $name` with `VARIANTS` (every variant, in order), `NAMES`, `name()`,
/// `from_name()`, `Display`, and serde as the name (an unknown name is refused, as
/// `#[derive(Deserialize)]` would).
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        $vis enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const VARIANTS: &'static [$name] = &[$($name::$variant),+];
            const NAMES: &'static [&'static str] = &[$($text),+];

            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// The variant called exactly `text`.
            pub fn from_name(text: &str) -> Option<$name> {
                Self::VARIANTS.iter().copied().find(|v| v.name() == text)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                $name::from_name(&text).ok_or_else(|| serde::de::Error::unknown_variant(&text, Self::NAMES))
            }
        }
    };
}
pub(crate) use named_enum;

#[cfg(test)]
mod tests {
    use crate::rollout::journal::StepOutcome;
    use crate::rollout::report::{PoolStatus, RunStatus};
    use crate::rollout::step::Step;

    /// Serde writes and reads back every variant under its name, and nothing else.
    fn round_trips<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug + Copy>(
        variants: &[T],
        name: fn(T) -> &'static str,
    ) {
        for &v in variants {
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(json, format!("\"{}\"", name(v)));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), v);
        }
        let names: std::collections::BTreeSet<_> = variants.iter().map(|&v| name(v)).collect();
        assert_eq!(names.len(), variants.len(), "names are distinct");
        let unknown = serde_json::from_str::<T>("\"no-such-name\"").unwrap_err().to_string();
        assert!(unknown.starts_with("unknown variant `no-such-name`, expected "), "{unknown}");
    }

    #[test]
    fn every_named_enum_round_trips_under_its_name() {
        round_trips(Step::VARIANTS, Step::name);
        round_trips(StepOutcome::VARIANTS, StepOutcome::name);
        round_trips(PoolStatus::VARIANTS, PoolStatus::name);
        round_trips(RunStatus::VARIANTS, RunStatus::name);
        assert_eq!(Step::VARIANTS.len(), 24);
        assert_eq!(serde_json::to_string(&PoolStatus::RolledBack).unwrap(), "\"rolled-back\"");
    }
}
