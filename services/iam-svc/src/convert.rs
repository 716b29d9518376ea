//! Every proto <-> domain conversion of IAM: requests to domain values
//! (every field validated, errors naming it), application results to
//! messages, and each [`IamEvent`] to its payload.

use ecommerce_events::DecodedEvent;
use ecommerce_proto::ecommerce::iam::v1 as pb;
use secrecy::SecretString;
use uuid::Uuid;

use crate::app::{IamError, IssuedSession, MAX_IDEMPOTENCY_KEY_LEN, SignUp, UserView};
use crate::domain::email::EmailAddress;
use crate::domain::events::{IamEvent, SignInFailureReason};
use crate::domain::profile::{DisplayName, ProfileUpdate};
use crate::domain::roles::RoleSet;

/// Opaque tokens are far shorter; anything longer is not one of ours.
const MAX_TOKEN_LEN: usize = 512;

pub(crate) fn sign_up(request: pb::SignUpRequest) -> Result<SignUp, IamError> {
    let email = email(&request.email)?;
    let name =
        DisplayName::parse(&request.name).map_err(|error| IamError::invalid("name", error))?;
    let idempotency_key = match request.idempotency_key.trim() {
        "" => None,
        key if key.len() > MAX_IDEMPOTENCY_KEY_LEN => {
            return Err(IamError::invalid(
                "idempotency_key",
                format!(
                    "idempotency_key must be at most {} bytes",
                    MAX_IDEMPOTENCY_KEY_LEN
                ),
            ));
        }
        key => Some(key.to_owned()),
    };
    Ok(SignUp {
        email,
        password: SecretString::from(request.password),
        name,
        idempotency_key,
    })
}

pub(crate) fn sign_in(
    request: pb::SignInRequest,
) -> Result<(EmailAddress, SecretString), IamError> {
    let email = email(&request.email)?;
    if request.password.is_empty() {
        return Err(IamError::invalid("password", "password must not be empty"));
    }
    Ok((email, SecretString::from(request.password)))
}

pub(crate) fn email(text: &str) -> Result<EmailAddress, IamError> {
    EmailAddress::parse(text).map_err(|error| IamError::invalid("email", error))
}

/// A token field: present and of a sane size (its format is checked by the
/// application, which knows which kind it expects).
pub(crate) fn required<'a>(value: &'a str, field: &'static str) -> Result<&'a str, IamError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(IamError::invalid(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if value.len() > MAX_TOKEN_LEN {
        return Err(IamError::invalid(
            field,
            format!("{field} is too long to be a token"),
        ));
    }
    Ok(value)
}

pub(crate) fn profile_update(request: pb::UpdateProfileRequest) -> Result<ProfileUpdate, IamError> {
    let user = request.user.unwrap_or_default();
    let paths = request
        .update_mask
        .map(|mask| mask.paths)
        .unwrap_or_default();
    ProfileUpdate::from_mask(&paths, Some(&user.name), Some(&user.image_url))
        .map_err(|error| IamError::invalid(error.field(), error))
}

pub(crate) fn set_user_roles(
    request: pb::SetUserRolesRequest,
) -> Result<(Uuid, RoleSet), IamError> {
    let user_id = Uuid::parse_str(request.user_id.trim())
        .map_err(|_| IamError::invalid("user_id", "user_id must be a UUID"))?;
    let roles = RoleSet::parse(request.roles).map_err(|error| IamError::invalid("roles", error))?;
    Ok((user_id, roles))
}

pub(crate) fn user(user: UserView) -> pb::User {
    pb::User {
        id: user.id.to_string(),
        email: user.email,
        email_verified: user.email_verified,
        name: user.name,
        image_url: user.image_url,
        roles: user.roles,
        created_at: Some(ecommerce_proto::timestamp(user.created_at)),
    }
}

pub(crate) fn tokens(session: IssuedSession) -> pb::SessionTokens {
    pb::SessionTokens {
        access_token: session.access_token,
        access_token_expires_at: Some(ecommerce_proto::timestamp(session.access_token_expires_at)),
        refresh_token: session.refresh_token.expose().to_owned(),
        refresh_token_expires_at: Some(ecommerce_proto::timestamp(
            session.refresh_token_expires_at,
        )),
    }
}

fn pb_reason(reason: SignInFailureReason) -> pb::SignInFailureReason {
    match reason {
        SignInFailureReason::UnknownEmail => pb::SignInFailureReason::UnknownEmail,
        SignInFailureReason::WrongPassword => pb::SignInFailureReason::WrongPassword,
        SignInFailureReason::AccountLocked => pb::SignInFailureReason::AccountLocked,
    }
}

/// The proto's `int32` counts: a count past it says the most it can.
fn count(attempts: u32) -> i32 {
    i32::try_from(attempts).unwrap_or(i32::MAX)
}

impl From<&IamEvent<'_>> for DecodedEvent {
    fn from(event: &IamEvent<'_>) -> Self {
        match *event {
            IamEvent::UserRegistered {
                user_id,
                email,
                name,
            } => pb::UserRegistered {
                user_id: user_id.to_string(),
                email: email.to_owned(),
                name: name.to_owned(),
            }
            .into(),
            IamEvent::UserEmailVerified { user_id, email } => pb::UserEmailVerified {
                user_id: user_id.to_string(),
                email: email.to_owned(),
            }
            .into(),
            IamEvent::UserProfileUpdated {
                user_id,
                changed_fields,
                name,
                image_url,
            } => pb::UserProfileUpdated {
                user_id: user_id.to_string(),
                changed_fields: changed_fields
                    .iter()
                    .map(|field| (*field).to_owned())
                    .collect(),
                name: name.to_owned(),
                image_url: image_url.to_owned(),
            }
            .into(),
            IamEvent::UserAccessSynchronized { user_id, roles } => pb::UserAccessSynchronized {
                user_id: user_id.to_string(),
                roles: roles.to_vec(),
            }
            .into(),
            IamEvent::UserSignedIn {
                user_id,
                session_id,
                client_address,
            } => pb::UserSignedIn {
                user_id: user_id.to_string(),
                session_id: session_id.to_string(),
                client_address: client_address.to_owned(),
            }
            .into(),
            IamEvent::UserSignedOut {
                user_id,
                session_id,
            } => pb::UserSignedOut {
                user_id: user_id.to_string(),
                session_id: session_id.to_string(),
            }
            .into(),
            IamEvent::SignInFailed {
                email,
                user_id,
                reason,
                client_address,
                attempt_count,
            } => pb::SignInFailed {
                email: email.to_owned(),
                user_id: user_id.map(|id| id.to_string()).unwrap_or_default(),
                reason: pb_reason(reason).into(),
                client_address: client_address.to_owned(),
                attempt_count: count(attempt_count),
            }
            .into(),
            IamEvent::AccountLocked {
                user_id,
                locked_until,
                attempt_count,
            } => pb::AccountLocked {
                user_id: user_id.to_string(),
                locked_until: Some(ecommerce_proto::timestamp(locked_until)),
                attempt_count: count(attempt_count),
            }
            .into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_sign_in_of_an_unknown_email_is_about_no_user() {
        let event = IamEvent::SignInFailed {
            email: "nobody@example.com",
            user_id: None,
            reason: SignInFailureReason::UnknownEmail,
            client_address: "10.0.0.1",
            attempt_count: u32::MAX,
        };
        assert_eq!(event.user_id(), Uuid::nil());
        let DecodedEvent::IamSecuritySignInFailedV1(payload) = DecodedEvent::from(&event) else {
            panic!("not a sign-in failure: {event:?}");
        };
        assert_eq!(payload.user_id, "");
        assert_eq!(payload.reason, pb::SignInFailureReason::UnknownEmail as i32);
        assert_eq!(payload.attempt_count, i32::MAX);
    }
}
