//! An IAM service for the auth tests: GetJwks answers its keys; the
//! caller-reporting RPCs say who arrived and count their calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ecommerce_auth::{Jwk, Role, optional_caller, require_caller, require_role};
use ecommerce_proto::ecommerce::iam::v1::iam_service_server::IamService;
use ecommerce_proto::ecommerce::iam::v1::{
    GetCurrentUserRequest, GetCurrentUserResponse, GetJwksRequest, GetJwksResponse,
    RefreshSessionRequest, RefreshSessionResponse, ResendVerificationEmailRequest,
    ResendVerificationEmailResponse, SetUserRolesRequest, SetUserRolesResponse, SignInRequest,
    SignInResponse, SignOutRequest, SignOutResponse, SignUpRequest, SignUpResponse,
    UpdateProfileRequest, UpdateProfileResponse, User, VerifyEmailRequest, VerifyEmailResponse,
};
use tonic::{Request, Response, Status};

/// Handlers that report who called them, and count their calls.
#[derive(Clone, Default)]
pub struct Stub {
    pub calls: Arc<AtomicUsize>,
    pub jwks: Vec<Jwk>,
}

#[tonic::async_trait]
impl IamService for Stub {
    async fn get_current_user(
        &self,
        request: Request<GetCurrentUserRequest>,
    ) -> Result<Response<GetCurrentUserResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        // Anonymous callers get an empty user: the test reads who arrived.
        let user = optional_caller(&request).map_or_else(User::default, |caller| User {
            id: caller.user_id.to_string(),
            roles: caller.roles,
            ..User::default()
        });
        Ok(Response::new(GetCurrentUserResponse { user: Some(user) }))
    }

    async fn update_profile(
        &self,
        request: Request<UpdateProfileRequest>,
    ) -> Result<Response<UpdateProfileResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let caller = require_caller(&request)?;
        let _body = request.into_inner();
        Ok(Response::new(UpdateProfileResponse {
            user: Some(User {
                id: caller.user_id.to_string(),
                ..User::default()
            }),
        }))
    }

    async fn set_user_roles(
        &self,
        request: Request<SetUserRolesRequest>,
    ) -> Result<Response<SetUserRolesResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        require_role(&request, Role::ADMIN)?;
        let body = request.into_inner();
        Ok(Response::new(SetUserRolesResponse {
            user: Some(User {
                id: body.user_id,
                roles: body.roles,
                ..User::default()
            }),
        }))
    }

    async fn get_jwks(
        &self,
        _request: Request<GetJwksRequest>,
    ) -> Result<Response<GetJwksResponse>, Status> {
        Ok(Response::new(GetJwksResponse {
            keys: self.jwks.iter().cloned().map(Into::into).collect(),
        }))
    }

    // What no test calls answers UNIMPLEMENTED (no default stubs are
    // generated).
    async fn sign_up(&self, _: Request<SignUpRequest>) -> Result<Response<SignUpResponse>, Status> {
        Err(Status::unimplemented("SignUp"))
    }

    async fn sign_in(&self, _: Request<SignInRequest>) -> Result<Response<SignInResponse>, Status> {
        Err(Status::unimplemented("SignIn"))
    }

    async fn sign_out(
        &self,
        _: Request<SignOutRequest>,
    ) -> Result<Response<SignOutResponse>, Status> {
        Err(Status::unimplemented("SignOut"))
    }

    async fn verify_email(
        &self,
        _: Request<VerifyEmailRequest>,
    ) -> Result<Response<VerifyEmailResponse>, Status> {
        Err(Status::unimplemented("VerifyEmail"))
    }

    async fn resend_verification_email(
        &self,
        _: Request<ResendVerificationEmailRequest>,
    ) -> Result<Response<ResendVerificationEmailResponse>, Status> {
        Err(Status::unimplemented("ResendVerificationEmail"))
    }

    async fn refresh_session(
        &self,
        _: Request<RefreshSessionRequest>,
    ) -> Result<Response<RefreshSessionResponse>, Status> {
        Err(Status::unimplemented("RefreshSession"))
    }
}
