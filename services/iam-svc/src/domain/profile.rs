//! Profile fields (display name, avatar URL) and UpdateProfile's field mask.
//!
//! `UpdateProfileRequest` carries a `User` and a `FieldMask`: only the fields
//! the mask names are read, and a named field left empty is cleared. A name is
//! required (SignUp asks for one and every greeting uses it), so naming `name`
//! with an empty value is refused rather than clearing it; the image URL can be
//! cleared.

use std::fmt;

use url::Url;

/// Longest display name, in characters (Unicode scalar values).
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;
/// Longest image URL, in characters, before and after normalization.
pub const MAX_IMAGE_URL_LEN: usize = 2048;

/// The update-mask path of the display name.
pub const NAME_PATH: &str = "name";
/// The update-mask path of the image URL.
pub const IMAGE_URL_PATH: &str = "image_url";

/// A user's display name: trimmed, 1 to 100 characters, no control
/// characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DisplayName(String);

impl DisplayName {
    /// Trims and validates `input`.
    pub fn parse(input: &str) -> Result<Self, DisplayNameError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(DisplayNameError::Empty);
        }
        // Counting stops just past the maximum: a huge input costs no more.
        if trimmed.chars().take(MAX_DISPLAY_NAME_CHARS + 1).count() > MAX_DISPLAY_NAME_CHARS {
            return Err(DisplayNameError::TooLong);
        }
        if trimmed.chars().any(is_forbidden_in_name) {
            return Err(DisplayNameError::ControlCharacter);
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Control characters (C0, DEL, C1), plus the Unicode line separators and
/// bidirectional overrides and isolates: a name is shown inline in emails and
/// pages, where a line break or a right-to-left override (which makes
/// `Jane` U+202E `moc.elpmaxe` render as `Janeexample.com`) would let one user's name
/// disguise itself as something else.
fn is_forbidden_in_name(character: char) -> bool {
    character.is_control()
        || matches!(
            character,
            '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

impl fmt::Debug for DisplayName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_tuple("DisplayName").field(&self.0).finish()
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl AsRef<str> for DisplayName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Why a display name is refused. The field is `name`, in SignUp and in
/// UpdateProfile alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DisplayNameError {
    #[error("name must not be empty")]
    Empty,
    #[error("name must be at most {MAX_DISPLAY_NAME_CHARS} characters long")]
    TooLong,
    #[error("name must not contain control characters or line breaks")]
    ControlCharacter,
}

impl DisplayNameError {
    /// The request field every display-name error is about.
    pub const fn field(&self) -> &'static str {
        NAME_PATH
    }
}

/// A user's avatar: an absolute `https` URL of at most 2048 characters,
/// without credentials, in the `url` crate's normalized form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ImageUrl(String);

impl ImageUrl {
    /// Trims and validates `input`; empty means "no image" and gives `None`.
    pub fn parse(input: &str) -> Result<Option<Self>, ImageUrlError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        // Checked before parsing, so a huge input costs nothing to refuse.
        if trimmed.len() > MAX_IMAGE_URL_LEN {
            return Err(ImageUrlError::TooLong);
        }
        // The URL parser silently drops tabs and newlines inside a URL;
        // refusing them keeps what is stored what the user meant.
        if trimmed.chars().any(char::is_control) {
            return Err(ImageUrlError::ControlCharacter);
        }
        let url = Url::parse(trimmed).map_err(|_| ImageUrlError::NotAbsoluteUrl)?;
        if url.scheme() != "https" {
            return Err(ImageUrlError::NotHttps);
        }
        if url.host().is_none() {
            return Err(ImageUrlError::NotAbsoluteUrl);
        }
        // A user name or password in an avatar URL would be shown to every
        // viewer of the profile.
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ImageUrlError::Credentials);
        }
        let normalized = String::from(url);
        // Normalization percent-encodes, which can lengthen the text.
        if normalized.len() > MAX_IMAGE_URL_LEN {
            return Err(ImageUrlError::TooLong);
        }
        Ok(Some(Self(normalized)))
    }

    /// The normalized URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalized URL, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for ImageUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_tuple("ImageUrl").field(&self.0).finish()
    }
}

impl fmt::Display for ImageUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// Why an image URL is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ImageUrlError {
    #[error("image_url must be at most {MAX_IMAGE_URL_LEN} characters long")]
    TooLong,
    #[error("image_url must not contain control characters or line breaks")]
    ControlCharacter,
    #[error("image_url must be an absolute URL such as https://example.com/avatar.png")]
    NotAbsoluteUrl,
    #[error("image_url must use https")]
    NotHttps,
    #[error("image_url must not contain a user name or password")]
    Credentials,
}

impl ImageUrlError {
    /// The request field every image-URL error is about.
    pub const fn field(&self) -> &'static str {
        IMAGE_URL_PATH
    }
}

/// A validated UpdateProfile request: what to change, nothing about how it
/// compares with the stored profile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfileUpdate {
    /// The new name; `None` keeps the current one.
    pub name: Option<DisplayName>,
    /// The new image; `None` keeps the current one, `Some(None)` clears it.
    pub image_url: Option<Option<ImageUrl>>,
}

impl ProfileUpdate {
    /// Reads the fields `paths` names from the request's `user.name` and
    /// `user.image_url` (`None` when the request has no `user`, which reads
    /// as empty values). Fields the mask does not name are ignored, whatever
    /// they hold.
    ///
    /// Paths are `name` and `image_url`, relative to `user`; a path may
    /// repeat. An empty mask or any other path is refused as `update_mask`.
    pub fn from_mask(
        paths: &[String],
        name: Option<&str>,
        image_url: Option<&str>,
    ) -> Result<Self, ProfileUpdateError> {
        if paths.is_empty() {
            return Err(ProfileUpdateError::EmptyMask);
        }
        let mut update = Self::default();
        for path in paths {
            match path.as_str() {
                NAME_PATH => {
                    update.name = Some(DisplayName::parse(name.unwrap_or_default())?);
                }
                IMAGE_URL_PATH => {
                    update.image_url = Some(ImageUrl::parse(image_url.unwrap_or_default())?);
                }
                _ => {
                    return Err(ProfileUpdateError::UnknownPath {
                        path: shorten(path),
                    });
                }
            }
        }
        Ok(update)
    }

    /// The `(name, image_url)` to store after this update, given the
    /// current values (`current_image` empty when there is none; the
    /// returned image URL is empty when there is none).
    pub fn apply(&self, current_name: &str, current_image: &str) -> (String, String) {
        let name = self.name.as_ref().map_or(current_name, DisplayName::as_str);
        let image_url = match &self.image_url {
            Some(new_image) => new_image.as_ref().map_or("", ImageUrl::as_str),
            None => current_image,
        };
        (name.to_owned(), image_url.to_owned())
    }
}

/// The fields `update` would actually change on a profile with
/// `current_name` and `current_image` (empty for none), in the order `name`,
/// `image_url`: the `changed_fields` of `iam.user.profile_updated.v1`, which
/// is emitted only when this is not empty. A field the mask names but whose
/// value stays the same is not a change.
pub fn changed_fields(
    current_name: &str,
    current_image: &str,
    update: &ProfileUpdate,
) -> Vec<&'static str> {
    let (name, image_url) = update.apply(current_name, current_image);
    let mut changed = Vec::new();
    if name != current_name {
        changed.push(NAME_PATH);
    }
    if image_url != current_image {
        changed.push(IMAGE_URL_PATH);
    }
    changed
}

/// Why an UpdateProfile request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileUpdateError {
    #[error("update_mask must name at least one field: name or image_url")]
    EmptyMask,
    #[error("update_mask path {path:?} cannot be updated; only name and image_url can")]
    UnknownPath { path: String },
    #[error(transparent)]
    Name(#[from] DisplayNameError),
    #[error(transparent)]
    ImageUrl(#[from] ImageUrlError),
}

impl ProfileUpdateError {
    /// The request field the error is about.
    pub const fn field(&self) -> &'static str {
        match self {
            Self::EmptyMask | Self::UnknownPath { .. } => "update_mask",
            Self::Name(error) => error.field(),
            Self::ImageUrl(error) => error.field(),
        }
    }
}

/// Longest part of an unknown mask path echoed in an error message.
const MAX_ECHOED_PATH_CHARS: usize = 64;

/// `path` cut to a length fit for an error message.
fn shorten(path: &str) -> String {
    let mut characters = path.chars();
    let mut shortened: String = characters.by_ref().take(MAX_ECHOED_PATH_CHARS).collect();
    if characters.next().is_some() {
        shortened.push('…');
    }
    shortened
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    fn image(url: &str) -> Option<ImageUrl> {
        ImageUrl::parse(url).unwrap()
    }

    // ---- display names ----

    #[test]
    fn names_are_trimmed() {
        assert_eq!(
            DisplayName::parse("  Jane Doe \t").unwrap().as_str(),
            "Jane Doe"
        );
        assert_eq!(DisplayName::parse("Zoë 王").unwrap().to_string(), "Zoë 王");
    }

    #[test]
    fn empty_names_are_refused() {
        assert_eq!(DisplayName::parse(""), Err(DisplayNameError::Empty));
        assert_eq!(DisplayName::parse(" \n\t "), Err(DisplayNameError::Empty));
    }

    #[test]
    fn name_length_boundary_is_100_characters() {
        assert!(DisplayName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(
            DisplayName::parse(&"é".repeat(101)),
            Err(DisplayNameError::TooLong)
        );
        // Surrounding whitespace does not count.
        assert!(DisplayName::parse(&format!("  {}  ", "a".repeat(100))).is_ok());
        assert_eq!(
            DisplayName::parse(&"a".repeat(1_000_000)),
            Err(DisplayNameError::TooLong)
        );
    }

    #[test]
    fn control_characters_and_direction_overrides_are_refused() {
        for name in [
            "Jane\nDoe",
            "Jane\u{0}",
            "Jane\u{7f}",
            "Jane\u{85}Doe",
            "Jane\u{2028}Doe",
            "Jane\u{202E}moc.elpmaxe",
            "Jane\u{2066}x\u{2069}",
        ] {
            assert_eq!(
                DisplayName::parse(name),
                Err(DisplayNameError::ControlCharacter),
                "{name:?}"
            );
        }
        // Zero-width joiners are part of ordinary emoji and scripts.
        assert!(DisplayName::parse("👩\u{200D}💻 Jane").is_ok());
    }

    #[test]
    fn name_errors_name_the_field() {
        for input in ["", &"a".repeat(101), "a\u{1}"] {
            let error = DisplayName::parse(input).unwrap_err();
            assert_eq!(error.field(), "name");
            assert!(error.to_string().starts_with("name "), "{error}");
        }
    }

    // ---- image URLs ----

    #[test]
    fn empty_image_url_means_none() {
        assert_eq!(ImageUrl::parse(""), Ok(None));
        assert_eq!(ImageUrl::parse("   "), Ok(None));
    }

    #[test]
    fn https_urls_are_accepted_and_normalized() {
        assert_eq!(
            image("https://cdn.example.com/a/b.png?size=64#x")
                .unwrap()
                .as_str(),
            "https://cdn.example.com/a/b.png?size=64#x"
        );
        assert_eq!(
            image(" HTTPS://CDN.Example.COM ").unwrap().as_str(),
            "https://cdn.example.com/"
        );
        assert_eq!(
            image("https://example.com/a b.png").unwrap().as_str(),
            "https://example.com/a%20b.png"
        );
        assert_eq!(
            image("https://bücher.example/x.png").unwrap().as_str(),
            "https://xn--bcher-kva.example/x.png"
        );
    }

    #[test]
    fn only_absolute_https_urls_without_credentials_are_accepted() {
        for (input, expected) in [
            ("http://example.com/a.png", ImageUrlError::NotHttps),
            ("ftp://example.com/a.png", ImageUrlError::NotHttps),
            (
                "data:image/png;base64,iVBORw0KGgo=",
                ImageUrlError::NotHttps,
            ),
            ("javascript:alert(1)", ImageUrlError::NotHttps),
            ("/avatars/a.png", ImageUrlError::NotAbsoluteUrl),
            ("example.com/a.png", ImageUrlError::NotAbsoluteUrl),
            ("https://", ImageUrlError::NotAbsoluteUrl),
            ("https://exa mple.com/", ImageUrlError::NotAbsoluteUrl),
            (
                "https://user:pw@example.com/a.png",
                ImageUrlError::Credentials,
            ),
            ("https://user@example.com/a.png", ImageUrlError::Credentials),
            (
                "https://example.com/a\n.png",
                ImageUrlError::ControlCharacter,
            ),
            (
                "https://example.com/a\t.png",
                ImageUrlError::ControlCharacter,
            ),
        ] {
            assert_eq!(ImageUrl::parse(input), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn image_url_length_boundary_is_2048() {
        let prefix = "https://example.com/";
        let at_limit = format!("{prefix}{}", "a".repeat(2048 - prefix.len()));
        assert_eq!(at_limit.len(), 2048);
        assert_eq!(image(&at_limit).unwrap().as_str(), at_limit);
        let over = format!("{at_limit}a");
        assert_eq!(ImageUrl::parse(&over), Err(ImageUrlError::TooLong));
        // Short enough as typed, too long once spaces become %20.
        let spaces = format!("{prefix}{}", " ".repeat(1000));
        let spaces = format!("{spaces}x");
        assert!(spaces.len() <= 2048);
        assert_eq!(ImageUrl::parse(&spaces), Err(ImageUrlError::TooLong));
    }

    #[test]
    fn image_url_errors_name_the_field() {
        for input in ["http://example.com", "nope", "https://u:p@example.com"] {
            let error = ImageUrl::parse(input).unwrap_err();
            assert_eq!(error.field(), "image_url");
            assert!(error.to_string().starts_with("image_url "), "{error}");
        }
    }

    // ---- update mask ----

    #[test]
    fn the_mask_selects_the_fields_read() {
        let update =
            ProfileUpdate::from_mask(&paths(&["name"]), Some(" Jane "), Some("not even a url"))
                .unwrap();
        assert_eq!(update.name.unwrap().as_str(), "Jane");
        assert_eq!(update.image_url, None);

        let update = ProfileUpdate::from_mask(
            &paths(&["image_url"]),
            Some(""),
            Some("https://example.com/a.png"),
        )
        .unwrap();
        assert_eq!(update.name, None);
        assert_eq!(update.image_url, Some(image("https://example.com/a.png")));

        let update = ProfileUpdate::from_mask(
            &paths(&["image_url", "name", "name"]),
            Some("Jane"),
            Some("https://example.com/a.png"),
        )
        .unwrap();
        assert_eq!(update.name.unwrap().as_str(), "Jane");
        assert!(update.image_url.unwrap().is_some());
    }

    #[test]
    fn a_named_empty_image_url_clears_it() {
        for image_url in [Some(""), Some("  "), None] {
            let update = ProfileUpdate::from_mask(&paths(&["image_url"]), None, image_url).unwrap();
            assert_eq!(update.image_url, Some(None), "{image_url:?}");
        }
    }

    #[test]
    fn a_named_empty_name_is_refused_not_cleared() {
        for name in [Some(""), Some(" "), None] {
            let error = ProfileUpdate::from_mask(&paths(&["name"]), name, None).unwrap_err();
            assert_eq!(error, ProfileUpdateError::Name(DisplayNameError::Empty));
            assert_eq!(error.field(), "name");
            assert_eq!(error.to_string(), "name must not be empty");
        }
    }

    #[test]
    fn an_empty_mask_is_refused() {
        let error = ProfileUpdate::from_mask(&[], Some("Jane"), None).unwrap_err();
        assert_eq!(error, ProfileUpdateError::EmptyMask);
        assert_eq!(error.field(), "update_mask");
        assert!(error.to_string().starts_with("update_mask "), "{error}");
    }

    #[test]
    fn unknown_paths_are_refused() {
        for path in [
            "user.name",
            "email",
            "roles",
            "id",
            "Name",
            "",
            "*",
            "name.first",
        ] {
            let error =
                ProfileUpdate::from_mask(&paths(&["name", path]), Some("Jane"), None).unwrap_err();
            assert_eq!(
                error,
                ProfileUpdateError::UnknownPath {
                    path: path.to_owned()
                }
            );
            assert_eq!(error.field(), "update_mask");
        }
        let long = "x".repeat(10_000);
        let error = ProfileUpdate::from_mask(&[long], None, None).unwrap_err();
        assert!(error.to_string().len() < 200, "{error}");
        assert!(error.to_string().contains('…'), "{error}");
    }

    #[test]
    fn invalid_values_name_their_field() {
        let error = ProfileUpdate::from_mask(&paths(&["image_url"]), None, Some("http://x.io"))
            .unwrap_err();
        assert_eq!(error.field(), "image_url");
        assert_eq!(error.to_string(), "image_url must use https");
    }

    // ---- diff ----

    #[test]
    fn only_actual_changes_are_reported() {
        let both = ProfileUpdate::from_mask(
            &paths(&["image_url", "name"]),
            Some("Jane"),
            Some("https://example.com/a.png"),
        )
        .unwrap();
        assert_eq!(
            changed_fields("Jane", "https://example.com/a.png", &both),
            Vec::<&str>::new()
        );
        assert_eq!(
            changed_fields("Janet", "https://example.com/a.png", &both),
            vec!["name"]
        );
        assert_eq!(changed_fields("Jane", "", &both), vec!["image_url"]);
        assert_eq!(
            changed_fields("J", "https://example.com/b.png", &both),
            vec!["name", "image_url"]
        );
    }

    #[test]
    fn fields_outside_the_mask_never_change() {
        let name_only =
            ProfileUpdate::from_mask(&paths(&["name"]), Some("Janet"), Some("")).unwrap();
        assert_eq!(
            changed_fields("Jane", "https://example.com/a.png", &name_only),
            vec!["name"]
        );
        assert_eq!(
            name_only.apply("Jane", "https://example.com/a.png"),
            ("Janet".to_owned(), "https://example.com/a.png".to_owned())
        );
    }

    #[test]
    fn clearing_an_image_is_a_change_only_if_there_was_one() {
        let clear = ProfileUpdate::from_mask(&paths(&["image_url"]), None, Some("")).unwrap();
        assert_eq!(changed_fields("Jane", "", &clear), Vec::<&str>::new());
        assert_eq!(
            changed_fields("Jane", "https://example.com/a.png", &clear),
            vec!["image_url"]
        );
        assert_eq!(
            clear.apply("Jane", "https://example.com/a.png"),
            ("Jane".to_owned(), String::new())
        );
    }

    #[test]
    fn apply_gives_the_values_to_store() {
        let update = ProfileUpdate::from_mask(
            &paths(&["name", "image_url"]),
            Some("  Janet "),
            Some(" HTTPS://Example.com/b.png "),
        )
        .unwrap();
        assert_eq!(
            update.apply("Jane", "https://example.com/a.png"),
            ("Janet".to_owned(), "https://example.com/b.png".to_owned())
        );
    }

    #[test]
    fn a_stored_name_that_differs_only_by_surrounding_space_is_changed() {
        // Values are compared after validation trimmed the new one.
        let update = ProfileUpdate::from_mask(&paths(&["name"]), Some("Jane"), None).unwrap();
        assert_eq!(changed_fields(" Jane", "", &update), vec!["name"]);
        assert!(changed_fields("Jane", "", &update).is_empty());
    }
}
