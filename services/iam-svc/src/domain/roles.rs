//! Roles: lower-case names granted to a user.
//!
//! Every user is a customer without needing a role for it; [`ADMIN`] grants
//! the back-office RPCs of every service. Other names are accepted so that
//! a new role needs no iam-svc release, but they grant nothing until some
//! service checks for them.
//!
//! A name is `[a-z][a-z0-9_-]{0,31}`: short, ASCII and lower case, so it
//! compares byte for byte, fits in an access token cheaply and cannot be
//! confused with another by case or Unicode look-alikes. Mixed case is
//! refused rather than lower-cased, so an admin who types `Admin` learns that
//! roles are lower case instead of granting something unexpected.

use std::fmt;

use chrono::{DateTime, Utc};

/// The role that grants the back-office RPCs of every service.
pub const ADMIN: &str = "admin";
/// Longest role name, in characters.
pub const MAX_ROLE_LEN: usize = 32;
/// Most distinct roles a user may have: enough for any real use, small
/// enough that the access token stays small.
pub const MAX_ROLES: usize = 16;
/// Most entries `SetUserRolesRequest.roles` may list, duplicates included:
/// counted before any entry is read, so a request cannot make the service
/// validate an arbitrarily long list only to keep 16 names of it.
pub const MAX_ROLE_ENTRIES: usize = 4 * MAX_ROLES;

/// One valid role name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Role(String);

impl Role {
    /// Validates `name` (see the module docs). `index` is its position in
    /// the request, for the error message.
    fn parse_at(name: &str, index: usize) -> Result<Self, RoleError> {
        let Some(first) = name.chars().next() else {
            return Err(RoleError::Empty { index });
        };
        if name.chars().count() > MAX_ROLE_LEN {
            return Err(RoleError::TooLong { index });
        }
        if !first.is_ascii_lowercase() {
            return Err(RoleError::InvalidStart { index });
        }
        if let Some(character) = name.chars().find(|character| {
            !(character.is_ascii_lowercase()
                || character.is_ascii_digit()
                || *character == '_'
                || *character == '-')
        }) {
            return Err(RoleError::InvalidCharacter { index, character });
        }
        Ok(Self(name.to_owned()))
    }

    /// Validates one role name.
    pub fn parse(name: &str) -> Result<Self, RoleError> {
        Self::parse_at(name, 0)
    }

    /// The `admin` role.
    pub fn admin() -> Self {
        Self(ADMIN.to_owned())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl AsRef<str> for Role {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A user's roles: valid names, sorted, without duplicates, at most
/// [`MAX_ROLES`]. Sorted so that equal sets compare, store and appear in
/// tokens and events identically.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RoleSet(Vec<Role>);

impl RoleSet {
    /// No roles: a plain customer.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Validates every name (as sent in `SetUserRolesRequest.roles`, or read
    /// back from storage), then sorts and deduplicates them. Duplicates are
    /// not an error; the limit applies to distinct names.
    ///
    /// More than [`MAX_ROLE_ENTRIES`] entries are refused before any is
    /// validated (by the iterator's exact length, as a request's list has).
    pub fn parse<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Result<Self, RoleError> {
        let names = names.into_iter();
        let (listed, _) = names.size_hint();
        if listed > MAX_ROLE_ENTRIES {
            return Err(RoleError::TooManyEntries { count: listed });
        }
        let mut roles = Vec::with_capacity(listed);
        for (index, name) in names.enumerate() {
            // An iterator whose length was not known up front.
            if index >= MAX_ROLE_ENTRIES {
                return Err(RoleError::TooManyEntries { count: index + 1 });
            }
            roles.push(Role::parse_at(name.as_ref(), index)?);
        }
        roles.sort_unstable();
        roles.dedup();
        if roles.len() > MAX_ROLES {
            return Err(RoleError::TooMany { count: roles.len() });
        }
        Ok(Self(roles))
    }

    /// Whether the set grants the back-office RPCs.
    pub fn is_admin(&self) -> bool {
        self.contains(ADMIN)
    }

    /// Whether the set has the role `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.0
            .binary_search_by(|role| role.as_str().cmp(name))
            .is_ok()
    }

    /// The roles, sorted.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Role> {
        self.0.iter()
    }

    /// How many roles.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names, sorted, for storage, tokens and events.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|role| role.0.clone()).collect()
    }

    /// The names, sorted, owned.
    pub fn into_vec(self) -> Vec<String> {
        self.0.into_iter().map(|role| role.0).collect()
    }
}

impl<'a> IntoIterator for &'a RoleSet {
    type Item = &'a Role;
    type IntoIter = std::slice::Iter<'a, Role>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Why a list of roles is refused. `Display` names the field and the
/// position of the offending entry; it does not echo the entry, which could
/// be arbitrarily long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    #[error("roles[{index}] must not be empty")]
    Empty { index: usize },
    #[error("roles[{index}] must be at most {MAX_ROLE_LEN} characters long")]
    TooLong { index: usize },
    #[error("roles[{index}] must start with a lower-case letter a-z")]
    InvalidStart { index: usize },
    #[error(
        "roles[{index}] must contain only lower-case letters a-z, digits, _ and - (found {character:?})"
    )]
    InvalidCharacter { index: usize, character: char },
    #[error("roles must name at most {MAX_ROLES} distinct roles, not {count}")]
    TooMany { count: usize },
    #[error("roles must list at most {MAX_ROLE_ENTRIES} entries, not {count}")]
    TooManyEntries { count: usize },
}

impl RoleError {
    /// The request field every role error is about.
    pub const fn field(&self) -> &'static str {
        "roles"
    }
}

/// What the stored account behind an admin RPC's caller allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAccess {
    Granted,
    /// The stored roles lack [`ADMIN`], whatever the token still claims.
    NotAdmin,
    /// Sign-in is locked after repeated failures: the account may be under
    /// attack, so its open sessions get no back-office access meanwhile.
    Locked,
}

/// Decides [`AdminAccess`] from the account as stored (not the token's
/// claims, which may be up to an access token's lifetime old).
pub fn admin_access(
    stored_roles: &[String],
    locked_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> AdminAccess {
    if !stored_roles.iter().any(|role| role == ADMIN) {
        return AdminAccess::NotAdmin;
    }
    if locked_until.is_some_and(|until| until > now) {
        return AdminAccess::Locked;
    }
    AdminAccess::Granted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(names: &[&str]) -> Result<Vec<String>, RoleError> {
        RoleSet::parse(names.iter().copied()).map(RoleSet::into_vec)
    }

    #[test]
    fn valid_names_are_accepted() {
        for name in [
            "admin",
            "a",
            "support-agent",
            "ops_2",
            "z9",
            &"a".repeat(32),
        ] {
            assert_eq!(Role::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn sets_are_sorted_and_deduplicated() {
        assert_eq!(
            parse(&["support", "admin", "support", "billing", "admin"]).unwrap(),
            vec!["admin", "billing", "support"]
        );
        assert_eq!(parse(&[]).unwrap(), Vec::<String>::new());
        assert_eq!(
            RoleSet::parse(vec!["b".to_owned(), "a".to_owned()]).unwrap(),
            RoleSet::parse(["a", "b", "a"]).unwrap()
        );
    }

    #[test]
    fn length_boundary_is_32() {
        assert!(Role::parse(&"a".repeat(32)).is_ok());
        assert_eq!(
            Role::parse(&"a".repeat(33)),
            Err(RoleError::TooLong { index: 0 })
        );
        assert_eq!(
            parse(&["admin", &"a".repeat(1_000)]),
            Err(RoleError::TooLong { index: 1 })
        );
    }

    #[test]
    fn names_must_start_with_a_lower_case_letter() {
        for name in ["Admin", "1admin", "_admin", "-admin", "é"] {
            assert_eq!(
                Role::parse(name),
                Err(RoleError::InvalidStart { index: 0 }),
                "{name}"
            );
        }
    }

    #[test]
    fn names_must_use_the_small_alphabet() {
        for (name, character) in [
            ("adMin", 'M'),
            ("ad min", ' '),
            ("admin.", '.'),
            ("admin\n", '\n'),
            ("admіn", 'і'), // Cyrillic i
            ("admin/all", '/'),
        ] {
            assert_eq!(
                Role::parse(name),
                Err(RoleError::InvalidCharacter {
                    index: 0,
                    character
                }),
                "{name}"
            );
        }
    }

    #[test]
    fn empty_names_are_refused_with_their_position() {
        assert_eq!(
            parse(&["admin", "support", ""]),
            Err(RoleError::Empty { index: 2 })
        );
    }

    #[test]
    fn at_most_16_distinct_roles() {
        let sixteen: Vec<String> = (0..16).map(|number| format!("role{number}")).collect();
        assert_eq!(RoleSet::parse(&sixteen).unwrap().len(), 16);

        let mut with_duplicates = sixteen.clone();
        with_duplicates.extend(sixteen.iter().cloned());
        assert_eq!(RoleSet::parse(&with_duplicates).unwrap().len(), 16);

        let mut seventeen = sixteen;
        seventeen.push("role16".to_owned());
        assert_eq!(
            RoleSet::parse(&seventeen),
            Err(RoleError::TooMany { count: 17 })
        );
    }

    #[test]
    fn entries_are_counted_before_any_is_read() {
        // 64 entries, duplicates included, are fine.
        let duplicates = vec!["admin"; MAX_ROLE_ENTRIES];
        assert_eq!(RoleSet::parse(&duplicates).unwrap().len(), 1);
        // One more is refused, before the invalid first entry is looked at.
        let mut too_many = vec!["admin"; MAX_ROLE_ENTRIES];
        too_many.insert(0, "");
        assert_eq!(
            RoleSet::parse(&too_many),
            Err(RoleError::TooManyEntries {
                count: MAX_ROLE_ENTRIES + 1
            })
        );
        assert_eq!(RoleError::TooManyEntries { count: 65 }.field(), "roles");
        // An iterator of unknown length stops at the first entry too many.
        let unknown_length = std::iter::repeat_n("admin", 1_000).filter(|_| true);
        assert_eq!(
            RoleSet::parse(unknown_length),
            Err(RoleError::TooManyEntries {
                count: MAX_ROLE_ENTRIES + 1
            })
        );
    }

    #[test]
    fn admin_is_recognized() {
        assert!(RoleSet::parse(["support", "admin"]).unwrap().is_admin());
        assert!(
            !RoleSet::parse(["support", "administrator"])
                .unwrap()
                .is_admin()
        );
        assert!(!RoleSet::empty().is_admin());
        assert_eq!(Role::admin().as_str(), ADMIN);
        let set = RoleSet::parse(["support", "admin"]).unwrap();
        assert!(set.contains("support"));
        assert!(!set.contains("billing"));
        assert_eq!(
            set.iter().map(Role::as_str).collect::<Vec<_>>(),
            vec!["admin", "support"]
        );
        assert_eq!(set.to_strings(), vec!["admin", "support"]);
        assert!(!set.is_empty());
        assert!(RoleSet::empty().is_empty());
    }

    #[test]
    fn errors_name_the_field() {
        for names in [vec![""], vec!["Admin"], vec!["a b"], vec![&*"a".repeat(40)]] {
            let error = RoleSet::parse(names).unwrap_err();
            assert_eq!(error.field(), "roles");
            assert!(error.to_string().starts_with("roles"), "{error}");
        }
        let too_many: Vec<String> = (0..17).map(|number| format!("r{number}")).collect();
        let error = RoleSet::parse(too_many).unwrap_err();
        assert_eq!(
            error.to_string(),
            "roles must name at most 16 distinct roles, not 17"
        );
    }

    #[test]
    fn admin_access_follows_the_stored_roles_and_the_lock() {
        let now = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let admin = vec!["admin".to_owned(), "support".to_owned()];
        let support = vec!["support".to_owned()];
        assert_eq!(admin_access(&admin, None, now), AdminAccess::Granted);
        assert_eq!(admin_access(&support, None, now), AdminAccess::NotAdmin);
        assert_eq!(admin_access(&[], None, now), AdminAccess::NotAdmin);
        let later = now + chrono::TimeDelta::seconds(1);
        assert_eq!(admin_access(&admin, Some(later), now), AdminAccess::Locked);
        // A lock ends exactly at locked_until; a missing role wins over a lock.
        assert_eq!(admin_access(&admin, Some(now), now), AdminAccess::Granted);
        assert_eq!(
            admin_access(&support, Some(later), now),
            AdminAccess::NotAdmin
        );
        // Names compare exactly.
        assert_eq!(
            admin_access(&["Admin".to_owned()], None, now),
            AdminAccess::NotAdmin
        );
    }
}
