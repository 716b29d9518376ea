//! What kind of failure an error is, for whoever must react to it: the
//! domain says it without knowing gRPC; `ecommerce_platform::grpc` maps it
//! to a status code in one table.

/// What kind of failure an error is, as far as a caller is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidArgument,
    NotFound,
    AlreadyExists,
    /// The request is valid but the resource's state forbids it (e.g. an
    /// illegal lifecycle transition).
    FailedPrecondition,
    /// A concurrency conflict: a stale version or etag. Re-read and retry.
    Aborted,
    Unauthenticated,
    PermissionDenied,
    /// Throttled: retry after a while.
    ResourceExhausted,
    /// A dependency (database, broker) is down; retry later.
    Unavailable,
    /// A bug or an unexpected state; the details stay in the log.
    Internal,
}
