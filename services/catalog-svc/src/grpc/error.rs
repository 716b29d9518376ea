//! The catalog's errors as gRPC statuses: the one mapping from
//! [`ErrorKind`] to the shared [`ErrorCode`] table (which owns the step to
//! `tonic::Code`, the `google.rpc.BadRequest` naming the field, and the
//! logging and masking of internal errors).

use ecommerce_platform::grpc::{ErrorCode, ServiceError, status_of};

use crate::domain::error::{CatalogError, ErrorKind};
use crate::domain::validation::InvalidField;

/// Exhaustive, so a new kind forces a decision here.
pub fn error_code(kind: ErrorKind) -> ErrorCode {
    match kind {
        ErrorKind::InvalidArgument => ErrorCode::InvalidArgument,
        ErrorKind::NotFound => ErrorCode::NotFound,
        ErrorKind::AlreadyExists => ErrorCode::AlreadyExists,
        ErrorKind::FailedPrecondition => ErrorCode::FailedPrecondition,
        ErrorKind::Aborted => ErrorCode::Aborted,
        ErrorKind::Unauthenticated => ErrorCode::Unauthenticated,
        ErrorKind::PermissionDenied => ErrorCode::PermissionDenied,
        ErrorKind::Unavailable => ErrorCode::Unavailable,
        ErrorKind::Internal => ErrorCode::Internal,
    }
}

impl ServiceError for CatalogError {
    fn code(&self) -> ErrorCode {
        error_code(self.kind())
    }

    fn field(&self) -> Option<&str> {
        CatalogError::field(self)
    }
}

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
    use ecommerce_platform::grpc::INTERNAL_MESSAGE;

    use super::*;
    use crate::domain::error::Resource;

    #[test]
    fn every_kind_has_its_grpc_code() {
        let table = [
            (ErrorKind::InvalidArgument, tonic::Code::InvalidArgument),
            (ErrorKind::NotFound, tonic::Code::NotFound),
            (ErrorKind::AlreadyExists, tonic::Code::AlreadyExists),
            (
                ErrorKind::FailedPrecondition,
                tonic::Code::FailedPrecondition,
            ),
            (ErrorKind::Aborted, tonic::Code::Aborted),
            (ErrorKind::Unauthenticated, tonic::Code::Unauthenticated),
            (ErrorKind::PermissionDenied, tonic::Code::PermissionDenied),
            (ErrorKind::Unavailable, tonic::Code::Unavailable),
            (ErrorKind::Internal, tonic::Code::Internal),
        ];
        for (kind, code) in table {
            assert_eq!(error_code(kind).grpc_code(), code, "{kind:?}");
        }
    }

    #[test]
    fn statuses_name_fields_and_hide_internals() {
        let status = invalid_request(InvalidField::new("title", "must not be empty"));
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(status.message(), "title: must not be empty");

        let status = to_status(CatalogError::not_found(Resource::Product, "p-1"));
        assert_eq!(status.code(), tonic::Code::NotFound);
        assert_eq!(status.message(), "product p-1 not found");

        let status = to_status(CatalogError::internal("password=hunter2 leaked"));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert_eq!(status.message(), INTERNAL_MESSAGE);
        assert!(!format!("{status:?}").contains("hunter2"));
    }
}
