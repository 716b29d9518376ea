//! The release check of this project's event contracts: every event message
//! of a released descriptor set against the current one.

use std::fmt;

use prost_reflect::{DescriptorPool, ExtensionDescriptor, MessageDescriptor};

use crate::diff::{Difference, type_path};
use crate::level::{CompatibilityLevel, incompatibilities};
use crate::schema::{MessageSchema, SchemaError};

/// The message option that makes a message an event payload; its value is the
/// event type string (`proto/ecommerce/events/v1/options.proto`).
pub const EVENT_TYPE_OPTION: &str = "ecommerce.events.v1.event_type";

/// Why the event check could not run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventCheckError {
    /// The baseline set does not define the event type option.
    #[error("the baseline does not define the message option `{0}`")]
    OptionNotDefined(String),
    /// A message asked for explicitly is not in the baseline.
    #[error("baseline: {0}")]
    Baseline(SchemaError),
}

/// What the check found about one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The current set no longer defines the message.
    Removed {
        /// The message that now carries the event type, if one does.
        event_type_now_on: Option<String>,
    },
    /// The message no longer carries the event type option.
    NoLongerAnEvent,
    /// The message carries another event type.
    EventTypeChanged { current: String },
    /// A change that breaks the level.
    Incompatible(Difference),
}

/// One problem of one checked message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The baseline's event type of the message (`None` for a message checked
    /// by name that is no event).
    pub event_type: Option<String>,
    /// Fully qualified message name.
    pub message: String,
    /// `#/OrderPlaced`: the message's path, for the problems that are not a
    /// [`Difference`] (which has its own).
    pub path: String,
    pub problem: Problem,
}

impl fmt::Display for Finding {
    /// `<event type> <message>: <path>: <human line>`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(event_type) = &self.event_type {
            write!(formatter, "{event_type} ")?;
        }
        write!(formatter, "{}: ", self.message)?;
        let path = &self.path;
        match &self.problem {
            Problem::Removed {
                event_type_now_on: Some(other),
            } => write!(
                formatter,
                "{path}: message {} removed; its event type is now carried by {other} (a rename changes the payload's type URL)",
                self.message
            ),
            Problem::Removed {
                event_type_now_on: None,
            } => write!(
                formatter,
                "{path}: message {} removed from the current protos",
                self.message
            ),
            Problem::NoLongerAnEvent => write!(
                formatter,
                "{path}: message {} no longer carries the option ({EVENT_TYPE_OPTION})",
                self.message
            ),
            Problem::EventTypeChanged { current } => write!(
                formatter,
                "{path}: event type of {} changed to {current}",
                self.message
            ),
            Problem::Incompatible(difference) => write!(formatter, "{difference}"),
        }
    }
}

/// The outcome of [`check_event_messages`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventCheckReport {
    pub level: CompatibilityLevel,
    /// Every baseline message checked, fully qualified, in name order.
    pub checked: Vec<String>,
    /// Empty means the current set keeps every checked contract.
    pub findings: Vec<Finding>,
}

impl EventCheckReport {
    pub fn is_compatible(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Checks every message of `baseline` that carries the event type option,
/// plus the messages named in `also_check` (e.g. the event envelope), against
/// `current` at `level`, the baseline being the only previous version.
///
/// A checked message missing from `current`, or an event that lost or
/// changed its event type, is a finding too.
pub fn check_event_messages(
    baseline: &DescriptorPool,
    current: &DescriptorPool,
    also_check: &[&str],
    level: CompatibilityLevel,
) -> Result<EventCheckReport, EventCheckError> {
    let baseline_option = baseline
        .get_extension_by_name(EVENT_TYPE_OPTION)
        .ok_or_else(|| EventCheckError::OptionNotDefined(EVENT_TYPE_OPTION.to_owned()))?;
    let current_option = current.get_extension_by_name(EVENT_TYPE_OPTION);

    let mut checked: Vec<(String, Option<String>)> = baseline
        .all_messages()
        .filter_map(|message| {
            event_type(&message, &baseline_option)
                .map(|event_type| (message.full_name().to_owned(), Some(event_type)))
        })
        .collect();
    for name in also_check {
        let message =
            MessageSchema::from_pool(baseline, name).map_err(EventCheckError::Baseline)?;
        let full_name = message.message().full_name().to_owned();
        if !checked
            .iter()
            .any(|(checked_name, _)| *checked_name == full_name)
        {
            let event_type = event_type(message.message(), &baseline_option);
            checked.push((full_name, event_type));
        }
    }
    checked.sort();

    let mut findings = Vec::new();
    for (name, baseline_event_type) in &checked {
        let baseline_message =
            MessageSchema::from_pool(baseline, name).map_err(EventCheckError::Baseline)?;
        let path = type_path(
            baseline_message.message().full_name(),
            baseline_message.message().package_name(),
        );
        let finding = |problem| Finding {
            event_type: baseline_event_type.clone(),
            message: name.clone(),
            path: path.clone(),
            problem,
        };
        let Ok(current_message) = MessageSchema::from_pool(current, name) else {
            let event_type_now_on = baseline_event_type.as_ref().and_then(|wanted| {
                let option = current_option.as_ref()?;
                current
                    .all_messages()
                    .find(|message| event_type(message, option).as_ref() == Some(wanted))
                    .map(|message| message.full_name().to_owned())
            });
            findings.push(finding(Problem::Removed { event_type_now_on }));
            continue;
        };
        if let Some(wanted) = baseline_event_type {
            let current_event_type = current_option
                .as_ref()
                .and_then(|option| event_type(current_message.message(), option));
            match current_event_type {
                None => findings.push(finding(Problem::NoLongerAnEvent)),
                Some(current_type) if current_type != *wanted => {
                    findings.push(finding(Problem::EventTypeChanged {
                        current: current_type,
                    }));
                }
                Some(_) => {}
            }
        }
        for difference in incompatibilities(level, &baseline_message, &current_message) {
            findings.push(finding(Problem::Incompatible(difference)));
        }
    }

    Ok(EventCheckReport {
        level,
        checked: checked.into_iter().map(|(name, _)| name).collect(),
        findings,
    })
}

/// The event type option's value on `message`, if set.
pub fn event_type(message: &MessageDescriptor, option: &ExtensionDescriptor) -> Option<String> {
    let options = message.options();
    if !options.has_extension(option) {
        return None;
    }
    options.get_extension(option).as_str().map(str::to_owned)
}
