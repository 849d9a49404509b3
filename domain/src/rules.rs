//! Small pieces shared by the aggregates' commands and rules. Each aggregate
//! keeps its own error type, so the helpers here return plain values and the
//! aggregate turns a `None` into its own refusal.

use std::fmt;

/// The trimmed text, or `None` when it is blank.
pub(crate) fn trimmed(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// The items without repeats, in the order first given: an item ticked twice
/// on a form means the same as ticked once.
pub(crate) fn distinct<T: PartialEq + Clone>(items: &[T]) -> Vec<T> {
    let mut unique: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if !unique.contains(item) {
            unique.push(item.clone());
        }
    }
    unique
}

/// Stands in for a personal value in `Debug` output.
pub(crate) struct Sealed;

impl fmt::Debug for Sealed {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("<sealed>")
    }
}

/// Implements `Debug` showing the listed personal fields as `<sealed>`:
/// commands get logged, and logs are not where personal data may go. The
/// destructuring makes a newly added field a compile error here until it is
/// listed as either plain or sealed.
macro_rules! debug_with_sealed_fields {
    ($command:ident { plain: [$($plain:ident),* $(,)?], sealed: [$($sealed:ident),* $(,)?] $(,)? }) => {
        impl ::std::fmt::Debug for $command {
            fn fmt(&self, formatter: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                let $command { $($plain,)* $($sealed: _,)* } = self;
                formatter
                    .debug_struct(stringify!($command))
                    $(.field(stringify!($plain), $plain))*
                    $(.field(stringify!($sealed), &$crate::rules::Sealed))*
                    .finish()
            }
        }
    };
}

/// `impl From<Command> for Action` for each command struct, so that
/// `XCommand::new(today, command)` takes the struct directly.
macro_rules! action_from_command {
    ($action:ident: $($command:ident),+ $(,)?) => {
        $(
            impl From<$command> for $action {
                fn from(command: $command) -> Self {
                    $action::$command(command)
                }
            }
        )+
    };
}

pub(crate) use action_from_command;
pub(crate) use debug_with_sealed_fields;
