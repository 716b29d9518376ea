//! gRPC adapter of `ecommerce.registry.v1.SchemaRegistryService`.
//!
//! Each handler: check who may call, convert the request
//! ([`crate::convert`], INVALID_ARGUMENT naming the field), call the
//! application, convert the result. Reads, RegisterSchema and CheckCompatibility are open to every
//! caller, anonymous ones included (services register their event schemas
//! at start-up, before any user token exists); SetCompatibility,
//! DeleteSchemaVersion and DeleteSubject need the `admin` role.

use ecommerce_auth::{Role, require_role};
use ecommerce_platform::grpc::status_of;
use ecommerce_proto::ecommerce::registry::v1 as pb;
use ecommerce_proto::ecommerce::registry::v1::schema_registry_service_server::{
    SchemaRegistryService, SchemaRegistryServiceServer,
};
use tonic::{Request, Response, Status};
use tracing::instrument;

use crate::app::error::AppError;
use crate::app::{LevelChange, RegistryApp, SchemaSubmission};
use crate::convert::{
    self, ListSubjectsQuery, ListVersionsQuery, pb_level, pb_optional_level, pb_references,
    pb_schema, pb_version, subjects_page_token, versions_page_token,
};
use crate::domain::{InvalidField, RegistryError};

/// The registry's gRPC handlers over a [`RegistryApp`].
#[derive(Clone, Debug)]
pub struct SchemaRegistryGrpc {
    app: RegistryApp,
}

impl SchemaRegistryGrpc {
    pub fn new(app: RegistryApp) -> Self {
        Self { app }
    }

    /// The tonic service, ready for `GrpcServer::add_service` (wrap it in
    /// the auth layer so callers are known).
    pub fn into_server(self) -> SchemaRegistryServiceServer<Self> {
        SchemaRegistryServiceServer::new(self)
    }
}

fn to_status(error: AppError) -> Status {
    status_of(&error)
}

fn invalid_request(invalid: InvalidField) -> Status {
    to_status(AppError::Domain(RegistryError::from(invalid)))
}

#[tonic::async_trait]
impl SchemaRegistryService for SchemaRegistryGrpc {
    #[instrument(skip_all, fields(subject = %request.get_ref().subject, message_name = %request.get_ref().message_name))]
    async fn register_schema(
        &self,
        request: Request<pb::RegisterSchemaRequest>,
    ) -> Result<Response<pb::RegisterSchemaResponse>, Status> {
        let submission =
            SchemaSubmission::try_from(request.into_inner()).map_err(invalid_request)?;
        let schema = self
            .app
            .register_schema(submission)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::RegisterSchemaResponse {
            schema: Some(pb_schema(schema)),
        }))
    }

    #[instrument(skip_all, fields(id = request.get_ref().id))]
    async fn get_schema(
        &self,
        request: Request<pb::GetSchemaRequest>,
    ) -> Result<Response<pb::GetSchemaResponse>, Status> {
        let id = convert::schema_id(request.get_ref().id).map_err(invalid_request)?;
        let schema = self.app.schema(id).await.map_err(to_status)?;
        Ok(Response::new(pb::GetSchemaResponse {
            schema: Some(pb_schema(schema)),
        }))
    }

    #[instrument(skip_all, fields(subject = %request.get_ref().subject))]
    async fn get_latest_schema(
        &self,
        request: Request<pb::GetLatestSchemaRequest>,
    ) -> Result<Response<pb::GetLatestSchemaResponse>, Status> {
        let subject = convert::subject(&request.get_ref().subject).map_err(invalid_request)?;
        let schema = self.app.latest_schema(&subject).await.map_err(to_status)?;
        Ok(Response::new(pb::GetLatestSchemaResponse {
            schema: Some(pb_schema(schema)),
        }))
    }

    #[instrument(skip_all, fields(include_deleted = request.get_ref().include_deleted))]
    async fn list_subjects(
        &self,
        request: Request<pb::ListSubjectsRequest>,
    ) -> Result<Response<pb::ListSubjectsResponse>, Status> {
        let query = ListSubjectsQuery::try_from(request.get_ref()).map_err(invalid_request)?;
        let page = self
            .app
            .list_subjects(
                query.page_size,
                query.after.as_deref(),
                query.include_deleted,
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListSubjectsResponse {
            next_page_token: subjects_page_token(page.next_after.as_ref(), query.include_deleted),
            subjects: page
                .subjects
                .into_iter()
                .map(|subject| subject.as_str().to_owned())
                .collect(),
        }))
    }

    #[instrument(skip_all, fields(subject = %request.get_ref().subject, include_deleted = request.get_ref().include_deleted))]
    async fn list_versions(
        &self,
        request: Request<pb::ListVersionsRequest>,
    ) -> Result<Response<pb::ListVersionsResponse>, Status> {
        let query = ListVersionsQuery::try_from(request.get_ref()).map_err(invalid_request)?;
        let page = self
            .app
            .list_versions(
                &query.subject,
                query.page_size,
                query.after,
                query.include_deleted,
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListVersionsResponse {
            versions: page.versions.iter().map(pb_version).collect(),
            next_page_token: versions_page_token(
                &query.subject,
                page.next_after,
                query.include_deleted,
            ),
        }))
    }

    #[instrument(skip_all, fields(subject = %request.get_ref().subject, message_name = %request.get_ref().message_name))]
    async fn check_compatibility(
        &self,
        request: Request<pb::CheckCompatibilityRequest>,
    ) -> Result<Response<pb::CheckCompatibilityResponse>, Status> {
        let submission =
            SchemaSubmission::try_from(request.into_inner()).map_err(invalid_request)?;
        let report = self
            .app
            .check_compatibility(submission)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CheckCompatibilityResponse {
            compatible: report.is_compatible(),
            level: pb_level(report.level).into(),
            messages: report.messages,
        }))
    }

    #[instrument(skip_all, fields(subject = %request.get_ref().subject))]
    async fn get_compatibility(
        &self,
        request: Request<pb::GetCompatibilityRequest>,
    ) -> Result<Response<pb::GetCompatibilityResponse>, Status> {
        let target = convert::level_target(&request.get_ref().subject).map_err(invalid_request)?;
        let in_effect = self.app.compatibility(&target).await.map_err(to_status)?;
        Ok(Response::new(pb::GetCompatibilityResponse {
            level: pb_level(in_effect.level).into(),
            inherited: in_effect.inherited,
        }))
    }

    #[instrument(skip_all, fields(subject = %request.get_ref().subject, level = request.get_ref().level))]
    async fn set_compatibility(
        &self,
        request: Request<pb::SetCompatibilityRequest>,
    ) -> Result<Response<pb::SetCompatibilityResponse>, Status> {
        require_role(&request, Role::ADMIN)?;
        let change = LevelChange::try_from(request.get_ref()).map_err(invalid_request)?;
        self.app
            .set_compatibility(&change)
            .await
            .map_err(to_status)?;
        let (subject, level) = match change {
            LevelChange::Global(level) => (String::new(), pb_level(level)),
            LevelChange::Subject { subject, level } => {
                (subject.as_str().to_owned(), pb_optional_level(level))
            }
        };
        Ok(Response::new(pb::SetCompatibilityResponse {
            subject,
            level: level.into(),
        }))
    }

    #[instrument(skip_all, fields(subject = %request.get_ref().subject, version = request.get_ref().version))]
    async fn get_schema_by_version(
        &self,
        request: Request<pb::GetSchemaByVersionRequest>,
    ) -> Result<Response<pb::GetSchemaByVersionResponse>, Status> {
        let message = request.get_ref();
        let subject = convert::subject(&message.subject).map_err(invalid_request)?;
        let version = convert::version(message.version).map_err(invalid_request)?;
        let schema = self
            .app
            .schema_by_version(&subject, version, message.include_deleted)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::GetSchemaByVersionResponse {
            schema: Some(pb_schema(schema)),
        }))
    }

    #[instrument(skip_all, fields(subject = %request.get_ref().subject, version = request.get_ref().version))]
    async fn delete_schema_version(
        &self,
        request: Request<pb::DeleteSchemaVersionRequest>,
    ) -> Result<Response<pb::DeleteSchemaVersionResponse>, Status> {
        require_role(&request, Role::ADMIN)?;
        let message = request.get_ref();
        let subject = convert::subject(&message.subject).map_err(invalid_request)?;
        let version = convert::version(message.version).map_err(invalid_request)?;
        let deleted = self
            .app
            .delete_version(&subject, version)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::DeleteSchemaVersionResponse {
            version: Some(pb_version(&deleted)),
        }))
    }

    #[instrument(skip_all, fields(subject = %request.get_ref().subject))]
    async fn delete_subject(
        &self,
        request: Request<pb::DeleteSubjectRequest>,
    ) -> Result<Response<pb::DeleteSubjectResponse>, Status> {
        require_role(&request, Role::ADMIN)?;
        let subject = convert::subject(&request.get_ref().subject).map_err(invalid_request)?;
        let deleted = self.app.delete_subject(&subject).await.map_err(to_status)?;
        Ok(Response::new(pb::DeleteSubjectResponse {
            versions: deleted.into_iter().map(|version| version.get()).collect(),
        }))
    }

    #[instrument(skip_all, fields(subject = %request.get_ref().subject, version = request.get_ref().version))]
    async fn get_references(
        &self,
        request: Request<pb::GetReferencesRequest>,
    ) -> Result<Response<pb::GetReferencesResponse>, Status> {
        let message = request.get_ref();
        let subject = convert::subject(&message.subject).map_err(invalid_request)?;
        let selector = convert::version_selector(message.version).map_err(invalid_request)?;
        let references = self
            .app
            .references(&subject, selector)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb_references(references)))
    }
}
