//! Which parts of a service one process runs.
//!
//! By default a process runs all of them; `--roles grpc,relay` (or the
//! variable `<PREFIX>_ROLES`) runs only those, so each part scales on its
//! own: e.g. two gRPC-only processes, one relay process and four consumer
//! processes of the same service against the same schema. Every part is safe
//! to run in several processes at once: relays claim rows with `SKIP LOCKED`,
//! consumers compete on the quorum queues with inbox deduplication, and
//! timers claim their work with row locks.

use std::fmt;

/// A part of a service process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The gRPC API. Without it the process serves only health and reflection.
    Grpc,
    /// The outbox relays.
    Relay,
    /// The event consumers.
    Consumers,
    /// Periodic work of the service's own (e.g. reservation expiry).
    Timers,
}

impl Role {
    pub const ALL: [Self; 4] = [Self::Grpc, Self::Relay, Self::Consumers, Self::Timers];

    pub const fn name(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::Relay => "relay",
            Self::Consumers => "consumers",
            Self::Timers => "timers",
        }
    }

    const fn bit(self) -> u8 {
        match self {
            Self::Grpc => 1,
            Self::Relay => 2,
            Self::Consumers => 4,
            Self::Timers => 8,
        }
    }
}

/// The set of roles a process runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Roles(u8);

impl Roles {
    /// Every role: the default.
    pub const ALL: Self = Self(1 | 2 | 4 | 8);

    /// Parses a comma-separated list such as `grpc,relay`; names are
    /// case-insensitive, repeats are fine, unknown names and an empty list
    /// are errors naming the valid roles.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut roles = 0;
        for name in list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            let role = Role::ALL
                .into_iter()
                .find(|role| role.name().eq_ignore_ascii_case(name))
                .ok_or_else(|| format!("unknown role {name:?}; roles are {}", Self::ALL))?;
            roles |= role.bit();
        }
        if roles == 0 {
            return Err(format!("no role given; roles are {}", Self::ALL));
        }
        Ok(Self(roles))
    }

    pub const fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }
}

impl Default for Roles {
    fn default() -> Self {
        Self::ALL
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Role::ALL
            .into_iter()
            .filter(|role| self.contains(*role))
            .map(Role::name)
            .collect();
        formatter.write_str(&names.join(","))
    }
}

impl fmt::Debug for Roles {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Roles({self})")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_list_selects_exactly_its_roles() {
        let roles = Roles::parse("grpc, Relay,grpc").unwrap();
        assert!(roles.contains(Role::Grpc));
        assert!(roles.contains(Role::Relay));
        assert!(!roles.contains(Role::Consumers));
        assert!(!roles.contains(Role::Timers));
        assert_eq!(roles.to_string(), "grpc,relay");
        assert_eq!(
            Roles::parse("timers,consumers,relay,grpc").unwrap(),
            Roles::ALL
        );
    }

    #[test]
    fn unknown_or_no_roles_are_refused_naming_the_valid_ones() {
        let error = Roles::parse("grpc,relays").unwrap_err();
        assert!(error.contains("\"relays\""), "{error}");
        assert!(error.contains("grpc,relay,consumers,timers"), "{error}");
        assert!(Roles::parse(" , ").is_err());
    }
}
