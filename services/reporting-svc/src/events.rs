//! The stream inbox's handler of `reporting.event-stream`: each event's facts
//! ([`crate::domain::facts_of`]) applied in the transaction that also
//! records the event and moves the stream's cursor past it.

use async_trait::async_trait;
use ecommerce_events::DecodedEvent;
use ecommerce_inbox::{EventHandler, HandlerContext, HandlerError};

use crate::app::ReportingApp;

/// The handler of the reporting stream.
pub struct ReportingHandler {
    app: ReportingApp,
}

impl ReportingHandler {
    pub fn new(app: ReportingApp) -> Self {
        Self { app }
    }
}

#[async_trait]
impl EventHandler for ReportingHandler {
    async fn handle(
        &self,
        context: &HandlerContext<'_>,
        event: DecodedEvent,
    ) -> Result<(), HandlerError> {
        self.app
            .apply_in(context.transaction(), &event, context.metadata())
            .await
    }
}
