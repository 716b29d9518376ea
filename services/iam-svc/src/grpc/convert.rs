//! Requests to domain values (every field validated, errors naming it) and
//! application results to messages.

use ecommerce_proto::ecommerce::iam::v1 as pb;
use secrecy::SecretString;
use uuid::Uuid;

use crate::app::{IamError, IssuedSession, MAX_IDEMPOTENCY_KEY_LEN, SignUp, UserView, timestamp};
use crate::domain::email::EmailAddress;
use crate::domain::profile::{DisplayName, ProfileUpdate};
use crate::domain::roles::RoleSet;

/// Opaque tokens are far shorter; anything longer is not one of ours.
const MAX_TOKEN_LEN: usize = 512;

pub(super) fn sign_up(request: pb::SignUpRequest) -> Result<SignUp, IamError> {
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

pub(super) fn sign_in(
    request: pb::SignInRequest,
) -> Result<(EmailAddress, SecretString), IamError> {
    let email = email(&request.email)?;
    if request.password.is_empty() {
        return Err(IamError::invalid("password", "password must not be empty"));
    }
    Ok((email, SecretString::from(request.password)))
}

pub(super) fn email(text: &str) -> Result<EmailAddress, IamError> {
    EmailAddress::parse(text).map_err(|error| IamError::invalid("email", error))
}

/// A token field: present and of a sane size (its format is checked by the
/// application, which knows which kind it expects).
pub(super) fn required<'a>(value: &'a str, field: &'static str) -> Result<&'a str, IamError> {
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

pub(super) fn profile_update(request: pb::UpdateProfileRequest) -> Result<ProfileUpdate, IamError> {
    let user = request.user.unwrap_or_default();
    let paths = request
        .update_mask
        .map(|mask| mask.paths)
        .unwrap_or_default();
    ProfileUpdate::from_mask(&paths, Some(&user.name), Some(&user.image_url))
        .map_err(|error| IamError::invalid(error.field(), error))
}

pub(super) fn set_user_roles(
    request: pb::SetUserRolesRequest,
) -> Result<(Uuid, RoleSet), IamError> {
    let user_id = Uuid::parse_str(request.user_id.trim())
        .map_err(|_| IamError::invalid("user_id", "user_id must be a UUID"))?;
    let roles = RoleSet::parse(request.roles).map_err(|error| IamError::invalid("roles", error))?;
    Ok((user_id, roles))
}

pub(super) fn user(user: UserView) -> pb::User {
    pb::User {
        id: user.id.to_string(),
        email: user.email,
        email_verified: user.email_verified,
        name: user.name,
        image_url: user.image_url,
        roles: user.roles,
        created_at: Some(timestamp(user.created_at)),
    }
}

pub(super) fn tokens(session: IssuedSession) -> pb::SessionTokens {
    pb::SessionTokens {
        access_token: session.access_token,
        access_token_expires_at: Some(timestamp(session.access_token_expires_at)),
        refresh_token: session.refresh_token.expose().to_owned(),
        refresh_token_expires_at: Some(timestamp(session.refresh_token_expires_at)),
    }
}
