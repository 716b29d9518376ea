//! The catalog's errors as gRPC statuses. `CatalogError` implements the
//! shared `ServiceError` (`app::error`), whose table owns the step to
//! `tonic::Code`, the `google.rpc.BadRequest` naming the field, and the
//! logging and masking of internal errors; this only applies it.

use ecommerce_platform::grpc::status_of;

use crate::app::CatalogError;
use crate::domain::validation::InvalidField;

/// The status a caller sees for `error`.
pub fn to_status(error: CatalogError) -> tonic::Status {
    status_of(&error)
}

/// INVALID_ARGUMENT naming the field of a request that did not convert.
pub fn invalid_request(invalid: InvalidField) -> tonic::Status {
    to_status(CatalogError::from(invalid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_request_names_its_field() {
        let status = invalid_request(InvalidField::new("title", "must not be empty"));
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(status.message(), "title: must not be empty");
    }
}
