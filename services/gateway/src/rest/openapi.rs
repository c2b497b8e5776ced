//! The OpenAPI 3.1 document and the docs page, generated from the same descriptors and route
//! annotations the transcoder serves: schemas in the proto3 JSON mapping (camelCase names, 64-bit
//! integers as strings, enums as string enums, Timestamps as date-time strings), bearer auth, the
//! problem+json errors and an example request on every operation. `openapi/haven.v1.json` is its
//! checked-in output; a test fails when the two differ.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use haven_platform::auth::OPEN_PATHS;
use haven_platform::paging::MAX_PAGE_SIZE;
use prost_reflect::{
    EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor, ServiceDescriptor,
};
use prost_types::FileDescriptorProto;
use serde_json::{Map, Value, json};

use super::problem::{CODES, RETRY_AFTER_SECS, problem_type};
use super::routes::{BodyTarget, Route, RouteTable, is_string_like};
use super::transcode::BODY_LIMIT_FACTOR;

/// The HTTP statuses every operation documents as problem+json, besides 200.
const ERROR_STATUSES: &[u16] = &[400, 401, 403, 404, 409, 429, 500, 503, 504];

/// The leading comment the .proto gives the element at `path` of `file`, trimmed.
fn comment(file: &FileDescriptorProto, path: &[i32]) -> Option<String> {
    let info = file.source_code_info.as_ref()?;
    let location = info.location.iter().find(|l| l.path == path)?;
    let text = location.leading_comments.as_deref()?;
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let joined = lines.join(" ").trim().to_owned();
    (!joined.is_empty()).then_some(joined)
}

fn method_comment(rpc: &MethodDescriptor) -> Option<String> {
    comment(rpc.parent_file().file_descriptor_proto(), rpc.path())
}

fn service_comment(service: &ServiceDescriptor) -> Option<String> {
    comment(
        service.parent_file().file_descriptor_proto(),
        service.path(),
    )
}

fn message_comment(message: &MessageDescriptor) -> Option<String> {
    comment(message.parent_file_descriptor_proto(), message.path())
}

fn field_comment(field: &FieldDescriptor) -> Option<String> {
    comment(field.parent_file().file_descriptor_proto(), field.path())
}

fn enum_comment(descriptor: &EnumDescriptor) -> Option<String> {
    comment(descriptor.parent_file_descriptor_proto(), descriptor.path())
}

/// The first sentence of a comment, for an operation's summary.
fn first_sentence(text: &str) -> String {
    match text.find(". ") {
        Some(end) => text[..=end].trim().to_owned(),
        None => text.to_owned(),
    }
}

/// Collects the schemas that operations refer to while they are written.
#[derive(Default)]
struct Schemas {
    done: BTreeMap<String, Value>,
    pending: Vec<MessageDescriptor>,
}

impl Schemas {
    fn message_ref(&mut self, message: &MessageDescriptor) -> Value {
        if let Some(schema) = well_known_schema(message) {
            return schema;
        }
        let name = message.full_name().to_owned();
        if !self.done.contains_key(&name) && !self.pending.iter().any(|m| m.full_name() == name) {
            self.pending.push(message.clone());
        }
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }

    fn enum_ref(&mut self, descriptor: &EnumDescriptor) -> Value {
        let name = descriptor.full_name().to_owned();
        if !self.done.contains_key(&name) {
            let values: Vec<Value> = descriptor.values().map(|v| json!(v.name())).collect();
            let mut schema = json!({ "type": "string", "enum": values });
            if let Some(text) = enum_comment(descriptor) {
                schema["description"] = json!(text);
            }
            self.done.insert(name.clone(), schema);
        }
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }

    /// The schema of one value of a field (an element, for a repeated field).
    fn value_schema(&mut self, kind: &Kind) -> Value {
        match kind {
            Kind::Message(message) => self.message_ref(message),
            Kind::Enum(descriptor) => self.enum_ref(descriptor),
            scalar => scalar_schema(scalar),
        }
    }

    fn field_schema(&mut self, field: &FieldDescriptor) -> Value {
        let mut schema = if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                return json!({});
            };
            let value = entry.map_entry_value_field();
            json!({ "type": "object", "additionalProperties": self.value_schema(&value.kind()) })
        } else if field.is_list() {
            json!({ "type": "array", "items": self.value_schema(&field.kind()) })
        } else {
            self.value_schema(&field.kind())
        };
        if let Value::Object(map) = &mut schema {
            constrain(field, map);
        }
        if let Some(text) = field_comment(field) {
            if schema.get("$ref").is_some() {
                // 3.1 lets a description sit beside a $ref.
                schema["description"] = json!(text);
            } else if let Value::Object(map) = &mut schema {
                map.insert("description".into(), json!(text));
            }
        }
        schema
    }

    fn message_schema(&mut self, message: &MessageDescriptor) -> Value {
        let mut properties = Map::new();
        for field in message.fields() {
            properties.insert(field.json_name().to_owned(), self.field_schema(&field));
        }
        let mut schema = json!({
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
        });
        if let Some(text) = message_comment(message) {
            schema["description"] = json!(text);
        }
        schema
    }

    /// Writes every schema referred to so far, and those they refer to.
    fn finish(mut self) -> BTreeMap<String, Value> {
        while let Some(message) = self.pending.pop() {
            let name = message.full_name().to_owned();
            if self.done.contains_key(&name) {
                continue;
            }
            // Reserve the name first: a message that refers to itself is written once.
            self.done.insert(name.clone(), Value::Null);
            let schema = self.message_schema(&message);
            self.done.insert(name, schema);
        }
        self.done
    }
}

fn scalar_schema(kind: &Kind) -> Value {
    match kind {
        Kind::Double => json!({ "type": "number", "format": "double" }),
        Kind::Float => json!({ "type": "number", "format": "float" }),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            json!({ "type": "integer", "format": "int32" })
        }
        Kind::Uint32 | Kind::Fixed32 => {
            json!({ "type": "integer", "minimum": 0, "maximum": u32::MAX })
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            json!({ "type": "string", "format": "int64", "pattern": "^-?[0-9]+$" })
        }
        Kind::Uint64 | Kind::Fixed64 => {
            json!({ "type": "string", "format": "uint64", "pattern": "^[0-9]+$" })
        }
        Kind::Bool => json!({ "type": "boolean" }),
        Kind::String => json!({ "type": "string" }),
        Kind::Bytes => json!({ "type": "string", "contentEncoding": "base64" }),
        Kind::Message(_) | Kind::Enum(_) => json!({}),
    }
}

/// Well-known types, whose JSON form is not an object of their fields.
fn well_known_schema(message: &MessageDescriptor) -> Option<Value> {
    let wrapped = |kind: Kind| scalar_schema(&kind);
    Some(match message.full_name() {
        "google.protobuf.Timestamp" => json!({ "type": "string", "format": "date-time" }),
        "google.protobuf.Duration" => {
            json!({ "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$" })
        }
        "google.protobuf.FieldMask" => json!({
            "type": "string",
            "description": "Field paths in camelCase, separated by commas (\"identity.givenName,whereabouts\")."
        }),
        "google.protobuf.Empty" => json!({ "type": "object", "additionalProperties": false }),
        "google.protobuf.Struct" => json!({ "type": "object" }),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.ListValue" => json!({ "type": "array" }),
        "google.protobuf.Any" => json!({ "type": "object" }),
        "google.protobuf.StringValue" => wrapped(Kind::String),
        "google.protobuf.BytesValue" => wrapped(Kind::Bytes),
        "google.protobuf.BoolValue" => wrapped(Kind::Bool),
        "google.protobuf.Int32Value" => wrapped(Kind::Int32),
        "google.protobuf.UInt32Value" => wrapped(Kind::Uint32),
        "google.protobuf.Int64Value" => wrapped(Kind::Int64),
        "google.protobuf.UInt64Value" => wrapped(Kind::Uint64),
        "google.protobuf.FloatValue" => wrapped(Kind::Float),
        "google.protobuf.DoubleValue" => wrapped(Kind::Double),
        _ => return None,
    })
}

/// An example id: the shape of a UUIDv7, which every Haven id is.
const EXAMPLE_ID: &str = "01936f4e-8c2a-7d3b-9e4f-5a6b7c8d9e0f";

/// An example JSON value of a message, every field filled once (the first member of each oneof), to
/// `depth` messages deep; `skip` names top-level fields the path already carries.
fn example_message(message: &MessageDescriptor, depth: usize, skip: &[String]) -> Value {
    let mut out = Map::new();
    let mut oneofs_seen = Vec::new();
    for field in message.fields() {
        if skip.iter().any(|s| s == field.name()) {
            continue;
        }
        if let Some(oneof) = field.containing_oneof()
            && !oneof.is_synthetic()
        {
            if oneofs_seen.contains(&oneof.name().to_owned()) {
                continue;
            }
            oneofs_seen.push(oneof.name().to_owned());
        }
        let Some(value) = example_field(message, &field, depth) else {
            continue;
        };
        out.insert(field.json_name().to_owned(), value);
    }
    Value::Object(out)
}

fn example_field(
    parent: &MessageDescriptor,
    field: &FieldDescriptor,
    depth: usize,
) -> Option<Value> {
    if field.is_map() {
        return None;
    }
    let value = example_value(parent, field, depth)?;
    Some(if field.is_list() {
        json!([value])
    } else {
        value
    })
}

fn example_value(
    parent: &MessageDescriptor,
    field: &FieldDescriptor,
    depth: usize,
) -> Option<Value> {
    let name = field.name();
    Some(match field.kind() {
        Kind::String if name == "id" || name.ends_with("_id") => json!(EXAMPLE_ID),
        // Fields whose validation wants a code or a format, by their conventional names.
        Kind::String if name.ends_with("country") || name == "nationalities" => json!("SO"),
        Kind::String if name == "languages" || name == "language" => json!("so"),
        Kind::String if name == "phone" => json!("+000 555 0100"),
        Kind::String => json!(format!("example {}", name.replace('_', " "))),
        Kind::Int32 | Kind::Uint32 if name == "year" => json!(2015),
        Kind::Int32 | Kind::Uint32 if name == "month" => json!(3),
        Kind::Int32 | Kind::Uint32 if name == "day" => json!(14),
        Kind::Uint32 if name == "max_years" => json!(10),
        Kind::Uint32 if name == "min_years" => json!(8),
        Kind::Bytes => json!("aGF2ZW4="),
        Kind::Bool => json!(true),
        Kind::Double | Kind::Float => json!(0.5),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Uint32 | Kind::Fixed32 => json!(1),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => json!("1"),
        Kind::Enum(descriptor) => {
            let value = descriptor
                .values()
                .find(|v| v.number() != 0)
                .or_else(|| descriptor.values().next())?;
            json!(value.name())
        }
        Kind::Message(message) => match message.full_name() {
            "google.protobuf.Timestamp" => json!("2026-01-15T09:30:00Z"),
            "google.protobuf.Duration" => json!("3600s"),
            "google.protobuf.FieldMask" => json!(example_mask(parent)),
            _ if is_string_like(&message) => {
                example_value(&message, &message.get_field_by_name("value")?, depth)?
            }
            _ if depth == 0 => return None,
            _ => example_message(&message, depth - 1, &[]),
        },
    })
}

/// An update mask for an example: the first field of the request's resource (its first singular
/// message field that is not a well-known type).
fn example_mask(request: &MessageDescriptor) -> String {
    request
        .fields()
        .find_map(|f| match f.kind() {
            Kind::Message(m) if !f.is_list() && !m.full_name().starts_with("google.") => {
                m.fields().next().map(|first| first.json_name().to_owned())
            }
            _ => None,
        })
        .unwrap_or_default()
}

/// The lower-case hyphenated UUID every record id is (`haven_platform::validate::record_id`).
const RECORD_ID_PATTERN: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

/// The rules the services apply to a field everywhere it appears, where the descriptors alone cannot
/// say them: the page size limit and the idempotency key's alphabet (`haven_platform::validate`).
fn constrain(field: &FieldDescriptor, schema: &mut Map<String, Value>) {
    if field.full_name() == "haven.common.v1.PageRequest.page_size" {
        schema.insert("minimum".into(), json!(0));
        schema.insert("maximum".into(), json!(MAX_PAGE_SIZE));
    }
    if field.name() == "request_id" && field.kind() == Kind::String && !field.is_list() {
        schema.insert("maxLength".into(), json!(128));
        schema.insert("pattern".into(), json!("^[!-~]*$"));
    }
}

fn parameter_schema(schemas: &mut Schemas, field: &FieldDescriptor) -> Value {
    let mut schema = schemas.field_schema(field);
    if let Value::Object(map) = &mut schema {
        map.remove("description");
    }
    schema
}

fn operation(schemas: &mut Schemas, route: &Route) -> Value {
    let rpc = &route.rpc;
    let description = method_comment(rpc).unwrap_or_default();
    let mut parameters = Vec::new();
    let input = rpc.input();
    for field in route.template.variables() {
        // A path variable `id` or `*_id` of a route behind a token names a record: its id. The public
        // routes name curriculum codes and status lists instead.
        let mut schema = parameter_schema(schemas, field.leaf());
        let name = field.leaf().name();
        if field.leaf().kind() == Kind::String
            && !route.public
            && (name == "id" || name.ends_with("_id"))
        {
            schema["format"] = json!("uuid");
            schema["pattern"] = json!(RECORD_ID_PATTERN);
        }
        let mut parameter = json!({
            "name": field.proto_name(),
            "in": "path",
            "required": true,
            "schema": schema,
        });
        if let Some(example) = example_value(&input, field.leaf(), 0) {
            parameter["example"] = example;
        }
        if let Some(text) = field_comment(field.leaf()) {
            parameter["description"] = json!(text);
        }
        parameters.push(parameter);
    }
    for param in &route.query {
        let mut parameter = json!({
            "name": param.name,
            "in": "query",
            "required": false,
            "schema": parameter_schema(schemas, param.field.leaf()),
        });
        if param.field.leaf().is_list() {
            parameter["explode"] = json!(true);
        }
        // Tokens come from a previous answer; an invented one would only be refused.
        if !param.name.ends_with("token")
            && let Some(example) = example_value(&input, param.field.leaf(), 0)
        {
            parameter["example"] = example;
        }
        if let Some(text) = field_comment(param.field.leaf()) {
            parameter["description"] = json!(text);
        }
        parameters.push(parameter);
    }
    if let Some(field) = &route.idempotency_field {
        parameters.push(json!({
            "name": "Idempotency-Key",
            "in": "header",
            "required": false,
            "description": format!(
                "Makes the call safe to retry: fills `{}`. A retry with the same key and body returns the first result; the same key with another body answers 409.",
                field.json_name()
            ),
            "schema": { "type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[!-~]+$" },
            "example": EXAMPLE_ID,
        }));
    }
    if let Some(field) = &route.version_field {
        parameters.push(json!({
            "name": "If-Match",
            "in": "header",
            "required": false,
            "description": format!(
                "The `ETag` of the version you read (`\"3\"`): fills `{}`. When the record has moved on since, the answer is 412 and nothing is written (a stale `{}` in the body answers 409).",
                field.json_name(),
                field.json_name()
            ),
            "schema": { "type": "string", "pattern": "^\"[1-9][0-9]{0,17}\"$" },
            "example": "\"3\"",
        }));
    } else if route.method == http::Method::GET && route.etag_path.is_some() {
        parameters.push(json!({
            "name": "If-None-Match",
            "in": "header",
            "required": false,
            "description": "The `ETag` of the copy you hold: 304 Not Modified, with no body, when the record is still at that version.",
            "schema": { "type": "string", "pattern": "^(\\*|(W/)?\"[1-9][0-9]{0,17}\")$" },
            "example": "\"3\"",
        }));
    }
    let path_fields: Vec<String> = route
        .template
        .variables()
        .filter(|f| f.0.len() == 1)
        .map(|f| f.proto_name())
        .collect();
    let mut responses = Map::new();
    let output_schema = match &route.response_body {
        Some(field) => schemas.field_schema(field),
        None => schemas.message_ref(&rpc.output()),
    };
    let mut ok = json!({
        "description": format!("The {} answer, in the proto3 JSON mapping.", rpc.name()),
        "content": { "application/json": { "schema": output_schema } },
    });
    if let Some(path) = &route.etag_path {
        ok["headers"] = json!({
            "ETag": {
                "description": format!(
                    "The record's version (`{}`) as an entity tag: send it back in `If-Match` to update, or `If-None-Match` to read only if it changed.",
                    path.json_name()
                ),
                "schema": { "type": "string", "example": "\"3\"" }
            }
        });
    }
    responses.insert("200".into(), ok);
    if route.version_field.is_some() {
        responses.insert(
            "412".into(),
            json!({ "$ref": "#/components/responses/Problem412" }),
        );
    } else if route.method == http::Method::GET && route.etag_path.is_some() {
        responses.insert(
            "304".into(),
            json!({
                "description": "Not Modified: the record is still at the version `If-None-Match` names.",
                "headers": { "ETag": { "schema": { "type": "string" } } }
            }),
        );
    }
    for status in ERROR_STATUSES {
        responses.insert(
            status.to_string(),
            json!({ "$ref": format!("#/components/responses/Problem{status}") }),
        );
    }
    let open = OPEN_PATHS.iter().any(|p| route.grpc_path.starts_with(p));
    let mut op = json!({
        "operationId": rpc.name(),
        "summary": first_sentence(&description),
        "description": description,
        "tags": [rpc.parent_service().name()],
        "x-grpc-method": route.grpc_path,
        "security": if open { json!([]) } else { json!([{ "bearerAuth": [] }]) },
        "parameters": parameters,
        "responses": responses,
    });
    let body = match &route.body {
        BodyTarget::None => None,
        BodyTarget::Whole => Some((
            schemas.message_ref(&rpc.input()),
            example_message(&rpc.input(), 3, &path_fields),
        )),
        BodyTarget::Field(field) => match field.kind() {
            Kind::Message(message) => Some((
                schemas.message_ref(&message),
                example_message(&message, 3, &[]),
            )),
            _ => None,
        },
    };
    if let Some((schema, example)) = body {
        op["responses"]["413"] = json!({ "$ref": "#/components/responses/Problem413" });
        op["requestBody"] = json!({
            "required": true,
            "content": {
                "application/json": {
                    "schema": schema,
                    "example": example,
                }
            }
        });
    }
    op
}

fn problem_components() -> (Value, Map<String, Value>) {
    let codes: Vec<Value> = CODES.iter().map(|(_, _, name, _)| json!(name)).collect();
    let schema = json!({
        "type": "object",
        "description": "An RFC 9457 problem, made from the gRPC status of the call.",
        "required": ["type", "title", "status"],
        "properties": {
            "type": { "type": "string", "format": "uri-reference", "description": "The problem's section of the docs page." },
            "title": { "type": "string" },
            "status": { "type": "integer", "description": "The HTTP status." },
            "detail": { "type": "string", "description": "What went wrong, naming the field where one is at fault; never a protected value." },
            "code": { "type": "string", "enum": codes, "description": "The gRPC status code's name: the same error as over gRPC." },
            "errors": {
                "type": "array",
                "description": "The field violations of an INVALID_ARGUMENT, one per field.",
                "items": {
                    "type": "object",
                    "required": ["field", "detail"],
                    "properties": {
                        "field": { "type": "string", "description": "The field's path in proto names (`child.identity.given_name`), as over gRPC." },
                        "jsonField": { "type": "string", "description": "The same path in JSON names (`child.identity.givenName`)." },
                        "detail": { "type": "string" }
                    }
                }
            }
        }
    });
    let mut responses = Map::new();
    responses.insert(
        "Problem413".into(),
        json!({
            "description": format!(
                "problem+json (RESOURCE_EXHAUSTED): the body is over {BODY_LIMIT_FACTOR} times the deployment's gRPC message limit"
            ),
            "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
        }),
    );
    responses.insert(
        "Problem412".into(),
        json!({
            "description": "problem+json (FAILED_PRECONDITION): the record is not at the version `If-Match` names; nothing was written. Read it again and retry with its new `ETag`.",
            "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
        }),
    );
    for status in ERROR_STATUSES {
        let names: Vec<&str> = CODES
            .iter()
            .filter(|(_, s, ..)| s == status)
            .map(|(_, _, name, _)| *name)
            .collect();
        let mut response = json!({
            "description": format!("problem+json for gRPC {}", names.join(", ")),
            "content": {
                "application/problem+json": {
                    "schema": { "$ref": "#/components/schemas/Problem" },
                    "example": {
                        "type": problem_type(names.first().copied().unwrap_or("UNKNOWN")),
                        "title": CODES.iter().find(|(_, s, ..)| s == status).map(|c| c.3).unwrap_or("Error"),
                        "status": status,
                        "detail": "what went wrong",
                        "code": names.first().copied().unwrap_or("UNKNOWN"),
                    }
                }
            }
        });
        if matches!(status, 429 | 503) {
            response["headers"] = json!({
                "Retry-After": {
                    "description": "Seconds to wait before retrying.",
                    "schema": { "type": "integer", "example": RETRY_AFTER_SECS }
                }
            });
        }
        if *status == 400 {
            response["content"]["application/problem+json"]["example"] = json!({
                "type": problem_type("INVALID_ARGUMENT"),
                "title": "Invalid argument",
                "status": 400,
                "detail": "child.identity.given_name: too long",
                "code": "INVALID_ARGUMENT",
                "errors": [{
                    "field": "child.identity.given_name",
                    "jsonField": "child.identity.givenName",
                    "detail": "child.identity.given_name: too long"
                }]
            });
        }
        responses.insert(format!("Problem{status}"), response);
    }
    (schema, responses)
}

/// The paths the gateway serves itself for OAuth2 clients: the token endpoint and the well-known
/// documents. None takes a bearer token.
fn oauth_paths() -> Vec<(&'static str, &'static str, Value)> {
    let oauth_error = |description: &str| {
        json!({
            "description": description,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/OAuthError" } } }
        })
    };
    let token = json!({
        "tags": ["OAuth2"],
        "operationId": "oauth2Token",
        "summary": "Trade client credentials for an access token (OAuth2 client credentials).",
        "description": "RFC 6749 §4.4. Authenticate with HTTP Basic (`client_secret_basic`: the form-urlencoded client id and secret, joined by a colon, in base64) or with `client_id` and `client_secret` in the form (`client_secret_post`), never both. `scope`, optional, names roles the client holds (space-separated) and narrows the token to them. The same endpoint, registry, secret check and limits as the gRPC `haven.auth.v1.Tokens/IssueToken`.",
        "security": [],
        "requestBody": {
            "required": true,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type"],
                        "properties": {
                            "grant_type": { "type": "string", "enum": ["client_credentials"] },
                            "client_id": { "type": "string", "description": "With client_secret_post; with Basic it may repeat the header's id." },
                            "client_secret": { "type": "string", "description": "With client_secret_post only." },
                            "scope": { "type": "string", "description": "Space-separated roles of the client's, e.g. `partner`." }
                        }
                    },
                    "example": "grant_type=client_credentials&scope=partner"
                }
            }
        },
        "responses": {
            "200": {
                "description": "An access token (RFC 6749 §5.1), never cached (`Cache-Control: no-store`).",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/TokenResponse" } } }
            },
            "400": oauth_error("invalid_request, unauthorized_client, unsupported_grant_type, invalid_scope; or invalid_client when the client did not use Basic"),
            "401": oauth_error("invalid_client: unknown client or wrong secret (one answer for both), with `WWW-Authenticate: Basic`"),
            "405": oauth_error("invalid_request: the endpoint takes POST only"),
            "413": oauth_error(&format!("invalid_request: the form is over {} bytes", crate::oauth::MAX_FORM_BYTES)),
            "429": {
                "description": "temporarily_unavailable: too many failed attempts from this address or for this client, or too many tokens",
                "headers": { "Retry-After": { "description": "Seconds to wait before retrying.", "schema": { "type": "integer" } } },
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/OAuthError" } } }
            }
        }
    });
    let jwks = json!({
        "tags": ["OAuth2"],
        "operationId": "jwks",
        "summary": "The public keys that verify Haven's access tokens (JWKS, RFC 7517).",
        "security": [],
        "responses": {
            "200": {
                "description": "A JWK set; cacheable (`Cache-Control: public`).",
                "content": { "application/jwk-set+json": { "schema": { "type": "object", "required": ["keys"], "properties": { "keys": { "type": "array", "items": { "type": "object" } } } } } }
            },
            "404": { "$ref": "#/components/responses/Problem404" }
        }
    });
    let metadata = json!({
        "tags": ["OAuth2"],
        "operationId": "oauthAuthorizationServerMetadata",
        "summary": "OAuth2 authorization server metadata (RFC 8414): where the token endpoint and keys are.",
        "description": "Its URLs are the deployment's public base URL (`gateway.public_url`). A deployment without one answers 404; the embedded default (`haven up`) names them after the request's Host.",
        "security": [],
        "responses": {
            "200": {
                "description": "The metadata; cacheable (`Cache-Control: public`).",
                "content": { "application/json": { "schema": { "type": "object", "required": ["issuer", "token_endpoint", "jwks_uri", "response_types_supported"] } } }
            },
            "404": { "$ref": "#/components/responses/Problem404" }
        }
    });
    vec![
        (crate::oauth::TOKEN_PATH, "post", token),
        (crate::well_known::JWKS_PATH, "get", jwks),
        (crate::well_known::METADATA_PATH, "get", metadata),
    ]
}

/// OpenAPI links from each answer that holds one record to the operations on that record: a create's
/// answer to the record's read and update, a read's to its update. The record's id sits beside its
/// version (`child.meta.id` beside `child.meta.version`), and the operations on it are the routes at
/// the answer's path plus `/{id}`, or at the same path when that already ends in `{id}`.
fn links(table: &RouteTable) -> Vec<(&Route, Map<String, Value>)> {
    let mut out = Vec::new();
    for route in &table.routes {
        let Some(version) = &route.etag_path else {
            continue;
        };
        let parents = &version.0[..version.0.len() - 1];
        let id_owner = match parents.last() {
            Some(field) => match field.kind() {
                Kind::Message(message) => message,
                _ => continue,
            },
            None => match &route.response_body {
                Some(field) => match field.kind() {
                    Kind::Message(message) => message,
                    _ => continue,
                },
                None => route.rpc.output(),
            },
        };
        if id_owner
            .get_field_by_name("id")
            .is_none_or(|f| f.kind() != Kind::String)
        {
            continue;
        }
        let mut pointer: String = parents
            .iter()
            .map(|f| format!("/{}", f.json_name()))
            .collect();
        pointer.push_str("/id");
        let path = route.template.openapi_path();
        let item = if path.ends_with("/{id}") {
            path.clone()
        } else {
            format!("{path}/{{id}}")
        };
        let mut links = Map::new();
        for target in &table.routes {
            let same_record = target.template.openapi_path() == item
                && target.template.variables().count() == 1
                && !std::ptr::eq(target, route);
            if same_record {
                let mut parameters = json!({ "path.id": format!("$response.body#{pointer}") });
                if target.version_field.is_some() {
                    // An update names the version it read: the answer's ETag.
                    parameters["header.If-Match"] = json!("$response.header.ETag");
                }
                links.insert(
                    target.rpc.name().to_owned(),
                    json!({
                        "operationId": target.rpc.name(),
                        "parameters": parameters,
                        "description": format!("The record this answer holds, to {}.", target.rpc.name()),
                    }),
                );
            }
        }
        if !links.is_empty() {
            out.push((route, links));
        }
    }
    out
}

/// The OpenAPI 3.1 document of every REST route.
pub fn document(table: &RouteTable) -> Value {
    let mut schemas = Schemas::default();
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut tags: BTreeMap<String, Value> = BTreeMap::new();
    for route in &table.routes {
        let service = route.rpc.parent_service();
        tags.entry(service.name().to_owned()).or_insert_with(|| {
            json!({
                "name": service.name(),
                "description": service_comment(service).unwrap_or_else(|| service.full_name().to_owned()),
            })
        });
        paths
            .entry(route.template.openapi_path())
            .or_default()
            .insert(
                route.method.as_str().to_ascii_lowercase(),
                operation(&mut schemas, route),
            );
    }
    for (path, method, operation) in oauth_paths() {
        paths
            .entry(path.to_owned())
            .or_default()
            .insert(method.to_owned(), operation);
    }
    tags.insert(
        "OAuth2".into(),
        json!({
            "name": "OAuth2",
            "description": "Tokens for machine clients (client credentials) and the keys that verify them, for stock OAuth2 libraries.",
        }),
    );
    for (route, links) in links(table) {
        if let Some(op) = paths
            .get_mut(&route.template.openapi_path())
            .and_then(|ops| ops.get_mut(&route.method.as_str().to_ascii_lowercase()))
        {
            op["responses"]["200"]["links"] = Value::Object(links);
        }
    }
    let (problem, responses) = problem_components();
    let mut all_schemas = schemas.finish();
    all_schemas.insert("Problem".into(), problem);
    all_schemas.insert(
        "TokenResponse".into(),
        json!({
            "type": "object",
            "required": ["access_token", "token_type", "expires_in"],
            "properties": {
                "access_token": { "type": "string", "description": "A JWT; send it as `Authorization: Bearer <token>`." },
                "token_type": { "type": "string", "enum": ["Bearer"] },
                "expires_in": { "type": "integer", "description": "Seconds until it expires." },
                "scope": { "type": "string", "description": "The roles the token carries, space-separated." }
            }
        }),
    );
    all_schemas.insert(
        "OAuthError".into(),
        json!({
            "type": "object",
            "description": "An OAuth2 error (RFC 6749 §5.2).",
            "required": ["error"],
            "properties": {
                "error": { "type": "string", "enum": ["invalid_request", "invalid_client", "unauthorized_client", "unsupported_grant_type", "invalid_scope", "temporarily_unavailable", "server_error"] },
                "error_description": { "type": "string" }
            }
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Haven API",
            "version": "v1",
            "description": format!(
                "REST/JSON over the same RPCs, policy and rate limits as Haven's gRPC API, on the same port. \
                 Bodies and answers are the proto3 JSON mapping of the messages (camelCase names, 64-bit \
                 integers as strings, enums by name). Every call but the public ones takes a bearer token \
                 (`Authorization: Bearer <jwt>`). Errors are RFC 9457 problem+json with the gRPC code's \
                 name. Creates take an `Idempotency-Key`. A request body may be {BODY_LIMIT_FACTOR} times the \
                 deployment's gRPC message limit (4 MiB by default); a longer one is refused with 413. \
                 Generated from the .proto files: do not edit."
            ),
            "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" },
        },
        "tags": tags.into_values().collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A Haven access token: from the token endpoint (client credentials) or `haven token`."
                },
                "oauth2ClientCredentials": {
                    "type": "oauth2",
                    "description": "Machine clients get a bearer token from the token endpoint.",
                    "flows": { "clientCredentials": { "tokenUrl": crate::oauth::TOKEN_PATH, "scopes": { "partner": "a partner agency's client", "lms": "a learning platform's client", "tracing_service": "a tracing service's client" } } }
                }
            },
            "schemas": all_schemas,
            "responses": responses,
        },
    })
}

/// The document as served and checked in: pretty JSON with a final newline.
pub fn document_text(table: &RouteTable) -> String {
    let mut text = serde_json::to_string_pretty(&document(table)).unwrap_or_default();
    text.push('\n');
    text
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A self-contained page (no script, no external resource) listing every operation with its
/// parameters and example, and the problem types that errors name.
pub fn docs_page(table: &RouteTable) -> String {
    let doc = document(table);
    let mut html = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Haven API</title>\n\
         <style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.4}\
         code,pre{background:#f4f4f4}pre{padding:.5rem;overflow-x:auto}td,th{text-align:left;padding:.2rem .5rem;vertical-align:top}\
         .m{font-weight:bold;font-family:monospace}</style></head><body>\n<h1>Haven API</h1>\n",
    );
    let _ = writeln!(
        html,
        "<p>{}</p>\n<p>The machine-readable document: <a href=\"/v1/openapi.json\">/v1/openapi.json</a> (OpenAPI 3.1).</p>",
        escape(doc["info"]["description"].as_str().unwrap_or_default())
    );
    html.push_str("<h2>Operations</h2>\n<table>\n");
    for route in &table.routes {
        let _ = writeln!(
            html,
            "<tr><td class=\"m\">{}</td><td><a href=\"#{}\"><code>{}</code></a></td><td>{}</td></tr>",
            route.method,
            route.rpc.name(),
            escape(&route.template.openapi_path()),
            escape(&first_sentence(
                &method_comment(&route.rpc).unwrap_or_default()
            ))
        );
    }
    html.push_str("</table>\n");
    for route in &table.routes {
        let op = &doc["paths"][route.template.openapi_path()]
            [route.method.as_str().to_ascii_lowercase()];
        let _ = writeln!(
            html,
            "<h3 id=\"{}\"><span class=\"m\">{}</span> <code>{}</code></h3>\n<p>{}</p>\n<p>gRPC: <code>{}</code>. {}</p>",
            route.rpc.name(),
            route.method,
            escape(&route.template.openapi_path()),
            escape(op["description"].as_str().unwrap_or_default()),
            escape(&route.grpc_path),
            if op["security"].as_array().is_some_and(Vec::is_empty) {
                "No token needed."
            } else {
                "Needs a bearer token."
            }
        );
        if let Some(parameters) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
            html.push_str("<table><tr><th>parameter</th><th>in</th><th>about</th></tr>\n");
            for p in parameters {
                let _ = writeln!(
                    html,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                    escape(p["name"].as_str().unwrap_or_default()),
                    escape(p["in"].as_str().unwrap_or_default()),
                    escape(p["description"].as_str().unwrap_or_default())
                );
            }
            html.push_str("</table>\n");
        }
        if let Some(example) = op.pointer("/requestBody/content/application~1json/example") {
            let _ = writeln!(
                html,
                "<p>Example body:</p>\n<pre>{}</pre>",
                escape(&serde_json::to_string_pretty(example).unwrap_or_default())
            );
        }
    }
    html.push_str("<h2 id=\"oauth2\">Tokens and keys</h2>\n<p>Machine clients trade their client id and secret for a bearer token; no token is needed for these.</p>\n<table>\n");
    for (path, method, operation) in oauth_paths() {
        let _ = writeln!(
            html,
            "<tr><td class=\"m\">{}</td><td><code>{}</code></td><td>{}</td></tr>",
            method.to_ascii_uppercase(),
            escape(path),
            escape(operation["summary"].as_str().unwrap_or_default())
        );
    }
    html.push_str("</table>\n<pre>curl -u \"$CLIENT_ID:$CLIENT_SECRET\" -d grant_type=client_credentials https://haven.example.org/oauth2/token</pre>\n");
    html.push_str("<h2>Problem types</h2>\n<p>Every error is <code>application/problem+json</code>; its <code>code</code> is the gRPC status code's name.</p>\n<table><tr><th>type</th><th>HTTP</th><th>gRPC code</th></tr>\n");
    for (_, status, name, title) in CODES {
        let anchor = problem_type(name);
        let anchor = anchor.trim_start_matches("/v1/docs#");
        let _ = writeln!(
            html,
            "<tr id=\"{anchor}\"><td>{title}</td><td>{status}</td><td><code>{name}</code></td></tr>"
        );
    }
    html.push_str("</table>\n</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked_in_path() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/haven.v1.json")
    }

    /// The checked-in document is what the descriptors generate, so a diff of it shows every API
    /// change. `HAVEN_WRITE_OPENAPI=1 cargo test -p haven-gateway openapi` rewrites it.
    #[test]
    fn checked_in_openapi_is_what_the_descriptors_generate() {
        let table = RouteTable::haven().expect("routes");
        let generated = document_text(&table);
        let path = checked_in_path();
        if std::env::var_os("HAVEN_WRITE_OPENAPI").is_some() {
            std::fs::write(&path, &generated).expect("write openapi");
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        let checked_in_value: Value = serde_json::from_str(&checked_in).unwrap_or(Value::Null);
        let generated_value: Value = serde_json::from_str(&generated).expect("generated json");
        assert!(
            checked_in_value == generated_value,
            "{} is not what the .proto files generate: run `HAVEN_WRITE_OPENAPI=1 cargo test -p haven-gateway openapi` and commit the diff",
            path.display()
        );
    }

    #[test]
    fn schemas_follow_the_json_mapping() {
        let doc = document(&RouteTable::haven().expect("routes"));
        let schemas = &doc["components"]["schemas"];
        let update = &schemas["haven.identity.v1.UpdateChildRequest"]["properties"];
        assert_eq!(update["expectedVersion"]["type"], "string");
        assert_eq!(update["expectedVersion"]["format"], "int64");
        let child = &schemas["haven.identity.v1.RecordMeta"]["properties"];
        assert_eq!(child["createdAt"]["format"], "date-time");
        assert_eq!(
            schemas["haven.common.v1.DataClass"]["enum"][1],
            "DATA_CLASS_IDENTITY"
        );
        let get = &doc["paths"]["/v1/children/{id}"]["get"];
        assert_eq!(get["security"][0]["bearerAuth"], json!([]));
        assert!(get["responses"]["400"].is_object());
        let post = &doc["paths"]["/v1/children"]["post"];
        assert!(post["requestBody"]["content"]["application/json"]["example"].is_object());
        assert!(
            post["parameters"]
                .as_array()
                .expect("parameters")
                .iter()
                .any(|p| p["name"] == "Idempotency-Key")
        );
        let page = docs_page(&RouteTable::haven().expect("routes"));
        assert!(page.contains("/v1/children:search"));
        assert!(page.contains("id=\"problem-invalid-argument\""));
    }
}
