//! Layer arguments: what each kind of argument may be ([`ArgType`]), a kind's arguments
//! declared once as a typed struct ([`args!`]), and the matching of what the user wrote to
//! them ([`Slots`]).
//!
//! A declaration names each argument, its type and, where it has one, its default written
//! as the user would write it (`bias: Flag = "true"`); the default goes through the same
//! parser as the user's value, so it is typed and checked the same way, and the signature in
//! messages shows it as written. An argument that only has a meaning when given is
//! `name: Type or "what it is otherwise"` and reads as an `Option`. Shape rules receive the
//! typed struct: a required argument the user left out is an error before any rule runs,
//! never a value made up in its place.

mod param;
mod slots;
mod values;

pub use param::*;
pub use slots::{Args, NoArgs, Slots};
pub use values::*;

/// One of a few words, as an enum: `choice! { pub enum Act { Tanh = "tanh", Relu = "relu" } }`.
macro_rules! choice {
    ($(#[$attr:meta])* $vis:vis enum $name:ident { $($variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$attr])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis enum $name { $($variant),+ }

        impl $crate::args::ArgType for $name {
            type Value = $name;
            const KIND: $crate::args::ArgKind = $crate::args::ArgKind::Choice(&[$($word),+]);
            fn parse(
                expr: &syn::Expr,
                param: &$crate::args::Param,
                a: &$crate::args::ArgCx<'_>,
            ) -> Result<$name, $crate::ctxt::Reported> {
                let word = $crate::args::word(expr);
                $(if word.as_deref() == Some($word) {
                    return Ok($name::$variant);
                })+
                Err($crate::args::choice_error(expr, param, &[$($word),+], a))
            }
        }
    };
}
pub(crate) use choice;

/// Declares a kind's arguments once: the typed struct, its [`Param`]s and its parser.
///
/// ```text
/// args! {
///     pub struct DenseArgs {
///         /// the number of units
///         units: Count,
///         /// whether a bias is added
///         bias: Flag = "true",
///         /// the stride
///         stride: Pair or "window",
///     }
/// }
/// ```
///
/// Each field's doc comment is the argument in words, for messages; a field with `= "…"` has
/// that default; one with `or "…"` is an `Option`, `None` when left out.
macro_rules! args {
    (
        $(#[$attr:meta])*
        pub struct $name:ident {
            $(
                #[doc = $what:literal]
                $field:ident : $ty:ident $(= $default:literal)? $(or $derived:literal)?
            ),* $(,)?
        }
    ) => {
        $(#[$attr])*
        pub struct $name {
            $(pub $field: $crate::args::args!(@type $ty [$($default)?] [$($derived)?]),)*
        }

        impl $crate::args::Args for $name {
            const PARAMS: &'static [$crate::args::Param] = &[$(
                $crate::args::Param {
                    name: stringify!($field),
                    kind: <$ty as $crate::args::ArgType>::KIND,
                    default: $crate::args::args!(@default [$($default)?] [$($derived)?]),
                    what: $crate::args::trim_doc($what),
                },
            )*];

            #[allow(unused_assignments, unused_variables, unused_mut)]
            fn parse(
                slots: &$crate::args::Slots<'_>,
                a: &$crate::args::ArgCx<'_>,
            ) -> Result<Self, $crate::ctxt::Reported> {
                let mut slot = 0;
                $(
                    let $field = $crate::args::args!(
                        @read slots, a, slot, $ty [$($default)?] [$($derived)?]
                    );
                    slot += 1;
                )*
                Ok($name { $($field: $field?,)* })
            }
        }
    };
    (@type $ty:ident [] []) => { $crate::args::Spanned<<$ty as $crate::args::ArgType>::Value> };
    (@type $ty:ident [$default:literal] []) => { $crate::args::Spanned<<$ty as $crate::args::ArgType>::Value> };
    (@type $ty:ident [] [$derived:literal]) => {
        ::core::option::Option<$crate::args::Spanned<<$ty as $crate::args::ArgType>::Value>>
    };
    (@default [] []) => { $crate::args::Default::Required };
    (@default [$default:literal] []) => { $crate::args::Default::Value($default) };
    (@default [] [$derived:literal]) => { $crate::args::Default::Derived($derived) };
    (@read $slots:ident, $a:ident, $slot:ident, $ty:ident [] []) => {
        $slots.required::<$ty>($slot, $a)
    };
    (@read $slots:ident, $a:ident, $slot:ident, $ty:ident [$default:literal] []) => {
        $slots.or_default::<$ty>($slot, $default, $a)
    };
    (@read $slots:ident, $a:ident, $slot:ident, $ty:ident [] [$derived:literal]) => {
        $slots.optional::<$ty>($slot, $a)
    };
}
pub(crate) use args;
