//! One generic transcoder for every REST route: the JSON body, path variables, query parameters and
//! `Idempotency-Key` become the RPC's request message (a prost-reflect dynamic message, proto3 JSON
//! mapping); the call goes through the gateway's forwarder like any gRPC call (rule table, rate limit,
//! the owning service); the answer comes back as proto3 JSON or problem+json.

use std::sync::Arc;

use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use haven_platform::auth::Caller;
use http_body_util::BodyExt as _;
use prost::Message as _;
use prost_reflect::{
    DeserializeOptions, DynamicMessage, Kind, MessageDescriptor, ReflectMessage as _,
    SerializeOptions,
};
use serde_json::{Map, Value};
use tonic::Status;
use tonic::body::Body;
use tonic_types::{ErrorDetails, StatusExt as _};

use super::RestCall;
use super::conditional::{self, Condition};
use super::problem::{problem_response, problem_response_as};
use super::routes::{BodyTarget, FieldPath, Route, RouteTable, decode_component};
use crate::forward::Forwarder;

/// How many times `gateway.max_message_bytes` a REST body may be: JSON spells a message out at length.
pub const BODY_LIMIT_FACTOR: usize = 4;

/// How long anyone may cache a public GET (a status list, an alignment target): a revocation shows
/// within a minute.
pub const PUBLIC_CACHE_CONTROL: &str = "public, max-age=60";

/// The header a client sets to make a create safe to retry; it fills the request's `request_id`.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The REST face of the gateway: the route table and the forwarder every call goes through.
#[derive(Debug, Clone)]
pub struct Transcoder {
    table: Arc<RouteTable>,
    forwarder: Forwarder,
    max_body_bytes: usize,
}

fn invalid(field: &str, description: impl Into<String>) -> Status {
    let description = description.into();
    Status::with_error_details(
        tonic::Code::InvalidArgument,
        description.clone(),
        ErrorDetails::with_bad_request_violation(field, description),
    )
}

impl Transcoder {
    /// `max_message_bytes` is the gRPC limit (`gateway.max_message_bytes`); a JSON body may be
    /// [`BODY_LIMIT_FACTOR`] times that.
    pub fn new(table: Arc<RouteTable>, forwarder: Forwarder, max_message_bytes: usize) -> Self {
        Transcoder {
            table,
            forwarder,
            max_body_bytes: max_message_bytes.saturating_mul(BODY_LIMIT_FACTOR),
        }
    }

    /// Serves one REST request that [`super::RestEdgeLayer`] routed: a JSON answer, or problem+json.
    /// Either carries the call's gRPC status in `grpc-status` for the telemetry layer; the edge removes
    /// it before the answer leaves.
    pub async fn serve<B>(self, request: http::Request<B>) -> http::Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<tonic::codegen::StdError>,
    {
        let (mut response, code) = match self.call(request).await {
            Ok(response) => (response, tonic::Code::Ok),
            Err(status) => (problem_response(&status), status.code()),
        };
        if !response.headers().contains_key("grpc-status") {
            response
                .headers_mut()
                .insert("grpc-status", (code as i32).into());
        }
        response
    }

    async fn call<B>(&self, request: http::Request<B>) -> Result<http::Response<Body>, Status>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<tonic::codegen::StdError>,
    {
        let (mut parts, body) = request.into_parts();
        let Some(rest) = parts.extensions.remove::<RestCall>() else {
            return Err(Status::not_found("no REST route"));
        };
        let route = self
            .table
            .routes
            .get(rest.route)
            .ok_or_else(|| Status::not_found(format!("no REST route {}", rest.path)))?;
        let caller = parts.extensions.get::<Caller>().cloned();
        // The rule table and the rate limit before the body is read, as for a gRPC call.
        self.forwarder
            .check(&route.grpc_path, caller.as_ref())
            .await?;
        let body = if matches!(route.body, BodyTarget::None) {
            Bytes::new()
        } else {
            match read_body(body, self.max_body_bytes).await? {
                Some(body) => body,
                None => {
                    let status = Status::resource_exhausted(format!(
                        "the body is over {} bytes",
                        self.max_body_bytes
                    ));
                    let mut response = problem_response_as(&status, Some(413));
                    response
                        .headers_mut()
                        .insert("grpc-status", (status.code() as i32).into());
                    return Ok(response);
                }
            }
        };
        let if_match = condition(&parts.headers, http::header::IF_MATCH)?;
        let if_none_match = condition(&parts.headers, http::header::IF_NONE_MATCH)?;
        let reads_one_record = route.method == http::Method::GET && route.etag_path.is_some();
        if if_none_match.is_some() && !reads_one_record {
            return Err(invalid(
                "If-None-Match",
                "If-None-Match: this operation reads no single record",
            ));
        }
        if if_match.is_some() && route.version_field.is_none() && !reads_one_record {
            return Err(invalid(
                "If-Match",
                "If-Match: this operation neither reads nor updates a single record",
            ));
        }
        let mut message = build_request(route, &parts, &rest.bound, &body)?;
        let updating = match (&if_match, &route.version_field) {
            (Some(condition), Some(field)) => {
                let Some(version) = condition
                    .expected_version()
                    .map_err(|why| invalid("If-Match", format!("If-Match: {why}")))?
                else {
                    return Ok(precondition_failed(
                        "If-Match names no version of this record",
                    ));
                };
                if let prost_reflect::Value::I64(given) = message.get_field(field).as_ref()
                    && *given != 0
                    && *given != version
                {
                    return Err(invalid(
                        field.name(),
                        format!("{}: differs from the If-Match header", field.name()),
                    ));
                }
                message.set_field(field, prost_reflect::Value::I64(version));
                true
            }
            _ => false,
        };
        let answer = match self
            .call_rpc(
                route,
                message,
                caller,
                parts.headers.get(http::header::AUTHORIZATION),
            )
            .await
        {
            Err(status) if updating && haven_platform::error::is_stale_version(&status) => {
                return Ok(precondition_failed(status.message()));
            }
            answer => answer?,
        };
        let (mut response, version) = json_response(route, answer)?;
        if let (Some(version), false) = (version, updating) {
            if if_match
                .as_ref()
                .is_some_and(|c| !c.matches_strongly(version))
            {
                return Ok(precondition_failed(
                    "the record is not at the version If-Match names",
                ));
            }
            if if_none_match
                .as_ref()
                .is_some_and(|c| c.matches_weakly(version))
            {
                let mut not_modified = http::Response::new(Body::empty());
                *not_modified.status_mut() = http::StatusCode::NOT_MODIFIED;
                for name in [http::header::ETAG, http::header::CACHE_CONTROL] {
                    if let Some(value) = response.headers().get(&name) {
                        not_modified.headers_mut().insert(name, value.clone());
                    }
                }
                response = not_modified;
            }
        }
        Ok(response)
    }

    /// The call as gRPC, sent by the same forwarder as a gRPC client's call (which checked it already),
    /// and its decoded answer.
    async fn call_rpc(
        &self,
        route: &Route,
        message: DynamicMessage,
        caller: Option<Caller>,
        authorization: Option<&http::HeaderValue>,
    ) -> Result<DynamicMessage, Status> {
        let encoded = message.encode_to_vec();
        let mut frame = BytesMut::with_capacity(encoded.len() + 5);
        frame.put_u8(0);
        frame.put_u32(
            u32::try_from(encoded.len())
                .map_err(|_| Status::resource_exhausted("request too large"))?,
        );
        frame.extend_from_slice(&encoded);
        let mut request = http::Request::new(Body::new(http_body_util::Full::new(frame.freeze())));
        *request.method_mut() = http::Method::POST;
        *request.version_mut() = http::Version::HTTP_2;
        *request.uri_mut() = http::Uri::try_from(route.grpc_path.as_str())
            .map_err(|_| Status::internal("bad method path"))?;
        let headers = request.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/grpc"),
        );
        headers.insert(http::header::TE, http::HeaderValue::from_static("trailers"));
        if let Some(value) = authorization {
            headers.insert(http::header::AUTHORIZATION, value.clone());
        }
        if let Some(caller) = caller {
            request.extensions_mut().insert(caller);
        }
        let response = self.forwarder.clone().send(request).await;
        let (parts, body) = response.into_parts();
        let collected = body
            .collect()
            .await
            .map_err(|e| Status::unavailable(format!("the service's answer broke off: {e}")))?;
        let mut status_headers = parts.headers;
        if let Some(trailers) = collected.trailers() {
            status_headers.extend(trailers.clone());
        }
        let status = Status::from_header_map(&status_headers)
            .unwrap_or_else(|| Status::internal("the service answered without a status"));
        if status.code() != tonic::Code::Ok {
            return Err(status);
        }
        let mut data = collected.to_bytes();
        if data.len() < 5 {
            return Err(Status::internal("the service answered without a message"));
        }
        let compressed = data.get_u8();
        let length = data.get_u32() as usize;
        if compressed != 0 || data.len() < length {
            return Err(Status::internal("the service's answer could not be read"));
        }
        DynamicMessage::decode(route.rpc.output(), data.slice(..length)).map_err(|e| {
            Status::internal(format!("the service's answer could not be decoded: {e}"))
        })
    }
}

/// Reads a request body of at most `limit` bytes; `None` when it is longer.
async fn read_body<B>(body: B, limit: usize) -> Result<Option<Bytes>, Status>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(Some(collected.to_bytes())),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Ok(None),
        Err(error) => Err(Status::invalid_argument(format!(
            "the body could not be read: {error}"
        ))),
    }
}

/// Deserializes proto3 JSON into a message of type `descriptor`, unknown fields refused.
fn from_json(
    descriptor: MessageDescriptor,
    json: &[u8],
    field: &str,
) -> Result<DynamicMessage, Status> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let message = DynamicMessage::deserialize_with_options(
        descriptor,
        &mut deserializer,
        &DeserializeOptions::new(),
    )
    .and_then(|m| deserializer.end().map(|()| m))
    .map_err(|e| invalid(field, format!("{field}: {}", json_error(&e))))?;
    Ok(message)
}

/// What was wrong with JSON, without the value that was wrong: an error never echoes what the client
/// sent (a name in the wrong field would otherwise come back in the answer and go into logs). An unknown
/// field is named; everything else is placed by line and column.
fn json_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let place = format!("line {} column {}", error.line(), error.column());
    if let Some(rest) = text.strip_prefix("unrecognized field name ") {
        let name = rest.split(" at line").next().unwrap_or(rest);
        return format!("unknown field {name} at {place}");
    }
    match error.classify() {
        serde_json::error::Category::Syntax => format!("malformed JSON at {place}"),
        serde_json::error::Category::Eof => "the JSON ends too early".to_owned(),
        serde_json::error::Category::Io => "the body could not be read".to_owned(),
        serde_json::error::Category::Data => {
            format!("a value does not fit its field's type at {place}")
        }
    }
}

/// The request message: the body, then the query parameters, then the path variables and the
/// `Idempotency-Key` merged over it (a path variable wins over the same field in the body).
fn build_request(
    route: &Route,
    parts: &http::request::Parts,
    bound: &[(FieldPath, String)],
    body: &[u8],
) -> Result<DynamicMessage, Status> {
    let input = route.rpc.input();
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        body
    };
    let mut message = match &route.body {
        BodyTarget::None => DynamicMessage::new(input.clone()),
        BodyTarget::Whole => from_json(input.clone(), body, "body")?,
        BodyTarget::Field(field) => {
            let Kind::Message(inner) = field.kind() else {
                return Err(Status::internal("route body is not a message"));
            };
            let value = from_json(inner, body, field.name())?;
            let mut message = DynamicMessage::new(input.clone());
            message.set_field(field, prost_reflect::Value::Message(value));
            message
        }
    };

    let mut seen = Vec::new();
    if let Some(query) = parts.uri.query() {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode_component(name, true)
                .ok_or_else(|| Status::invalid_argument("malformed query string"))?;
            let value = decode_component(value, true)
                .ok_or_else(|| invalid(&name, format!("{name}: malformed value")))?;
            let param = route
                .query_param(&name)
                .ok_or_else(|| invalid(&name, format!("{name}: unknown query parameter")))?;
            let proto_name = param.field.proto_name();
            if !param.field.leaf().is_list() {
                if seen.contains(&proto_name) {
                    return Err(invalid(
                        &proto_name,
                        format!("{proto_name}: given more than once"),
                    ));
                }
                seen.push(proto_name);
            }
            merge_param(&mut message, &param.field, value)?;
        }
    }

    // Path variables and the idempotency key last: they win over the same field in the body.
    for (field, value) in bound {
        merge_param(&mut message, field, value.clone())?;
    }
    if let (Some(field), Some(key)) = (&route.idempotency_field, parts.headers.get(IDEMPOTENCY_KEY))
    {
        let key = key
            .to_str()
            .map_err(|_| invalid(field.name(), "Idempotency-Key: not visible ASCII"))?;
        if let prost_reflect::Value::String(given) = message.get_field(field).as_ref()
            && !given.is_empty()
            && given != key
        {
            return Err(invalid(
                field.name(),
                format!("{}: differs from the Idempotency-Key header", field.name()),
            ));
        }
        merge_param(
            &mut message,
            &FieldPath(vec![field.clone()]),
            key.to_owned(),
        )?;
    }
    Ok(message)
}

/// Reads one textual parameter into the field it names, through the proto3 JSON mapping of the field's
/// type, and merges it into `message` (a repeated field gains an element). An error names the field.
fn merge_param(
    message: &mut DynamicMessage,
    field: &FieldPath,
    value: String,
) -> Result<(), Status> {
    let mut object = Map::new();
    put(&mut object, field, value)?;
    let json = Value::Object(object).to_string();
    let name = field.proto_name();
    let mut deserializer = serde_json::Deserializer::from_str(&json);
    let param = DynamicMessage::deserialize_with_options(
        message.descriptor(),
        &mut deserializer,
        &DeserializeOptions::new(),
    )
    .map_err(|_| invalid(&name, format!("{name}: not a valid value for this field")))?;
    message
        .merge(param.encode_to_vec().as_slice())
        .map_err(|e| Status::internal(e.to_string()))
}

/// Puts one textual parameter into a JSON object at the field's path, in the JSON form the field's
/// type reads: booleans as JSON booleans, repeated fields as arrays, everything else as a string (the
/// proto3 JSON mapping reads numbers, enums and well-known types from strings).
fn put(object: &mut Map<String, Value>, field: &FieldPath, value: String) -> Result<(), Status> {
    let mut current = object;
    let (leaf, parents) = field
        .0
        .split_last()
        .ok_or_else(|| Status::internal("empty path"))?;
    for parent in parents {
        let entry = current
            .entry(parent.json_name().to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        current = match entry {
            Value::Object(map) => map,
            _ => return Err(Status::internal("parameter path crosses a value")),
        };
    }
    let json = if leaf.kind() == Kind::Bool {
        match value.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => {
                let name = field.proto_name();
                return Err(invalid(&name, format!("{name}: expected true or false")));
            }
        }
    } else {
        Value::String(value)
    };
    let name = leaf.json_name().to_owned();
    if leaf.is_list() {
        match current
            .entry(name)
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(items) => items.push(json),
            _ => return Err(Status::internal("repeated parameter is not a list")),
        }
    } else if current.insert(name, json).is_some() {
        let name = field.proto_name();
        return Err(invalid(&name, format!("{name}: given more than once")));
    }
    Ok(())
}

/// A conditional header, or `None` when absent; a malformed one is INVALID_ARGUMENT naming it.
fn condition(
    headers: &http::HeaderMap,
    name: http::header::HeaderName,
) -> Result<Option<Condition>, Status> {
    let Some(value) = headers.get(&name) else {
        return Ok(None);
    };
    let field = match name {
        http::header::IF_MATCH => "If-Match",
        _ => "If-None-Match",
    };
    conditional::parse(value).map(Some).ok_or_else(|| {
        invalid(
            field,
            format!("{field}: expected * or entity tags such as \"3\""),
        )
    })
}

/// 412 Precondition Failed, as problem+json with the FAILED_PRECONDITION code.
fn precondition_failed(detail: &str) -> http::Response<Body> {
    let status = Status::failed_precondition(detail.to_owned());
    let mut response = problem_response_as(&status, Some(412));
    response
        .headers_mut()
        .insert("grpc-status", (status.code() as i32).into());
    response
}

/// The record version at `path` in `message`, when every message on the way is there. Walks by
/// reference: the answer is not copied.
fn version_at(message: &DynamicMessage, path: &[prost_reflect::FieldDescriptor]) -> Option<i64> {
    let (first, rest) = path.split_first()?;
    if !message.has_field(first) {
        return None;
    }
    match (message.get_field(first).as_ref(), rest.is_empty()) {
        (prost_reflect::Value::I64(version), true) if *version > 0 => Some(*version),
        (prost_reflect::Value::Message(inner), false) => version_at(inner, rest),
        _ => None,
    }
}

/// The answer as proto3 JSON: camelCase names, enums by name, 64-bit integers as strings, fields at
/// their default left out. An answer that holds one record carries its version as the `ETag` (returned
/// too); every answer is `Cache-Control: no-store`, as child data must never rest in a shared cache,
/// but for the public GETs, which hold none.
fn json_response(
    route: &Route,
    answer: DynamicMessage,
) -> Result<(http::Response<Body>, Option<i64>), Status> {
    let answer = match &route.response_body {
        Some(field) => match answer.get_field(field).as_ref() {
            prost_reflect::Value::Message(inner) => inner.clone(),
            _ => return Err(Status::internal("response_body is not a message")),
        },
        None => answer,
    };
    let version = route
        .etag_path
        .as_ref()
        .and_then(|path| version_at(&answer, &path.0));
    let mut out = Vec::with_capacity(256);
    let mut serializer = serde_json::Serializer::new(&mut out);
    answer
        .serialize_with_options(&mut serializer, &SerializeOptions::new())
        .map_err(|e| Status::internal(format!("the answer could not be written as JSON: {e}")))?;
    let mut response = http::Response::new(Body::new(http_body_util::Full::new(Bytes::from(out))));
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static(if route.public && route.method == http::Method::GET {
            PUBLIC_CACHE_CONTROL
        } else {
            "no-store"
        }),
    );
    if let Some(version) = version {
        headers.insert(http::header::ETAG, conditional::etag(version));
    }
    Ok((response, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(name: &str) -> MessageDescriptor {
        RouteTable::haven()
            .expect("routes")
            .pool
            .get_message_by_name(name)
            .expect("message")
    }

    #[test]
    fn json_errors_name_unknown_fields_and_never_echo_values() {
        let child = descriptor("haven.identity.v1.RegisterChildRequest");
        let status = from_json(
            child.clone(),
            br#"{"child": {"identity": {"favouriteColour": "x"}}}"#,
            "body",
        )
        .expect_err("unknown field");
        assert!(
            status.message().contains("favouriteColour"),
            "{}",
            status.message()
        );
        for bad in [
            &br#"{"child": {"identity": {"sex": "Secretname"}}}"#[..],
            br#"{"child": {"identity": {"givenName": ["Secretname"]}}}"#,
            br#"{"child": {"meta": {"version": "Secretname"}}}"#,
            br#"{"child": "Secretname"#,
        ] {
            let status = from_json(child.clone(), bad, "body").expect_err("bad value");
            assert!(
                !status.message().contains("Secretname"),
                "{}",
                status.message()
            );
        }
    }
}
