//! Property tests over random schemas: additive changes are compatible at
//! every level, changes to the number, type or label of a used field are not
//! (BACKWARD). Each case compiles two schemas with protoc, so the case counts
//! stay small.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{proto3, schema};
use ecommerce_schema_compat::{Comparison, CompatibilityLevel, MessageSchema};
use proptest::prelude::*;

/// Field types, with their wire group (see the crate documentation).
const TYPES: &[(&str, u8)] = &[
    ("int32", 0),
    ("int64", 0),
    ("uint32", 0),
    ("uint64", 0),
    ("bool", 0),
    ("Status", 0),
    ("sint32", 1),
    ("sint64", 1),
    ("string", 2),
    ("bytes", 2),
    ("fixed32", 3),
    ("sfixed32", 3),
    ("fixed64", 4),
    ("sfixed64", 4),
    ("float", 5),
    ("double", 6),
    ("Money", 7),
];

const MONEY_GROUP: u8 = 7;
const STRING_GROUP: u8 = 2;

#[derive(Clone, Debug)]
struct Field {
    type_index: usize,
    repeated: bool,
    number: u32,
}

impl Field {
    fn group(&self) -> u8 {
        TYPES[self.type_index].1
    }

    fn is_numeric(&self) -> bool {
        self.group() != MONEY_GROUP && self.group() != STRING_GROUP
    }
}

#[derive(Clone, Debug)]
struct Schema {
    fields: Vec<Field>,
    status_values: u32,
    extra_top_level: bool,
    extra_nested: bool,
}

impl Schema {
    fn text(&self) -> String {
        let mut status = String::from("enum Status { STATUS_UNSPECIFIED = 0;");
        for value in 1..=self.status_values {
            status.push_str(&format!(" STATUS_{value} = {value};"));
        }
        status.push_str(" }");
        let mut order = String::from("message Order {");
        for field in &self.fields {
            let label = if field.repeated { "repeated " } else { "" };
            order.push_str(&format!(
                " {label}{} f{} = {};",
                TYPES[field.type_index].0, field.number, field.number
            ));
        }
        if self.extra_nested {
            order.push_str(" message Extra { string note = 1; }");
        }
        order.push_str(" }");
        let extra = if self.extra_top_level {
            "message Unrelated { int32 x = 1; }"
        } else {
            ""
        };
        proto3(&format!(
            "{status}\nmessage Money {{ int64 units = 1; string currency = 2; }}\n{order}\n{extra}"
        ))
    }

    fn compile(&self) -> MessageSchema {
        schema(&self.text(), "shop.v1.Order")
    }

    fn next_number(&self) -> u32 {
        self.fields
            .iter()
            .map(|field| field.number)
            .max()
            .unwrap_or(0)
            + 1
    }
}

/// A schema with at least one numeric field and fields of two wire groups
/// (field 1: a numeric scalar, field 2: a string), plus random fields.
fn base_schema() -> impl Strategy<Value = Schema> {
    (
        prop::collection::vec((0..TYPES.len(), any::<bool>()), 0..5),
        0..3_u32,
        0..TYPES.len() - 1,
    )
        .prop_map(|(extra, status_values, first_type)| {
            // Field 1 is a numeric scalar (not Money, not string/bytes).
            let numeric: Vec<usize> = (0..TYPES.len())
                .filter(|index| TYPES[*index].1 != MONEY_GROUP && TYPES[*index].1 != STRING_GROUP)
                .collect();
            let mut fields = vec![
                Field {
                    type_index: numeric[first_type % numeric.len()],
                    repeated: false,
                    number: 1,
                },
                Field {
                    type_index: 8, // string
                    repeated: false,
                    number: 2,
                },
            ];
            for (offset, (type_index, repeated)) in extra.into_iter().enumerate() {
                fields.push(Field {
                    type_index,
                    repeated,
                    number: 3 + offset as u32,
                });
            }
            Schema {
                fields,
                status_values,
                extra_top_level: false,
                extra_nested: false,
            }
        })
}

#[derive(Clone, Debug)]
/// An additive change: something new.
enum Additive {
    Field { type_index: usize, repeated: bool },
    TopLevelMessage,
    NestedMessage,
    EnumValue,
}

fn additive() -> impl Strategy<Value = Additive> {
    prop_oneof![
        (0..TYPES.len(), any::<bool>()).prop_map(|(type_index, repeated)| Additive::Field {
            type_index,
            repeated
        }),
        Just(Additive::TopLevelMessage),
        Just(Additive::NestedMessage),
        Just(Additive::EnumValue),
    ]
}

fn apply_additive(base: &Schema, change: &Additive) -> Schema {
    let mut changed = base.clone();
    match change {
        Additive::Field {
            type_index,
            repeated,
        } => changed.fields.push(Field {
            type_index: *type_index,
            repeated: *repeated,
            number: base.next_number(),
        }),
        Additive::TopLevelMessage => changed.extra_top_level = true,
        Additive::NestedMessage => changed.extra_nested = true,
        Additive::EnumValue => changed.status_values += 1,
    }
    changed
}

#[derive(Clone, Debug)]
enum Breaking {
    /// A used field gets a type of another wire group.
    Retype { field: usize, type_choice: usize },
    /// A numeric field changes between singular and repeated.
    Relabel { field: usize },
    /// Two fields of different wire groups swap numbers.
    SwapNumbers { field: usize },
}

fn breaking() -> impl Strategy<Value = Breaking> {
    prop_oneof![
        (0..16_usize, 0..TYPES.len())
            .prop_map(|(field, type_choice)| Breaking::Retype { field, type_choice }),
        (0..16_usize).prop_map(|field| Breaking::Relabel { field }),
        (0..16_usize).prop_map(|field| Breaking::SwapNumbers { field }),
    ]
}

fn apply_breaking(base: &Schema, change: &Breaking) -> Schema {
    let mut changed = base.clone();
    match change {
        Breaking::Retype { field, type_choice } => {
            let target = &mut changed.fields[field % base.fields.len()];
            let other_groups: Vec<usize> = (0..TYPES.len())
                .filter(|index| TYPES[*index].1 != target.group())
                .collect();
            target.type_index = other_groups[type_choice % other_groups.len()];
        }
        Breaking::Relabel { field } => {
            let numeric: Vec<usize> = (0..base.fields.len())
                .filter(|index| base.fields[*index].is_numeric())
                .collect();
            let target = &mut changed.fields[numeric[field % numeric.len()]];
            target.repeated = !target.repeated;
        }
        Breaking::SwapNumbers { field } => {
            let first = field % base.fields.len();
            let second = (0..base.fields.len())
                .find(|index| base.fields[*index].group() != base.fields[first].group())
                .unwrap();
            let first_number = changed.fields[first].number;
            changed.fields[first].number = changed.fields[second].number;
            changed.fields[second].number = first_number;
        }
    }
    changed
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn additive_changes_are_compatible_at_every_level(base in base_schema(), change in additive()) {
        let changed = apply_additive(&base, &change);
        let comparison = Comparison::between(&base.compile(), &changed.compile());
        for verdict in &comparison.verdicts {
            prop_assert!(
                verdict.is_compatible(),
                "{} breaks {}: {:#?}\nold:\n{}\nnew:\n{}",
                verdict.level,
                change_name(&change),
                verdict.incompatibilities,
                base.text(),
                changed.text()
            );
        }
    }

    #[test]
    fn number_type_and_label_changes_of_a_used_field_are_not_backward_compatible(
        base in base_schema(),
        change in breaking(),
    ) {
        let changed = apply_breaking(&base, &change);
        let comparison = Comparison::between(&base.compile(), &changed.compile());
        for level in [
            CompatibilityLevel::Backward,
            CompatibilityLevel::Full,
            CompatibilityLevel::WireStrict,
        ] {
            prop_assert!(
                !comparison.is_compatible(level),
                "{change:?} passes {level}\nold:\n{}\nnew:\n{}",
                base.text(),
                changed.text()
            );
        }
        prop_assert!(comparison.is_compatible(CompatibilityLevel::None));
    }

    #[test]
    fn renumbering_a_field_breaks_wire_strict(base in base_schema(), field in 0..16_usize) {
        // BACKWARD (Confluent) sees a renumbering as a removal plus an
        // addition, both compatible; WIRE_STRICT wants the old number reserved.
        let mut changed = base.clone();
        let next = base.next_number();
        let target = field % base.fields.len();
        changed.fields[target].number = next;
        let comparison = Comparison::between(&base.compile(), &changed.compile());
        prop_assert!(comparison.is_compatible(CompatibilityLevel::FullTransitive));
        prop_assert!(!comparison.is_compatible(CompatibilityLevel::WireStrict));
    }
}

fn change_name(change: &Additive) -> String {
    match change {
        Additive::Field {
            type_index,
            repeated,
        } => format!(
            "a new field ({}{})",
            if *repeated { "repeated " } else { "" },
            TYPES[*type_index].0
        ),
        Additive::TopLevelMessage => "a new top-level message".to_owned(),
        Additive::NestedMessage => "a new nested message".to_owned(),
        Additive::EnumValue => "a new enum value".to_owned(),
    }
}
