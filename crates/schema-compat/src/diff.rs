//! What changed between two schemas, and whether each change is compatible.
//!
//! The rules follow the protobuf checker of the Confluent Schema Registry
//! (`io.confluent.kafka.schemaregistry.protobuf.diff`): fields match by
//! number (oneof members included), nested messages and enums by name within
//! their scope, referenced messages are compared structurally when their
//! names (without the package) agree. Where Confluent is wrong about the wire
//! the rules are stricter (a numeric field turned repeated in proto3, a
//! required field turned optional); see the crate documentation for every
//! deviation.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::ops::Range;

use prost_reflect::{Cardinality, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor};

use crate::schema::MessageSchema;

/// What changed between two schemas.
///
/// The kind is relative to the comparison it comes from: `compare(old, new)`
/// reports a field `new` has and `old` lacks as [`FieldAdded`]. When a level
/// reads in the forward direction (an old reader meets data written with the
/// candidate), the schemas swap roles, so the candidate's removal of a
/// required field shows up as [`RequiredFieldAdded`]; its human line still
/// tells what the candidate did ("required field 3 (id) removed from ...").
///
/// [`FieldAdded`]: DifferenceKind::FieldAdded
/// [`RequiredFieldAdded`]: DifferenceKind::RequiredFieldAdded
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DifferenceKind {
    /// The package of the compared message changed.
    PackageChanged,
    /// The compared message itself has another name (the old one is gone).
    MessageRenamed,
    /// A nested message was added.
    MessageAdded,
    /// A nested message was removed.
    MessageRemoved,
    /// A message moved to another position among its siblings.
    MessageMoved,
    /// A nested enum was added.
    EnumAdded,
    /// A nested enum was removed.
    EnumRemoved,
    /// An enum value (number) was added.
    EnumConstAdded,
    /// An enum value number got another name.
    EnumConstChanged,
    /// An enum value (number) was removed.
    EnumConstRemoved,
    /// A field (number) was added.
    FieldAdded,
    /// A field (number) was removed.
    FieldRemoved,
    /// A field number got another name.
    FieldNameChanged,
    /// A field changed between scalar (enums included), message, group and map.
    FieldKindChanged,
    /// A scalar field changed to a scalar type of another wire group.
    FieldScalarKindChanged,
    /// A message field now has a message type of another name, or its message
    /// type changed incompatibly.
    FieldNamedTypeChanged,
    /// A numeric (or enum) field changed between singular and repeated.
    FieldNumericLabelChanged,
    /// A string or bytes field changed between singular and repeated.
    FieldStringOrBytesLabelChanged,
    /// A message field changed between singular and repeated.
    FieldMessageLabelChanged,
    /// A singular field changed between required and optional (proto2).
    FieldRequiredChanged,
    /// A required field was added (proto2).
    RequiredFieldAdded,
    /// A required field was removed (proto2).
    RequiredFieldRemoved,
    /// A oneof was added.
    OneofAdded,
    /// A oneof was removed (its members with it).
    OneofRemoved,
    /// A field was added to an existing oneof.
    OneofFieldAdded,
    /// A field was removed from a oneof that still exists.
    OneofFieldRemoved,
    /// Two or more top-level fields moved into one oneof: data that set both
    /// keeps only one.
    MultipleFieldsMovedToOneof,
    /// A top-level field moved into a oneof whose other members already were
    /// in a oneof.
    FieldMovedToExistingOneof,
    /// WIRE_STRICT: a field was removed without reserving its number, which
    /// a later version could then reuse with another type.
    FieldRemovedNotReserved,
    /// WIRE_STRICT: a field uses a number the older version reserved.
    ReservedNumberReused,
    /// WIRE_STRICT: a field uses a name the older version reserved.
    ReservedNameReused,
    /// WIRE_STRICT: numbers the older version reserved are no longer reserved
    /// (nor used by a field), so a later version could reuse them.
    ReservedNumberDropped,
}

impl DifferenceKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 32] = [
        Self::PackageChanged,
        Self::MessageRenamed,
        Self::MessageAdded,
        Self::MessageRemoved,
        Self::MessageMoved,
        Self::EnumAdded,
        Self::EnumRemoved,
        Self::EnumConstAdded,
        Self::EnumConstChanged,
        Self::EnumConstRemoved,
        Self::FieldAdded,
        Self::FieldRemoved,
        Self::FieldNameChanged,
        Self::FieldKindChanged,
        Self::FieldScalarKindChanged,
        Self::FieldNamedTypeChanged,
        Self::FieldNumericLabelChanged,
        Self::FieldStringOrBytesLabelChanged,
        Self::FieldMessageLabelChanged,
        Self::FieldRequiredChanged,
        Self::RequiredFieldAdded,
        Self::RequiredFieldRemoved,
        Self::OneofAdded,
        Self::OneofRemoved,
        Self::OneofFieldAdded,
        Self::OneofFieldRemoved,
        Self::MultipleFieldsMovedToOneof,
        Self::FieldMovedToExistingOneof,
        Self::FieldRemovedNotReserved,
        Self::ReservedNumberReused,
        Self::ReservedNameReused,
        Self::ReservedNumberDropped,
    ];

    /// Whether a reader keeps working across this change (in the direction
    /// of the comparison that found it).
    pub fn is_compatible(self) -> bool {
        match self {
            Self::MessageAdded
            | Self::MessageRemoved
            | Self::MessageMoved
            | Self::EnumAdded
            | Self::EnumRemoved
            | Self::EnumConstAdded
            | Self::EnumConstChanged
            | Self::EnumConstRemoved
            | Self::FieldAdded
            | Self::FieldRemoved
            | Self::FieldNameChanged
            | Self::FieldStringOrBytesLabelChanged
            | Self::FieldMessageLabelChanged
            | Self::OneofAdded
            | Self::OneofRemoved
            | Self::OneofFieldAdded => true,
            Self::PackageChanged
            | Self::MessageRenamed
            | Self::FieldKindChanged
            | Self::FieldScalarKindChanged
            | Self::FieldNamedTypeChanged
            | Self::FieldNumericLabelChanged
            | Self::FieldRequiredChanged
            | Self::RequiredFieldAdded
            | Self::RequiredFieldRemoved
            | Self::OneofFieldRemoved
            | Self::MultipleFieldsMovedToOneof
            | Self::FieldMovedToExistingOneof
            | Self::FieldRemovedNotReserved
            | Self::ReservedNumberReused
            | Self::ReservedNameReused
            | Self::ReservedNumberDropped => false,
        }
    }

    /// Whether only WIRE_STRICT reports this kind (from [`compare_reserved`]).
    pub fn is_wire_strict_only(self) -> bool {
        match self {
            Self::FieldRemovedNotReserved
            | Self::ReservedNumberReused
            | Self::ReservedNameReused
            | Self::ReservedNumberDropped => true,
            Self::PackageChanged
            | Self::MessageRenamed
            | Self::MessageAdded
            | Self::MessageRemoved
            | Self::MessageMoved
            | Self::EnumAdded
            | Self::EnumRemoved
            | Self::EnumConstAdded
            | Self::EnumConstChanged
            | Self::EnumConstRemoved
            | Self::FieldAdded
            | Self::FieldRemoved
            | Self::FieldNameChanged
            | Self::FieldKindChanged
            | Self::FieldScalarKindChanged
            | Self::FieldNamedTypeChanged
            | Self::FieldNumericLabelChanged
            | Self::FieldStringOrBytesLabelChanged
            | Self::FieldMessageLabelChanged
            | Self::FieldRequiredChanged
            | Self::RequiredFieldAdded
            | Self::RequiredFieldRemoved
            | Self::OneofAdded
            | Self::OneofRemoved
            | Self::OneofFieldAdded
            | Self::OneofFieldRemoved
            | Self::MultipleFieldsMovedToOneof
            | Self::FieldMovedToExistingOneof => false,
        }
    }

    /// The Confluent-style name, e.g. `FIELD_SCALAR_KIND_CHANGED`.
    pub fn name(self) -> &'static str {
        match self {
            Self::PackageChanged => "PACKAGE_CHANGED",
            Self::MessageRenamed => "MESSAGE_RENAMED",
            Self::MessageAdded => "MESSAGE_ADDED",
            Self::MessageRemoved => "MESSAGE_REMOVED",
            Self::MessageMoved => "MESSAGE_MOVED",
            Self::EnumAdded => "ENUM_ADDED",
            Self::EnumRemoved => "ENUM_REMOVED",
            Self::EnumConstAdded => "ENUM_CONST_ADDED",
            Self::EnumConstChanged => "ENUM_CONST_CHANGED",
            Self::EnumConstRemoved => "ENUM_CONST_REMOVED",
            Self::FieldAdded => "FIELD_ADDED",
            Self::FieldRemoved => "FIELD_REMOVED",
            Self::FieldNameChanged => "FIELD_NAME_CHANGED",
            Self::FieldKindChanged => "FIELD_KIND_CHANGED",
            Self::FieldScalarKindChanged => "FIELD_SCALAR_KIND_CHANGED",
            Self::FieldNamedTypeChanged => "FIELD_NAMED_TYPE_CHANGED",
            Self::FieldNumericLabelChanged => "FIELD_NUMERIC_LABEL_CHANGED",
            Self::FieldStringOrBytesLabelChanged => "FIELD_STRING_OR_BYTES_LABEL_CHANGED",
            Self::FieldMessageLabelChanged => "FIELD_MESSAGE_LABEL_CHANGED",
            Self::FieldRequiredChanged => "FIELD_REQUIRED_CHANGED",
            Self::RequiredFieldAdded => "REQUIRED_FIELD_ADDED",
            Self::RequiredFieldRemoved => "REQUIRED_FIELD_REMOVED",
            Self::OneofAdded => "ONEOF_ADDED",
            Self::OneofRemoved => "ONEOF_REMOVED",
            Self::OneofFieldAdded => "ONEOF_FIELD_ADDED",
            Self::OneofFieldRemoved => "ONEOF_FIELD_REMOVED",
            Self::MultipleFieldsMovedToOneof => "MULTIPLE_FIELDS_MOVED_TO_ONEOF",
            Self::FieldMovedToExistingOneof => "FIELD_MOVED_TO_EXISTING_ONEOF",
            Self::FieldRemovedNotReserved => "FIELD_REMOVED_NOT_RESERVED",
            Self::ReservedNumberReused => "RESERVED_NUMBER_REUSED",
            Self::ReservedNameReused => "RESERVED_NAME_REUSED",
            Self::ReservedNumberDropped => "RESERVED_NUMBER_DROPPED",
        }
    }
}

impl fmt::Display for DifferenceKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// One difference between an old and a new schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    pub kind: DifferenceKind,
    /// `#/OrderPlaced/3`, `#/OrderPlaced/Line/2`: the message's name without
    /// the package (nested names as segments), then the field number, oneof
    /// or nested type name. `#/` is the compared message's package.
    pub path: String,
    /// One human line, e.g. "field 3 (currency) of
    /// ecommerce.orders.v1.OrderPlaced changed type from string to int64".
    /// Worded from the older schema to the newer one, whichever direction the
    /// comparison ran in.
    pub message: String,
}

impl Difference {
    pub fn is_compatible(&self) -> bool {
        self.kind.is_compatible()
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.path, self.message)
    }
}

/// Every difference from `old` to `new` (compatible ones included), as a
/// reader with `new` sees data written with `old`: the BACKWARD direction.
/// For FORWARD, the registry compares the other way round; see
/// [`crate::Comparison`].
pub fn compare(old: &MessageSchema, new: &MessageSchema) -> Vec<Difference> {
    analyze(old.message(), new.message(), Wording::OldToNew).differences
}

/// The WIRE_STRICT differences from `old` to `new`, over the same messages
/// [`compare`] visits: fields removed without reserving their number, fields
/// reusing a number or name `old` reserved, reserved numbers no longer
/// reserved. All are incompatible.
pub fn compare_reserved(old: &MessageSchema, new: &MessageSchema) -> Vec<Difference> {
    let analysis = analyze(old.message(), new.message(), Wording::OldToNew);
    let mut differences = Vec::new();
    for pair in &analysis.message_pairs {
        reserved_differences(pair, &mut differences);
    }
    differences
}

/// The differences a reader with the older schema finds in data written with
/// the candidate: `compare(candidate, previous)`, worded from `previous` to
/// `candidate`.
pub(crate) fn compare_forward(
    previous: &MessageSchema,
    candidate: &MessageSchema,
) -> Vec<Difference> {
    analyze(candidate.message(), previous.message(), Wording::NewToOld).differences
}

/// How lines are worded: the comparison's old side is the older schema, or
/// (forward direction) the candidate.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wording {
    OldToNew,
    NewToOld,
}

struct Analysis {
    differences: Vec<Difference>,
    /// Every message pair compared, for the WIRE_STRICT rules.
    message_pairs: Vec<ComparedPair>,
}

struct ComparedPair {
    old: MessageDescriptor,
    new: MessageDescriptor,
    path: String,
}

struct MessagePair {
    old: MessageDescriptor,
    new: MessageDescriptor,
    /// `#/Outer/Inner`, named after the candidate's side.
    path: String,
    items: Vec<Item>,
}

enum Item {
    Difference(Difference),
    /// A message field whose type pair is `target`: reported (as this
    /// difference) only when that pair turns out incompatible.
    Reference {
        target: usize,
        difference: Difference,
    },
}

fn analyze(old: &MessageDescriptor, new: &MessageDescriptor, wording: Wording) -> Analysis {
    let mut differ = Differ {
        wording,
        pairs: Vec::new(),
        pair_index: HashMap::new(),
        queue: VecDeque::new(),
        compared_enums: HashSet::new(),
    };
    let root = differ.message_pair(old, new);
    differ.root_differences(root);
    while let Some(index) = differ.queue.pop_front() {
        differ.message_differences(index);
    }
    let pairs = differ.pairs;

    // A message is incompatible if it has an incompatible difference, or a
    // field whose message type is: iterate to a fixpoint, since the message
    // graph may have cycles.
    let mut incompatible: Vec<bool> = pairs
        .iter()
        .map(|pair| {
            pair.items.iter().any(
                |item| matches!(item, Item::Difference(difference) if !difference.is_compatible()),
            )
        })
        .collect();
    loop {
        let mut changed = false;
        for (index, pair) in pairs.iter().enumerate() {
            if incompatible[index] {
                continue;
            }
            let reaches_incompatible = pair.items.iter().any(
                |item| matches!(item, Item::Reference { target, .. } if incompatible[*target]),
            );
            if reaches_incompatible {
                incompatible[index] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }

    let mut differences = Vec::new();
    let mut message_pairs = Vec::with_capacity(pairs.len());
    for pair in pairs {
        for item in pair.items {
            match item {
                Item::Difference(difference) => differences.push(difference),
                Item::Reference { target, difference } => {
                    if incompatible[target] {
                        differences.push(difference);
                    }
                }
            }
        }
        message_pairs.push(ComparedPair {
            old: pair.old,
            new: pair.new,
            path: pair.path,
        });
    }
    Analysis {
        differences,
        message_pairs,
    }
}

struct Differ {
    wording: Wording,
    pairs: Vec<MessagePair>,
    pair_index: HashMap<(String, String), usize>,
    queue: VecDeque<usize>,
    compared_enums: HashSet<(String, String)>,
}

impl Differ {
    /// The pair's index; a new pair is queued for comparison, so each pair is
    /// compared once and recursion cycles end.
    fn message_pair(&mut self, old: &MessageDescriptor, new: &MessageDescriptor) -> usize {
        let key = (old.full_name().to_owned(), new.full_name().to_owned());
        if let Some(&index) = self.pair_index.get(&key) {
            return index;
        }
        let index = self.pairs.len();
        let path = type_path(
            self.candidate(old, new).full_name(),
            self.candidate(old, new).package_name(),
        );
        self.pairs.push(MessagePair {
            old: old.clone(),
            new: new.clone(),
            path,
            items: Vec::new(),
        });
        self.pair_index.insert(key, index);
        self.queue.push_back(index);
        index
    }

    /// Of the comparison's two sides, the one the older schema is on.
    fn previous<'a, T>(&self, old: &'a T, new: &'a T) -> &'a T {
        match self.wording {
            Wording::OldToNew => old,
            Wording::NewToOld => new,
        }
    }

    /// Of the comparison's two sides, the one the candidate is on.
    fn candidate<'a, T>(&self, old: &'a T, new: &'a T) -> &'a T {
        match self.wording {
            Wording::OldToNew => new,
            Wording::NewToOld => old,
        }
    }

    /// Whether what only one side has (`in_new`: the comparison's new side)
    /// is, seen from the older schema to the candidate, an addition.
    fn is_addition(&self, in_new: bool) -> bool {
        in_new == (self.wording == Wording::OldToNew)
    }

    fn added_or_removed(&self, in_new: bool) -> &'static str {
        if self.is_addition(in_new) {
            "added"
        } else {
            "removed"
        }
    }

    fn added_to_or_removed_from(&self, in_new: bool) -> &'static str {
        if self.is_addition(in_new) {
            "added to"
        } else {
            "removed from"
        }
    }

    fn root_differences(&mut self, root: usize) {
        let old = self.pairs[root].old.clone();
        let new = self.pairs[root].new.clone();
        let mut items = Vec::new();
        if old.package_name() != new.package_name() {
            let previous = self.previous(&old, &new).package_name();
            let candidate = self.candidate(&old, &new).package_name();
            items.push(plain(
                DifferenceKind::PackageChanged,
                "#/".to_owned(),
                format!(
                    "package of {} changed from {} to {}",
                    self.candidate(&old, &new).full_name(),
                    display_package(previous),
                    display_package(candidate),
                ),
            ));
        }
        let old_local = local_name(old.full_name(), old.package_name());
        let new_local = local_name(new.full_name(), new.package_name());
        if old_local != new_local {
            items.push(plain(
                DifferenceKind::MessageRenamed,
                self.pairs[root].path.clone(),
                format!(
                    "message {} is now {}",
                    self.previous(&old, &new).full_name(),
                    self.candidate(&old, &new).full_name(),
                ),
            ));
        }
        let old_position = sibling_position(&old);
        let new_position = sibling_position(&new);
        if old_position != new_position {
            items.push(plain(
                DifferenceKind::MessageMoved,
                self.pairs[root].path.clone(),
                format!(
                    "message {} moved from position {} to {} of its file",
                    self.candidate(&old, &new).full_name(),
                    self.previous(&old_position, &new_position) + 1,
                    self.candidate(&old_position, &new_position) + 1,
                ),
            ));
        }
        self.pairs[root].items.extend(items);
    }

    fn message_differences(&mut self, index: usize) {
        let old = self.pairs[index].old.clone();
        let new = self.pairs[index].new.clone();
        let path = self.pairs[index].path.clone();
        let subject = self.candidate(&old, &new).full_name().to_owned();
        let mut items = Vec::new();

        let old_fields = FieldTable::of(&old);
        let new_fields = FieldTable::of(&new);

        // Oneof membership: a oneof of the new side may take in one former
        // top-level field, and only if its other members were in no oneof
        // before; otherwise data that set several of them keeps only one.
        for (oneof, members) in &new_fields.oneofs {
            let moved: Vec<u32> = members
                .iter()
                .copied()
                .filter(|number| {
                    old_fields.fields.contains_key(number) && old_fields.oneof_of(*number).is_none()
                })
                .collect();
            let already_in_oneof = members
                .iter()
                .filter(|number| old_fields.oneof_of(**number).is_some())
                .count();
            let oneof_path = format!("{path}/{oneof}");
            if moved.len() > 1 {
                let line = match self.wording {
                    Wording::OldToNew => format!(
                        "fields {} of {subject} moved into oneof {oneof}: data that sets several keeps only one",
                        join_numbers(&moved)
                    ),
                    Wording::NewToOld => format!(
                        "fields {} of {subject} moved out of oneof {oneof}: a reader with the older schema keeps only one of them",
                        join_numbers(&moved)
                    ),
                };
                items.push(plain(
                    DifferenceKind::MultipleFieldsMovedToOneof,
                    oneof_path,
                    line,
                ));
            } else if moved.len() == 1 && already_in_oneof > 0 {
                let line = match self.wording {
                    Wording::OldToNew => format!(
                        "field {} of {subject} moved into oneof {oneof}, whose other members were already in a oneof",
                        moved[0]
                    ),
                    Wording::NewToOld => format!(
                        "field {} of {subject} moved out of oneof {oneof}: a reader with the older schema keeps only one of it and the oneof's other members",
                        moved[0]
                    ),
                };
                items.push(plain(
                    DifferenceKind::FieldMovedToExistingOneof,
                    oneof_path,
                    line,
                ));
            }
        }

        // Oneofs by name.
        let oneof_names: BTreeSet<&String> = old_fields
            .oneofs
            .keys()
            .chain(new_fields.oneofs.keys())
            .collect();
        for oneof in oneof_names {
            let oneof_path = format!("{path}/{oneof}");
            match (old_fields.oneofs.get(oneof), new_fields.oneofs.get(oneof)) {
                (Some(_), None) => items.push(plain(
                    DifferenceKind::OneofRemoved,
                    oneof_path,
                    format!(
                        "oneof {oneof} {} {subject}",
                        self.added_to_or_removed_from(false)
                    ),
                )),
                (None, Some(_)) => items.push(plain(
                    DifferenceKind::OneofAdded,
                    oneof_path,
                    format!(
                        "oneof {oneof} {} {subject}",
                        self.added_to_or_removed_from(true)
                    ),
                )),
                (Some(old_members), Some(new_members)) => {
                    for number in old_members.difference(new_members) {
                        if !new_fields.fields.contains_key(number) {
                            let field = &old_fields.fields[number];
                            items.push(plain(
                                DifferenceKind::OneofFieldRemoved,
                                format!("{oneof_path}/{number}"),
                                format!(
                                    "field {number} ({}) {} oneof {oneof} of {subject}",
                                    field.name(),
                                    self.added_to_or_removed_from(false)
                                ),
                            ));
                        }
                    }
                    for number in new_members.difference(old_members) {
                        let field = &new_fields.fields[number];
                        items.push(plain(
                            DifferenceKind::OneofFieldAdded,
                            format!("{oneof_path}/{number}"),
                            format!(
                                "field {number} ({}) {} oneof {oneof} of {subject}",
                                field.name(),
                                self.added_to_or_removed_from(true)
                            ),
                        ));
                    }
                }
                (None, None) => {}
            }
        }

        // Fields by number, oneof members included.
        let numbers: BTreeSet<u32> = old_fields
            .fields
            .keys()
            .chain(new_fields.fields.keys())
            .copied()
            .collect();
        for number in numbers {
            let field_path = format!("{path}/{number}");
            match (
                old_fields.fields.get(&number),
                new_fields.fields.get(&number),
            ) {
                (Some(old_field), None) => {
                    // A member removed from a oneof that stays is ONEOF_FIELD_REMOVED.
                    let oneof_stays = old_fields
                        .oneof_of(number)
                        .is_some_and(|oneof| new_fields.oneofs.contains_key(oneof));
                    if !oneof_stays {
                        let kind = if old_field.is_required() {
                            DifferenceKind::RequiredFieldRemoved
                        } else {
                            DifferenceKind::FieldRemoved
                        };
                        items.push(plain(
                            kind,
                            field_path,
                            self.presence_line(old_field, &subject, false),
                        ));
                    }
                }
                (None, Some(new_field)) => {
                    // A member added to a oneof that existed is ONEOF_FIELD_ADDED.
                    let oneof_existed = new_fields
                        .oneof_of(number)
                        .is_some_and(|oneof| old_fields.oneofs.contains_key(oneof));
                    if !oneof_existed {
                        let kind = if new_field.is_required() {
                            DifferenceKind::RequiredFieldAdded
                        } else {
                            DifferenceKind::FieldAdded
                        };
                        items.push(plain(
                            kind,
                            field_path,
                            self.presence_line(new_field, &subject, true),
                        ));
                    }
                }
                (Some(old_field), Some(new_field)) => {
                    self.field_differences(&mut items, &field_path, &subject, old_field, new_field);
                }
                (None, None) => {}
            }
        }

        self.nested_differences(&mut items, &path, &subject, &old, &new);
        self.pairs[index].items.extend(items);
    }

    fn presence_line(&self, field: &FieldDescriptor, subject: &str, in_new: bool) -> String {
        let required = if field.is_required() { "required " } else { "" };
        format!(
            "{required}field {} ({}) {} {subject}",
            field.number(),
            field.name(),
            self.added_to_or_removed_from(in_new)
        )
    }

    fn field_differences(
        &mut self,
        items: &mut Vec<Item>,
        path: &str,
        subject: &str,
        old: &FieldDescriptor,
        new: &FieldDescriptor,
    ) {
        let number = old.number();
        if old.name() != new.name() {
            items.push(plain(
                DifferenceKind::FieldNameChanged,
                path.to_owned(),
                format!(
                    "field {number} of {subject} renamed from {} to {}",
                    self.previous(old, new).name(),
                    self.candidate(old, new).name()
                ),
            ));
        }
        let described = format!(
            "field {number} ({}) of {subject}",
            self.candidate(old, new).name()
        );
        self.type_differences(items, path, &described, old, new, true);
    }

    /// Compares the types of two fields (or of two map keys or values, then
    /// without labels).
    fn type_differences(
        &mut self,
        items: &mut Vec<Item>,
        path: &str,
        described: &str,
        old: &FieldDescriptor,
        new: &FieldDescriptor,
        with_labels: bool,
    ) {
        let old_shape = Shape::of(old);
        let new_shape = Shape::of(new);
        let type_change = || {
            format!(
                "{described} changed type from {} to {}",
                describe_type(self.previous(old, new)),
                describe_type(self.candidate(old, new))
            )
        };
        match (&old_shape, &new_shape) {
            (Shape::Scalar(old_group), Shape::Scalar(new_group)) => {
                if old_group != new_group {
                    items.push(plain(
                        DifferenceKind::FieldScalarKindChanged,
                        path.to_owned(),
                        type_change(),
                    ));
                    return;
                }
                if with_labels {
                    let repeated_kind = if *old_group == ScalarGroup::StringOrBytes {
                        DifferenceKind::FieldStringOrBytesLabelChanged
                    } else {
                        DifferenceKind::FieldNumericLabelChanged
                    };
                    self.label_differences(items, path, described, old, new, repeated_kind);
                }
                if let (Kind::Enum(old_enum), Kind::Enum(new_enum)) = (old.kind(), new.kind()) {
                    let same_name = local_name(old_enum.full_name(), old_enum.package_name())
                        == local_name(new_enum.full_name(), new_enum.package_name());
                    if same_name {
                        self.enum_differences(items, &old_enum, &new_enum);
                    }
                }
            }
            (Shape::Message(old_message), Shape::Message(new_message))
            | (Shape::Group(old_message), Shape::Group(new_message)) => {
                let old_local = local_name(old_message.full_name(), old_message.package_name());
                let new_local = local_name(new_message.full_name(), new_message.package_name());
                if old_local != new_local {
                    items.push(plain(
                        DifferenceKind::FieldNamedTypeChanged,
                        path.to_owned(),
                        type_change(),
                    ));
                    return;
                }
                if with_labels {
                    self.label_differences(
                        items,
                        path,
                        described,
                        old,
                        new,
                        DifferenceKind::FieldMessageLabelChanged,
                    );
                }
                let target = self.message_pair(old_message, new_message);
                let target_path = self.pairs[target].path.clone();
                items.push(Item::Reference {
                    target,
                    difference: Difference {
                        kind: DifferenceKind::FieldNamedTypeChanged,
                        path: path.to_owned(),
                        message: format!(
                            "{described} has type {}, which changed incompatibly (see {target_path})",
                            self.candidate(old_message, new_message).full_name()
                        ),
                    },
                });
            }
            (Shape::Map(old_key, old_value), Shape::Map(new_key, new_value)) => {
                let key_described = format!("the map key of {described}");
                self.type_differences(items, path, &key_described, old_key, new_key, false);
                let value_described = format!("the map value of {described}");
                self.type_differences(items, path, &value_described, old_value, new_value, false);
            }
            _ => items.push(plain(
                DifferenceKind::FieldKindChanged,
                path.to_owned(),
                type_change(),
            )),
        }
    }

    fn label_differences(
        &self,
        items: &mut Vec<Item>,
        path: &str,
        described: &str,
        old: &FieldDescriptor,
        new: &FieldDescriptor,
        repeated_kind: DifferenceKind,
    ) {
        let old_label = old.cardinality();
        let new_label = new.cardinality();
        if old_label == new_label {
            return;
        }
        let kind = if old_label == Cardinality::Repeated || new_label == Cardinality::Repeated {
            repeated_kind
        } else {
            DifferenceKind::FieldRequiredChanged
        };
        items.push(plain(
            kind,
            path.to_owned(),
            format!(
                "{described} changed from {} to {}",
                describe_label(*self.previous(&old_label, &new_label)),
                describe_label(*self.candidate(&old_label, &new_label))
            ),
        ));
    }

    /// Nested messages and enums, matched by name.
    fn nested_differences(
        &mut self,
        items: &mut Vec<Item>,
        path: &str,
        subject: &str,
        old: &MessageDescriptor,
        new: &MessageDescriptor,
    ) {
        let old_messages = nested_messages(old);
        let new_messages = nested_messages(new);
        let names: BTreeSet<&String> = old_messages.keys().chain(new_messages.keys()).collect();
        for name in names {
            let nested_path = format!("{path}/{name}");
            match (old_messages.get(name), new_messages.get(name)) {
                (Some(_), None) => items.push(plain(
                    DifferenceKind::MessageRemoved,
                    nested_path,
                    format!("message {subject}.{name} {}", self.added_or_removed(false)),
                )),
                (None, Some(_)) => items.push(plain(
                    DifferenceKind::MessageAdded,
                    nested_path,
                    format!("message {subject}.{name} {}", self.added_or_removed(true)),
                )),
                (Some((old_position, old_message)), Some((new_position, new_message))) => {
                    self.message_pair(old_message, new_message);
                    if old_position != new_position {
                        items.push(plain(
                            DifferenceKind::MessageMoved,
                            nested_path,
                            format!(
                                "message {subject}.{name} moved from position {} to {} in {subject}",
                                self.previous(old_position, new_position) + 1,
                                self.candidate(old_position, new_position) + 1,
                            ),
                        ));
                    }
                }
                (None, None) => {}
            }
        }

        let old_enums: BTreeMap<String, EnumDescriptor> = old
            .child_enums()
            .map(|child| (child.name().to_owned(), child))
            .collect();
        let new_enums: BTreeMap<String, EnumDescriptor> = new
            .child_enums()
            .map(|child| (child.name().to_owned(), child))
            .collect();
        let names: BTreeSet<&String> = old_enums.keys().chain(new_enums.keys()).collect();
        for name in names {
            let nested_path = format!("{path}/{name}");
            match (old_enums.get(name), new_enums.get(name)) {
                (Some(_), None) => items.push(plain(
                    DifferenceKind::EnumRemoved,
                    nested_path,
                    format!("enum {subject}.{name} {}", self.added_or_removed(false)),
                )),
                (None, Some(_)) => items.push(plain(
                    DifferenceKind::EnumAdded,
                    nested_path,
                    format!("enum {subject}.{name} {}", self.added_or_removed(true)),
                )),
                (Some(old_enum), Some(new_enum)) => {
                    self.enum_differences(items, old_enum, new_enum);
                }
                (None, None) => {}
            }
        }
    }

    /// Enum values by number; each enum pair once.
    fn enum_differences(
        &mut self,
        items: &mut Vec<Item>,
        old: &EnumDescriptor,
        new: &EnumDescriptor,
    ) {
        let key = (old.full_name().to_owned(), new.full_name().to_owned());
        if !self.compared_enums.insert(key) {
            return;
        }
        let subject = self.candidate(old, new).full_name().to_owned();
        let path = type_path(&subject, self.candidate(old, new).package_name());
        let old_values = enum_values(old);
        let new_values = enum_values(new);
        let numbers: BTreeSet<i32> = old_values
            .keys()
            .chain(new_values.keys())
            .copied()
            .collect();
        for number in numbers {
            let value_path = format!("{path}/{number}");
            match (old_values.get(&number), new_values.get(&number)) {
                (Some(name), None) => items.push(plain(
                    DifferenceKind::EnumConstRemoved,
                    value_path,
                    format!(
                        "value {number} ({name}) {} enum {subject}",
                        self.added_to_or_removed_from(false)
                    ),
                )),
                (None, Some(name)) => items.push(plain(
                    DifferenceKind::EnumConstAdded,
                    value_path,
                    format!(
                        "value {number} ({name}) {} enum {subject}",
                        self.added_to_or_removed_from(true)
                    ),
                )),
                (Some(old_name), Some(new_name)) if old_name != new_name => items.push(plain(
                    DifferenceKind::EnumConstChanged,
                    value_path,
                    format!(
                        "value {number} of enum {subject} renamed from {} to {}",
                        self.previous(old_name, new_name),
                        self.candidate(old_name, new_name)
                    ),
                )),
                _ => {}
            }
        }
    }
}

fn plain(kind: DifferenceKind, path: String, message: String) -> Item {
    Item::Difference(Difference {
        kind,
        path,
        message,
    })
}

/// The fields of a message by number, and its (real, not synthetic) oneofs.
/// A proto3 `optional` field's synthetic oneof is no oneof on the wire, so
/// such a field counts as top-level.
struct FieldTable {
    fields: BTreeMap<u32, FieldDescriptor>,
    oneof_by_number: HashMap<u32, String>,
    oneofs: BTreeMap<String, BTreeSet<u32>>,
}

impl FieldTable {
    fn of(message: &MessageDescriptor) -> Self {
        let mut table = Self {
            fields: BTreeMap::new(),
            oneof_by_number: HashMap::new(),
            oneofs: BTreeMap::new(),
        };
        for field in message.fields() {
            if let Some(oneof) = field
                .containing_oneof()
                .filter(|oneof| !oneof.is_synthetic())
            {
                table
                    .oneof_by_number
                    .insert(field.number(), oneof.name().to_owned());
                table
                    .oneofs
                    .entry(oneof.name().to_owned())
                    .or_default()
                    .insert(field.number());
            }
            table.fields.insert(field.number(), field);
        }
        // A oneof always has a member, but keep empty ones visible anyway.
        for oneof in message.oneofs().filter(|oneof| !oneof.is_synthetic()) {
            table.oneofs.entry(oneof.name().to_owned()).or_default();
        }
        table
    }

    fn oneof_of(&self, number: u32) -> Option<&String> {
        self.oneof_by_number.get(&number)
    }
}

/// The wire groups of scalar types: a change within a group keeps the
/// encoding readable, across groups it does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScalarGroup {
    /// int32, int64, uint32, uint64, bool and enums: plain varints.
    GeneralNumber,
    /// sint32, sint64: zigzag varints.
    SignedNumber,
    /// string, bytes: length-delimited.
    StringOrBytes,
    Fixed32,
    Fixed64,
    Float,
    Double,
}

/// What a field holds, as far as compatibility goes.
enum Shape {
    Scalar(ScalarGroup),
    Message(MessageDescriptor),
    Group(MessageDescriptor),
    /// The key and value fields of the map entry.
    Map(FieldDescriptor, FieldDescriptor),
}

impl Shape {
    fn of(field: &FieldDescriptor) -> Self {
        match field.kind() {
            Kind::Message(message) if field.is_map() => Self::Map(
                message.map_entry_key_field(),
                message.map_entry_value_field(),
            ),
            Kind::Message(message) if field.is_group() => Self::Group(message),
            Kind::Message(message) => Self::Message(message),
            Kind::Enum(_)
            | Kind::Int32
            | Kind::Int64
            | Kind::Uint32
            | Kind::Uint64
            | Kind::Bool => Self::Scalar(ScalarGroup::GeneralNumber),
            Kind::Sint32 | Kind::Sint64 => Self::Scalar(ScalarGroup::SignedNumber),
            Kind::String | Kind::Bytes => Self::Scalar(ScalarGroup::StringOrBytes),
            Kind::Fixed32 | Kind::Sfixed32 => Self::Scalar(ScalarGroup::Fixed32),
            Kind::Fixed64 | Kind::Sfixed64 => Self::Scalar(ScalarGroup::Fixed64),
            Kind::Float => Self::Scalar(ScalarGroup::Float),
            Kind::Double => Self::Scalar(ScalarGroup::Double),
        }
    }
}

/// `string`, `enum a.B`, `message a.C`, `group a.D`, `map<string, int64>`.
fn describe_type(field: &FieldDescriptor) -> String {
    match field.kind() {
        Kind::Message(message) if field.is_map() => format!(
            "map<{}, {}>",
            describe_type(&message.map_entry_key_field()),
            describe_type(&message.map_entry_value_field())
        ),
        Kind::Message(message) if field.is_group() => format!("group {}", message.full_name()),
        Kind::Message(message) => format!("message {}", message.full_name()),
        Kind::Enum(enumeration) => format!("enum {}", enumeration.full_name()),
        Kind::Double => "double".to_owned(),
        Kind::Float => "float".to_owned(),
        Kind::Int32 => "int32".to_owned(),
        Kind::Int64 => "int64".to_owned(),
        Kind::Uint32 => "uint32".to_owned(),
        Kind::Uint64 => "uint64".to_owned(),
        Kind::Sint32 => "sint32".to_owned(),
        Kind::Sint64 => "sint64".to_owned(),
        Kind::Fixed32 => "fixed32".to_owned(),
        Kind::Fixed64 => "fixed64".to_owned(),
        Kind::Sfixed32 => "sfixed32".to_owned(),
        Kind::Sfixed64 => "sfixed64".to_owned(),
        Kind::Bool => "bool".to_owned(),
        Kind::String => "string".to_owned(),
        Kind::Bytes => "bytes".to_owned(),
    }
}

fn describe_label(label: Cardinality) -> &'static str {
    match label {
        Cardinality::Optional => "singular",
        Cardinality::Required => "required",
        Cardinality::Repeated => "repeated",
    }
}

/// The name below the package: `Outer.Inner` for `shop.v1.Outer.Inner`.
fn local_name<'a>(full_name: &'a str, package: &str) -> &'a str {
    if package.is_empty() {
        return full_name;
    }
    full_name
        .strip_prefix(package)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or(full_name)
}

/// `#/Outer/Inner` for `shop.v1.Outer.Inner` in package `shop.v1`.
pub(crate) fn type_path(full_name: &str, package: &str) -> String {
    format!("#/{}", local_name(full_name, package).replace('.', "/"))
}

fn display_package(package: &str) -> &str {
    if package.is_empty() {
        "(none)"
    } else {
        package
    }
}

/// Position of a top-level or nested message among its declared siblings.
fn sibling_position(message: &MessageDescriptor) -> usize {
    let position = match message.parent_message() {
        Some(parent) => nested_messages(&parent)
            .values()
            .find(|(_, sibling)| sibling.full_name() == message.full_name())
            .map(|(position, _)| *position),
        None => message
            .parent_file()
            .messages()
            .position(|sibling| sibling.full_name() == message.full_name()),
    };
    position.unwrap_or_default()
}

/// Declared nested messages by name, with their position among them. Map
/// entries are not declared (the compiler makes them), so they are left out.
fn nested_messages(message: &MessageDescriptor) -> BTreeMap<String, (usize, MessageDescriptor)> {
    message
        .child_messages()
        .filter(|child| !child.is_map_entry())
        .enumerate()
        .map(|(position, child)| (child.name().to_owned(), (position, child)))
        .collect()
}

/// Values by number; of aliases, the first declared name.
fn enum_values(enumeration: &EnumDescriptor) -> BTreeMap<i32, String> {
    let mut values = BTreeMap::new();
    for value in enumeration.values() {
        values
            .entry(value.number())
            .or_insert_with(|| value.name().to_owned());
    }
    values
}

fn join_numbers(numbers: &[u32]) -> String {
    let texts: Vec<String> = numbers.iter().map(u32::to_string).collect();
    texts.join(", ")
}

/// The WIRE_STRICT rules for one message pair (old = older schema).
fn reserved_differences(pair: &ComparedPair, differences: &mut Vec<Difference>) {
    let subject = pair.new.full_name();
    let old_fields = FieldTable::of(&pair.old);
    let new_fields = FieldTable::of(&pair.new);
    let old_reserved: Vec<Range<u32>> = pair.old.reserved_ranges().collect();
    let new_reserved: Vec<Range<u32>> = pair.new.reserved_ranges().collect();
    let old_reserved_names: BTreeSet<&str> = pair.old.reserved_names().collect();
    let reserved_in =
        |ranges: &[Range<u32>], number: u32| ranges.iter().any(|range| range.contains(&number));

    for (number, field) in &old_fields.fields {
        if !new_fields.fields.contains_key(number) && !reserved_in(&new_reserved, *number) {
            differences.push(Difference {
                kind: DifferenceKind::FieldRemovedNotReserved,
                path: format!("{}/{number}", pair.path),
                message: format!(
                    "field {number} ({}) removed from {subject} without reserving its number (add `reserved {number};`)",
                    field.name()
                ),
            });
        }
    }
    for (number, field) in &new_fields.fields {
        if reserved_in(&old_reserved, *number) {
            differences.push(Difference {
                kind: DifferenceKind::ReservedNumberReused,
                path: format!("{}/{number}", pair.path),
                message: format!(
                    "field {number} ({}) of {subject} reuses a number the older schema reserved",
                    field.name()
                ),
            });
        }
        if old_reserved_names.contains(field.name()) {
            differences.push(Difference {
                kind: DifferenceKind::ReservedNameReused,
                path: format!("{}/{number}", pair.path),
                message: format!(
                    "field {number} ({}) of {subject} reuses a name the older schema reserved",
                    field.name()
                ),
            });
        }
    }

    // Numbers the old schema reserved that the new one neither reserves nor
    // uses (a use is reported above).
    let mut covered: Vec<Range<u32>> = new_reserved;
    covered.extend(
        new_fields
            .fields
            .keys()
            .map(|number| *number..number.saturating_add(1)),
    );
    for range in &old_reserved {
        for gap in uncovered(range, &covered) {
            let numbers = if gap.end - gap.start == 1 {
                gap.start.to_string()
            } else {
                format!("{} to {}", gap.start, gap.end - 1)
            };
            differences.push(Difference {
                kind: DifferenceKind::ReservedNumberDropped,
                path: format!("{}/reserved", pair.path),
                message: format!(
                    "{subject} no longer reserves {numbers}, which the older schema reserved"
                ),
            });
        }
    }
}

/// The parts of `range` no range of `covering` covers.
fn uncovered(range: &Range<u32>, covering: &[Range<u32>]) -> Vec<Range<u32>> {
    let mut sorted: Vec<&Range<u32>> = covering
        .iter()
        .filter(|cover| cover.start < range.end && range.start < cover.end)
        .collect();
    sorted.sort_by_key(|cover| cover.start);
    let mut gaps = Vec::new();
    let mut next = range.start;
    for cover in sorted {
        if cover.start > next {
            gaps.push(next..cover.start.min(range.end));
        }
        next = next.max(cover.end);
        if next >= range.end {
            break;
        }
    }
    if next < range.end {
        gaps.push(next..range.end);
    }
    gaps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::single_range_in_vec_init)]
    fn uncovered_parts_of_a_range() {
        assert_eq!(uncovered(&(5..10), &[]), vec![5..10]);
        assert_eq!(uncovered(&(5..10), &[(5..10)]), Vec::<Range<u32>>::new());
        assert_eq!(uncovered(&(5..10), &[(1..6), (8..9)]), vec![6..8, 9..10]);
        assert_eq!(uncovered(&(5..10), &[(7..8), (6..7)]), vec![5..6, 8..10]);
        assert_eq!(uncovered(&(5..6), &[(1..3)]), vec![5..6]);
    }

    #[test]
    fn local_names_and_paths() {
        assert_eq!(local_name("shop.v1.Order.Line", "shop.v1"), "Order.Line");
        assert_eq!(local_name("Order", ""), "Order");
        assert_eq!(type_path("shop.v1.Order.Line", "shop.v1"), "#/Order/Line");
    }

    #[test]
    fn every_kind_has_a_distinct_name() {
        let names: HashSet<&str> = DifferenceKind::ALL.iter().map(|kind| kind.name()).collect();
        assert_eq!(names.len(), DifferenceKind::ALL.len());
        assert!(
            DifferenceKind::ALL
                .iter()
                .filter(|kind| kind.is_wire_strict_only())
                .all(|kind| !kind.is_compatible())
        );
    }
}
