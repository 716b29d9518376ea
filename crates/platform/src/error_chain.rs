//! One line for an error and its causes, for logs and headers.

/// `error: cause: cause…` on one line. A cause whose text the line already
/// holds is left out: some wrappers repeat their source's message in their own.
pub fn error_chain<E: std::error::Error + ?Sized>(error: &E) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("could not connect")]
    struct Wraps(#[source] std::io::Error);

    #[test]
    fn causes_follow_once_each() {
        let refused = || std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(error_chain(&Wraps(refused())), "could not connect: refused");
        assert_eq!(error_chain(&Repeats(refused())), "outer: refused");
        let dynamic: &dyn std::error::Error = &Wraps(refused());
        assert_eq!(error_chain(dynamic), "could not connect: refused");
    }
}
