//! gRPC reflection clients for both protocol versions, through the clients
//! tonic-reflection generates (`pb::v1` / `pb::v1alpha`).

use prost::Message as _;
use prost_types::FileDescriptorProto;
use tonic::transport::Channel;

/// The same calls for each reflection version; only the generated types differ.
macro_rules! reflection_calls {
    ($version:ident, $list_services:ident, $file_containing_symbol:ident) => {
        #[doc = concat!("Lists the services advertised by gRPC reflection `", stringify!($version), "`, sorted.")]
        pub async fn $list_services(channel: Channel) -> Result<Vec<String>, tonic::Status> {
            use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
            use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;

            let response = ask!($version, channel, MessageRequest::ListServices(String::new()));
            match response {
                MessageResponse::ListServicesResponse(list) => {
                    let mut names: Vec<String> =
                        list.service.into_iter().map(|service| service.name).collect();
                    names.sort();
                    Ok(names)
                }
                MessageResponse::ErrorResponse(error) => Err(error_status(error.error_code, error.error_message)),
                other => Err(unexpected(&other)),
            }
        }

        #[doc = concat!(
            "Asks gRPC reflection `", stringify!($version),
            "` for the file defining `symbol` (and its dependencies), decoded."
        )]
        pub async fn $file_containing_symbol(
            channel: Channel,
            symbol: &str,
        ) -> Result<Vec<FileDescriptorProto>, tonic::Status> {
            use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
            use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;

            let response = ask!(
                $version,
                channel,
                MessageRequest::FileContainingSymbol(symbol.to_owned())
            );
            match response {
                MessageResponse::FileDescriptorResponse(files) => files
                    .file_descriptor_proto
                    .iter()
                    .map(|encoded| {
                        FileDescriptorProto::decode(encoded.as_slice()).map_err(|error| {
                            tonic::Status::internal(format!("undecodable file descriptor: {error}"))
                        })
                    })
                    .collect(),
                MessageResponse::ErrorResponse(error) => Err(error_status(error.error_code, error.error_message)),
                other => Err(unexpected(&other)),
            }
        }
    };
}

/// Sends one reflection request on a fresh stream and returns the one answer.
macro_rules! ask {
    ($version:ident, $channel:expr, $request:expr) => {{
        use tonic_reflection::pb::$version::ServerReflectionRequest;
        use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;

        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some($request),
        };
        let mut answers = ServerReflectionClient::new($channel)
            .server_reflection_info(tokio_stream::once(request))
            .await?
            .into_inner();
        answers
            .message()
            .await?
            .and_then(|answer| answer.message_response)
            .ok_or_else(|| {
                tonic::Status::internal("reflection closed the stream without an answer")
            })?
    }};
}

reflection_calls!(
    v1,
    reflection_list_services_v1,
    reflection_file_containing_symbol_v1
);
reflection_calls!(
    v1alpha,
    reflection_list_services_v1alpha,
    reflection_file_containing_symbol_v1alpha
);

fn error_status(code: i32, message: String) -> tonic::Status {
    tonic::Status::new(tonic::Code::from_i32(code), message)
}

fn unexpected(answer: &impl std::fmt::Debug) -> tonic::Status {
    tonic::Status::internal(format!("unexpected reflection answer {answer:?}"))
}
