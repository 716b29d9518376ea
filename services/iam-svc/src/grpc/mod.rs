//! gRPC adapter of `ecommerce.iam.v1.IamService`: each handler checks who
//! may call, converts the request (`crate::convert`), calls the application
//! and converts the answer. Every error goes through the one table in
//! `ecommerce_platform::grpc::ServiceError`.

use ecommerce_auth::{Role, require_caller, require_role};
use ecommerce_platform::grpc::{ServiceError as _, correlation_id};
use ecommerce_proto::ecommerce::iam::v1 as pb;
use ecommerce_proto::ecommerce::iam::v1::iam_service_server::{IamService, IamServiceServer};
use tonic::{Request, Response, Status};

use crate::app::{IamApp, IamError, RequestContext};
use crate::convert;

/// The RPCs that must work whatever (stale) token comes along: they are how
/// a client gets a fresh one, or need none. The auth layer passes them on
/// without looking at `authorization`.
pub const OPEN_METHODS: [&str; 6] = [
    "/ecommerce.iam.v1.IamService/SignUp",
    "/ecommerce.iam.v1.IamService/SignIn",
    "/ecommerce.iam.v1.IamService/RefreshSession",
    "/ecommerce.iam.v1.IamService/SignOut",
    "/ecommerce.iam.v1.IamService/VerifyEmail",
    "/ecommerce.iam.v1.IamService/GetJwks",
];

/// The handlers; cheap to clone.
#[derive(Clone, Debug)]
pub struct IamGrpc {
    app: IamApp,
}

impl IamGrpc {
    pub fn new(app: IamApp) -> Self {
        Self { app }
    }

    pub fn server(app: IamApp) -> IamServiceServer<Self> {
        IamServiceServer::new(Self::new(app))
    }
}

/// The correlation id and client address of a request.
fn context<T>(request: &Request<T>) -> RequestContext {
    RequestContext {
        correlation_id: correlation_id(request.metadata()),
        client_address: request
            .remote_addr()
            .map(|addr| addr.ip().to_string())
            .unwrap_or_default(),
    }
}

fn to_status(error: impl Into<IamError>) -> Status {
    error.into().into_status()
}

#[tonic::async_trait]
impl IamService for IamGrpc {
    async fn sign_up(
        &self,
        request: Request<pb::SignUpRequest>,
    ) -> Result<Response<pb::SignUpResponse>, Status> {
        let context = context(&request);
        let sign_up = convert::sign_up(request.into_inner()).map_err(to_status)?;
        let user = self
            .app
            .sign_up(&context, sign_up)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::SignUpResponse {
            user: Some(convert::user(user)),
        }))
    }

    async fn sign_in(
        &self,
        request: Request<pb::SignInRequest>,
    ) -> Result<Response<pb::SignInResponse>, Status> {
        let context = context(&request);
        let (email, password) = convert::sign_in(request.into_inner()).map_err(to_status)?;
        let (session, user) = self
            .app
            .sign_in(&context, &email, password)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::SignInResponse {
            tokens: Some(convert::tokens(session)),
            user: Some(convert::user(user)),
        }))
    }

    async fn sign_out(
        &self,
        request: Request<pb::SignOutRequest>,
    ) -> Result<Response<pb::SignOutResponse>, Status> {
        let context = context(&request);
        let token = convert::required(&request.get_ref().refresh_token, "refresh_token")
            .map_err(to_status)?;
        self.app
            .sign_out(&context, token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::SignOutResponse {}))
    }

    async fn verify_email(
        &self,
        request: Request<pb::VerifyEmailRequest>,
    ) -> Result<Response<pb::VerifyEmailResponse>, Status> {
        let context = context(&request);
        let token = convert::required(&request.get_ref().token, "token").map_err(to_status)?;
        let user = self
            .app
            .verify_email(&context, token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::VerifyEmailResponse {
            user: Some(convert::user(user)),
        }))
    }

    async fn resend_verification_email(
        &self,
        request: Request<pb::ResendVerificationEmailRequest>,
    ) -> Result<Response<pb::ResendVerificationEmailResponse>, Status> {
        let context = context(&request);
        let email = convert::email(&request.get_ref().email).map_err(to_status)?;
        self.app
            .resend_verification_email(&context, &email)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ResendVerificationEmailResponse {}))
    }

    async fn update_profile(
        &self,
        request: Request<pb::UpdateProfileRequest>,
    ) -> Result<Response<pb::UpdateProfileResponse>, Status> {
        let caller = require_caller(&request)?;
        let context = context(&request);
        let update = convert::profile_update(request.into_inner()).map_err(to_status)?;
        let user = self
            .app
            .update_profile(&context, &caller, update)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::UpdateProfileResponse {
            user: Some(convert::user(user)),
        }))
    }

    async fn get_current_user(
        &self,
        request: Request<pb::GetCurrentUserRequest>,
    ) -> Result<Response<pb::GetCurrentUserResponse>, Status> {
        let caller = require_caller(&request)?;
        let user = self.app.current_user(&caller).await.map_err(to_status)?;
        Ok(Response::new(pb::GetCurrentUserResponse {
            user: Some(convert::user(user)),
        }))
    }

    async fn refresh_session(
        &self,
        request: Request<pb::RefreshSessionRequest>,
    ) -> Result<Response<pb::RefreshSessionResponse>, Status> {
        let context = context(&request);
        let token = convert::required(&request.get_ref().refresh_token, "refresh_token")
            .map_err(to_status)?;
        let session = self
            .app
            .refresh_session(&context, token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::RefreshSessionResponse {
            tokens: Some(convert::tokens(session)),
        }))
    }

    async fn get_jwks(
        &self,
        _request: Request<pb::GetJwksRequest>,
    ) -> Result<Response<pb::GetJwksResponse>, Status> {
        let keys = self
            .app
            .keys()
            .published()
            .iter()
            .cloned()
            .map(pb::Jwk::from)
            .collect();
        Ok(Response::new(pb::GetJwksResponse { keys }))
    }

    async fn set_user_roles(
        &self,
        request: Request<pb::SetUserRolesRequest>,
    ) -> Result<Response<pb::SetUserRolesResponse>, Status> {
        let caller = require_role(&request, Role::ADMIN)?;
        let context = context(&request);
        let (user_id, roles) = convert::set_user_roles(request.into_inner()).map_err(to_status)?;
        let user = self
            .app
            .set_user_roles(&context, &caller, user_id, roles)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::SetUserRolesResponse {
            user: Some(convert::user(user)),
        }))
    }
}
