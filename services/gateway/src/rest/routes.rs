//! The REST route table: every RPC annotated with `haven.common.v1.http`, read from the descriptor set
//! at startup, with its path template parsed and every field it names resolved against the request.

use std::fmt;

use haven_proto::common::HttpRule;
use haven_proto::common::http_rule::Pattern;
use prost_reflect::{
    DescriptorPool, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor, Value,
};

/// The option that carries an RPC's REST binding.
pub const HTTP_OPTION: &str = "haven.common.v1.http";

/// A route annotation that cannot be served; the gateway refuses to start with one.
#[derive(Debug, thiserror::Error)]
#[error("{rpc}: {reason}")]
pub struct RouteError {
    pub rpc: String,
    pub reason: String,
}

fn route_error(rpc: &MethodDescriptor, reason: impl Into<String>) -> RouteError {
    RouteError {
        rpc: rpc.full_name().to_owned(),
        reason: reason.into(),
    }
}

/// A field reached from the request message by a dotted path (`page.page_token`).
#[derive(Clone)]
pub struct FieldPath(pub Vec<FieldDescriptor>);

impl FieldPath {
    /// The proto names joined by dots, as a field violation or an update mask names it.
    pub fn proto_name(&self) -> String {
        self.0
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The JSON names joined by dots.
    pub fn json_name(&self) -> String {
        self.0
            .iter()
            .map(|f| f.json_name())
            .collect::<Vec<_>>()
            .join(".")
    }

    pub fn leaf(&self) -> &FieldDescriptor {
        // A path is never empty: `resolve` refuses an empty name.
        &self.0[self.0.len() - 1]
    }
}

impl fmt::Debug for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.proto_name())
    }
}

/// Resolves a dotted proto field name against `message`: every step but the last a singular message.
fn resolve(message: &MessageDescriptor, dotted: &str) -> Result<FieldPath, String> {
    let mut fields = Vec::new();
    let mut current = message.clone();
    let parts: Vec<&str> = dotted.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let field = current
            .get_field_by_name(part)
            .ok_or_else(|| format!("{} has no field {part}", current.full_name()))?;
        if i + 1 < parts.len() {
            match field.kind() {
                Kind::Message(inner) if !field.is_list() && !field.is_map() => current = inner,
                _ => return Err(format!("{dotted}: {part} is not a singular message")),
            }
        }
        fields.push(field);
    }
    Ok(FieldPath(fields))
}

/// Whether a field's JSON form is one plain value that a path segment or query parameter can carry.
pub fn is_plain(field: &FieldDescriptor) -> bool {
    if field.is_map() {
        return false;
    }
    match field.kind() {
        Kind::Message(message) => is_string_like(&message),
        _ => true,
    }
}

/// Well-known messages whose JSON form is a string (or a bare scalar): they fill from one parameter.
pub fn is_string_like(message: &MessageDescriptor) -> bool {
    matches!(
        message.full_name(),
        "google.protobuf.Timestamp"
            | "google.protobuf.Duration"
            | "google.protobuf.FieldMask"
            | "google.protobuf.StringValue"
            | "google.protobuf.BytesValue"
            | "google.protobuf.BoolValue"
            | "google.protobuf.Int32Value"
            | "google.protobuf.UInt32Value"
            | "google.protobuf.Int64Value"
            | "google.protobuf.UInt64Value"
            | "google.protobuf.FloatValue"
            | "google.protobuf.DoubleValue"
    )
}

/// One segment of a path template.
#[derive(Debug, Clone)]
pub enum Segment {
    Literal(String),
    Variable(FieldPath),
}

/// A parsed path template: `/v1/tracing-requests/{id}` or `/v1/children:search`.
#[derive(Debug, Clone)]
pub struct Template {
    pub text: String,
    pub segments: Vec<Segment>,
    /// The custom verb after the last segment (`search` in `/v1/children:search`).
    pub verb: Option<String>,
}

impl Template {
    fn parse(text: &str, input: &MessageDescriptor) -> Result<Template, String> {
        let rest = text
            .strip_prefix('/')
            .ok_or_else(|| format!("path {text:?} does not start with /"))?;
        let (rest, verb) = match rest.rsplit_once(':') {
            Some((head, verb)) if !verb.contains('/') && !verb.contains('}') => {
                (head, Some(verb.to_owned()))
            }
            _ => (rest, None),
        };
        let mut segments = Vec::new();
        for part in rest.split('/') {
            if part.is_empty() {
                return Err(format!("path {text:?} has an empty segment"));
            }
            if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                if name.contains('=') || name.contains('*') {
                    return Err(format!(
                        "path {text:?}: only whole-segment variables such as {{id}} are supported"
                    ));
                }
                let field = resolve(input, name)?;
                if field.leaf().is_list() || !is_plain(field.leaf()) {
                    return Err(format!("path variable {name} is not a single plain value"));
                }
                segments.push(Segment::Variable(field));
            } else if part.contains(['{', '}', '*']) {
                return Err(format!("path {text:?}: malformed segment {part:?}"));
            } else {
                segments.push(Segment::Literal(part.to_owned()));
            }
        }
        Ok(Template {
            text: text.to_owned(),
            segments,
            verb,
        })
    }

    /// The variables of this template bound from `path`, percent-decoded, or `None` when it does not
    /// match. A variable's value is never empty.
    pub fn matches(&self, path: &str) -> Option<Vec<(FieldPath, String)>> {
        let rest = path.strip_prefix('/')?;
        let rest = match &self.verb {
            Some(verb) => rest.strip_suffix(verb.as_str())?.strip_suffix(':')?,
            None => rest,
        };
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut bound = Vec::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(literal) => {
                    if literal != part {
                        return None;
                    }
                }
                Segment::Variable(field) => {
                    let value = percent_decode(part)?;
                    if value.is_empty() {
                        return None;
                    }
                    bound.push((field.clone(), value));
                }
            }
        }
        Some(bound)
    }

    /// The variables' fields, in template order.
    pub fn variables(&self) -> impl Iterator<Item = &FieldPath> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Variable(field) => Some(field),
            Segment::Literal(_) => None,
        })
    }

    /// The template with each variable written as OpenAPI writes path parameters, `{name}`.
    pub fn openapi_path(&self) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            out.push('/');
            match segment {
                Segment::Literal(literal) => out.push_str(literal),
                Segment::Variable(field) => {
                    out.push('{');
                    out.push_str(&field.proto_name());
                    out.push('}');
                }
            }
        }
        if let Some(verb) = &self.verb {
            out.push(':');
            out.push_str(verb);
        }
        out
    }
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`); `None` when the result is not UTF-8
/// or an escape is malformed.
pub fn decode_component(text: &str, plus_is_space: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn percent_decode(segment: &str) -> Option<String> {
    decode_component(segment, false)
}

/// Where the JSON body goes in the request.
#[derive(Debug, Clone)]
pub enum BodyTarget {
    /// No body (GET, DELETE).
    None,
    /// The body is the whole request message (`body: "*"`).
    Whole,
    /// The body is one message field of the request (`body: "child"`).
    Field(FieldDescriptor),
}

/// A query parameter a route accepts: its canonical name and the field it fills.
#[derive(Debug, Clone)]
pub struct QueryParam {
    /// The name the OpenAPI document gives: the leaf's proto name when no other parameter of the route
    /// shares it, else the dotted proto path.
    pub name: String,
    pub field: FieldPath,
}

/// One REST binding of one RPC.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: http::Method,
    pub template: Template,
    pub body: BodyTarget,
    /// The response field that is the JSON answer, when not the whole response.
    pub response_body: Option<FieldDescriptor>,
    pub query: Vec<QueryParam>,
    /// The request's `request_id` field, which the `Idempotency-Key` header fills.
    pub idempotency_field: Option<FieldDescriptor>,
    /// The request's `expected_version` field, which an `If-Match` header fills.
    pub version_field: Option<FieldDescriptor>,
    /// Where the answer's record version is (`child.meta.version`, `version`): it becomes the `ETag`.
    pub etag_path: Option<FieldPath>,
    /// An RPC anyone may call without a token (`haven_platform::auth::OPEN_PATHS`): the passports'
    /// status lists and alignment targets. Its GET answers may be cached by anyone.
    pub public: bool,
    pub rpc: MethodDescriptor,
    /// The gRPC path the call is forwarded as: `/haven.identity.v1.ChildIdentity/GetChild`.
    pub grpc_path: String,
}

impl Route {
    /// Accepts a query parameter by its canonical name, its dotted proto path or its JSON name(s).
    pub fn query_param(&self, name: &str) -> Option<&QueryParam> {
        self.query.iter().find(|p| {
            p.name == name || p.field.proto_name() == name || p.field.json_name() == name || {
                let leaf = p.field.leaf();
                // The short form in JSON spelling (`pageToken`), when the short form is the canonical one.
                p.name == leaf.name() && leaf.json_name() == name
            }
        })
    }
}

/// The shallowest singular `int64 version` field of a message, through singular message fields up to
/// three deep: `ChildView` -> `child.meta.version`, `TracingRequest` -> `version`. A message that lists
/// records (a repeated field) has no single version, and so no `ETag`.
fn version_path(message: &MessageDescriptor) -> Option<FieldPath> {
    let mut level: Vec<Vec<FieldDescriptor>> = vec![Vec::new()];
    for _ in 0..3 {
        let mut next = Vec::new();
        for path in &level {
            let parent = match path.last() {
                Some(field) => match field.kind() {
                    Kind::Message(inner) => inner,
                    _ => continue,
                },
                None => message.clone(),
            };
            for field in parent.fields() {
                if field.is_list() || field.is_map() {
                    continue;
                }
                let mut extended = path.clone();
                extended.push(field.clone());
                if field.name() == "version" && field.kind() == Kind::Int64 {
                    return Some(FieldPath(extended));
                }
                if matches!(field.kind(), Kind::Message(_)) {
                    next.push(extended);
                }
            }
        }
        level = next;
    }
    None
}

/// Every REST route of a descriptor pool.
#[derive(Debug, Clone)]
pub struct RouteTable {
    pub pool: DescriptorPool,
    pub routes: Vec<Route>,
}

/// What a request path and method found in the table.
#[derive(Debug)]
pub enum Found {
    /// The route's index in the table, and the values its path variables bound.
    Route(usize, Vec<(FieldPath, String)>),
    /// The path exists, with other methods (405, with these in `Allow`).
    WrongMethod(Vec<http::Method>),
    NotFound,
}

impl RouteTable {
    /// The routes of Haven's own contract.
    pub fn haven() -> Result<RouteTable, RouteError> {
        let pool =
            DescriptorPool::decode(haven_proto::FILE_DESCRIPTOR_SET).map_err(|e| RouteError {
                rpc: "descriptor set".into(),
                reason: e.to_string(),
            })?;
        RouteTable::from_pool(pool)
    }

    /// Reads every `haven.common.v1.http` annotation of every service in `pool`.
    pub fn from_pool(pool: DescriptorPool) -> Result<RouteTable, RouteError> {
        let mut routes = Vec::new();
        if let Some(extension) = pool.get_extension_by_name(HTTP_OPTION) {
            for service in pool.services() {
                for rpc in service.methods() {
                    let options = rpc.options();
                    if !options.has_extension(&extension) {
                        continue;
                    }
                    let Value::Message(rule) = options.get_extension(&extension).into_owned()
                    else {
                        continue;
                    };
                    let rule: HttpRule = rule
                        .transcode_to()
                        .map_err(|e| route_error(&rpc, e.to_string()))?;
                    if rpc.is_client_streaming() || rpc.is_server_streaming() {
                        return Err(route_error(&rpc, "a streaming RPC has no REST binding"));
                    }
                    routes.push(Route::new(&rpc, &rule)?);
                    for extra in &rule.additional_bindings {
                        if !extra.additional_bindings.is_empty() {
                            return Err(route_error(&rpc, "additional bindings do not nest"));
                        }
                        routes.push(Route::new(&rpc, extra)?);
                    }
                }
            }
        }
        for (i, a) in routes.iter().enumerate() {
            for b in &routes[i + 1..] {
                if a.method == b.method && a.template.openapi_shape() == b.template.openapi_shape()
                {
                    return Err(route_error(
                        &b.rpc,
                        format!(
                            "{} {} is already bound to {}",
                            b.method,
                            b.template.text,
                            a.rpc.full_name()
                        ),
                    ));
                }
            }
        }
        Ok(RouteTable { pool, routes })
    }

    /// The route for a request's method and path.
    pub fn find(&self, method: &http::Method, path: &str) -> Found {
        let mut allowed = Vec::new();
        for (index, route) in self.routes.iter().enumerate() {
            if let Some(bound) = route.template.matches(path) {
                if route.method == *method {
                    return Found::Route(index, bound);
                }
                if !allowed.contains(&route.method) {
                    allowed.push(route.method.clone());
                }
            }
        }
        if allowed.is_empty() {
            Found::NotFound
        } else {
            Found::WrongMethod(allowed)
        }
    }
}

impl Template {
    /// The template with variables anonymised, so two routes that would match the same paths compare
    /// equal.
    fn openapi_shape(&self) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            out.push('/');
            match segment {
                Segment::Literal(literal) => out.push_str(literal),
                Segment::Variable(_) => out.push_str("{}"),
            }
        }
        if let Some(verb) = &self.verb {
            out.push(':');
            out.push_str(verb);
        }
        out
    }
}

impl Route {
    fn new(rpc: &MethodDescriptor, rule: &HttpRule) -> Result<Route, RouteError> {
        let (method, path) = match &rule.pattern {
            Some(Pattern::Get(path)) => (http::Method::GET, path),
            Some(Pattern::Put(path)) => (http::Method::PUT, path),
            Some(Pattern::Post(path)) => (http::Method::POST, path),
            Some(Pattern::Delete(path)) => (http::Method::DELETE, path),
            Some(Pattern::Patch(path)) => (http::Method::PATCH, path),
            None => return Err(route_error(rpc, "the http option names no method and path")),
        };
        let input = rpc.input();
        let template = Template::parse(path, &input).map_err(|e| route_error(rpc, e))?;
        let body = match rule.body.as_str() {
            "" => BodyTarget::None,
            "*" => BodyTarget::Whole,
            name => {
                let field = input.get_field_by_name(name).ok_or_else(|| {
                    route_error(rpc, format!("body {name}: no such request field"))
                })?;
                if !matches!(field.kind(), Kind::Message(_)) || field.is_list() || field.is_map() {
                    return Err(route_error(
                        rpc,
                        format!("body {name}: not a singular message field"),
                    ));
                }
                BodyTarget::Field(field)
            }
        };
        if matches!(body, BodyTarget::None)
            && matches!(
                method,
                http::Method::POST | http::Method::PUT | http::Method::PATCH
            )
        {
            return Err(route_error(rpc, format!("{method} needs a body")));
        }
        if !matches!(body, BodyTarget::None)
            && matches!(method, http::Method::GET | http::Method::DELETE)
        {
            return Err(route_error(rpc, format!("{method} takes no body")));
        }
        let response_body = match rule.response_body.as_str() {
            "" => None,
            name => {
                let field = rpc.output().get_field_by_name(name).ok_or_else(|| {
                    route_error(rpc, format!("response_body {name}: no such response field"))
                })?;
                if !matches!(field.kind(), Kind::Message(_)) || field.is_list() || field.is_map() {
                    return Err(route_error(
                        rpc,
                        format!("response_body {name}: not a singular message field"),
                    ));
                }
                Some(field)
            }
        };
        let query = match body {
            BodyTarget::Whole => Vec::new(),
            _ => query_params(&input, &template, &body),
        };
        let idempotency_field = input
            .get_field_by_name("request_id")
            .filter(|f| f.kind() == Kind::String && !f.is_list());
        let version_field = input
            .get_field_by_name("expected_version")
            .filter(|f| f.kind() == Kind::Int64 && !f.is_list());
        let answer = match &response_body {
            Some(field) => match field.kind() {
                Kind::Message(inner) => inner,
                _ => rpc.output(),
            },
            None => rpc.output(),
        };
        let etag_path = version_path(&answer);
        let grpc_path = format!("/{}/{}", rpc.parent_service().full_name(), rpc.name());
        let public = haven_platform::auth::OPEN_PATHS
            .iter()
            .any(|open| grpc_path.starts_with(open));
        Ok(Route {
            method,
            template,
            body,
            response_body,
            query,
            idempotency_field,
            version_field,
            etag_path,
            public,
            rpc: rpc.clone(),
            grpc_path,
        })
    }
}

/// The query parameters of a route: every plain field not bound by the path or the body, and the plain
/// fields of its singular non-well-known message fields one level down (so `page.page_token` is also
/// `page_token`).
fn query_params(
    input: &MessageDescriptor,
    template: &Template,
    body: &BodyTarget,
) -> Vec<QueryParam> {
    let bound: Vec<String> = template.variables().map(FieldPath::proto_name).collect();
    let is_bound = |path: &FieldPath| {
        let name = path.proto_name();
        bound
            .iter()
            .any(|b| *b == name || name.starts_with(&format!("{b}.")))
    };
    let mut fields = Vec::new();
    for field in input.fields() {
        if let BodyTarget::Field(body_field) = body
            && body_field.number() == field.number()
        {
            continue;
        }
        if is_plain(&field) {
            fields.push(FieldPath(vec![field]));
            continue;
        }
        if let Kind::Message(inner) = field.kind()
            && !field.is_list()
            && !field.is_map()
        {
            for leaf in inner.fields() {
                if is_plain(&leaf) {
                    fields.push(FieldPath(vec![field.clone(), leaf]));
                }
            }
        }
    }
    fields.retain(|f| !is_bound(f));
    let short = |f: &FieldPath| f.leaf().name().to_owned();
    fields
        .iter()
        .map(|field| {
            let unique = fields
                .iter()
                .filter(|other| short(other) == short(field))
                .count()
                == 1;
            QueryParam {
                name: if unique {
                    short(field)
                } else {
                    field.proto_name()
                },
                field: field.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_that_answers_one_record_finds_its_version_and_an_update_its_expected_version() {
        let table = RouteTable::haven().expect("routes");
        let route = |path: &str| {
            table
                .routes
                .iter()
                .find(|r| r.grpc_path.ends_with(path))
                .expect(path)
        };
        let get = route("ChildIdentity/GetChild");
        assert_eq!(
            get.etag_path.as_ref().map(FieldPath::proto_name).as_deref(),
            Some("child.meta.version")
        );
        assert!(get.version_field.is_none());
        let update = route("ChildIdentity/UpdateChild");
        assert_eq!(
            update.version_field.as_ref().map(FieldDescriptor::name),
            Some("expected_version")
        );
        assert!(update.etag_path.is_some());
        let tracing = route("FamilyTracing/UpdateTracingRequest");
        assert_eq!(
            tracing
                .etag_path
                .as_ref()
                .map(FieldPath::proto_name)
                .as_deref(),
            Some("version")
        );
        // A list holds many records, and so no one version.
        assert!(route("ChildIdentity/ListChildren").etag_path.is_none());
    }

    #[test]
    fn haven_routes_build_and_match() {
        let table = RouteTable::haven().expect("routes");
        assert!(table.routes.len() >= 15, "{}", table.routes.len());
        let Found::Route(index, bound) = table.find(&http::Method::GET, "/v1/children/abc%2Fd")
        else {
            panic!("no route");
        };
        let route = &table.routes[index];
        assert_eq!(route.grpc_path, "/haven.identity.v1.ChildIdentity/GetChild");
        assert_eq!(bound[0].1, "abc/d");
        let Found::Route(index, _) = table.find(&http::Method::GET, "/v1/children:search") else {
            panic!("no search route");
        };
        let route = &table.routes[index];
        assert!(route.query_param("query").is_some());
        assert!(route.query_param("page_token").is_some());
        assert!(route.query_param("pageToken").is_some());
        assert!(route.query_param("page.page_size").is_some());
        assert!(matches!(
            table.find(&http::Method::DELETE, "/v1/children/x"),
            Found::WrongMethod(_)
        ));
        assert!(matches!(
            table.find(&http::Method::GET, "/v1/nothing"),
            Found::NotFound
        ));
        let Found::Route(index, bound) = table.find(
            &http::Method::GET,
            "/v1/tracing-requests/r1/sought-children/s1/matches",
        ) else {
            panic!("no matches route");
        };
        let route = &table.routes[index];
        assert_eq!(route.rpc.name(), "FindMatches");
        assert_eq!(bound.len(), 2);
        assert!(route.query_param("limit").is_some());
    }
}
