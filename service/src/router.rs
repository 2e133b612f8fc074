//! The HTTP plumbing of every service: [`ServiceRouter`] takes only documented routes
//! (`utoipa_axum::routes!` of `#[utoipa::path]` handlers) and adds what every service serves
//! the same way: `GET /metrics` (Prometheus), `GET /v1/api` (the OpenAPI document generated from
//! the routes), the JSON fallbacks (404 NOT_FOUND for an unknown path, 405 METHOD_NOT_ALLOWED
//! for a known path with another method) and the request metrics ([`RequestMetrics`]).

use std::{
    sync::{Arc, OnceLock},
    time::Instant,
};

use axum::{
    body::{Body, Bytes},
    extract::{MatchedPath, Request, State},
    http::{header, HeaderValue, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    Json, Router,
};
use utoipa::{
    openapi::{
        header::HeaderBuilder,
        path::{Operation, PathItem},
        tag::TagBuilder,
        ContentBuilder, InfoBuilder, ObjectBuilder, OpenApi, OpenApiBuilder, Ref, ResponseBuilder,
        Type,
    },
    PartialSchema, ToSchema,
};
use utoipa_axum::{
    router::{OpenApiRouter, UtoipaMethodRouter, UtoipaMethodRouterExt},
    routes,
};
use walrus_node_client::api::{
    ApiError, ErrorReason, API_DOCS_ENDPOINT, JSON_CONTENT_TYPE, METRICS_ENDPOINT,
};

use crate::metrics::{MetricsRegistry, RequestMetrics, PROMETHEUS_CONTENT_TYPE};

/// The tag of the operations on blobs.
pub const BLOBS_TAG: &str = "blobs";

/// The tag of the operations every service has (`/metrics`, `/v1/api`, health).
pub const SERVICE_TAG: &str = "service";

/// The message of the 404 answer to a path no route takes.
pub const NOT_FOUND_MESSAGE: &str = "no such endpoint";

/// The message of the 405 answer to a known path with a method it does not take.
pub const METHOD_NOT_ALLOWED_MESSAGE: &str = "this endpoint does not take this method";

/// The extension of an operation that lists the [`ErrorReason`]s it can answer with (JSON
/// array of names); the router documents an `ApiError` response for each of them that the
/// operation does not describe itself.
pub const ERROR_REASONS_EXTENSION: &str = "x-error-reasons";

/// A service's router under construction: only documented routes go in, so the OpenAPI
/// document served at `/v1/api` describes exactly what the router serves.
pub struct ServiceRouter<S> {
    router: OpenApiRouter<S>,
}

impl<S: Clone + Send + Sync + 'static> ServiceRouter<S> {
    /// A router whose document is titled `title` and described by `description` (version 1),
    /// with the tags [`BLOBS_TAG`] (described by `blobs`) and [`SERVICE_TAG`]; the paths come
    /// from [`ServiceRouter::routes`].
    pub fn new(title: &str, description: &str, blobs: &str) -> Self {
        let tag = |name: &str, description: &str| {
            TagBuilder::new()
                .name(name)
                .description(Some(description))
                .build()
        };
        let document = OpenApiBuilder::new()
            .info(
                InfoBuilder::new()
                    .title(title)
                    .version("1")
                    .description(Some(description)),
            )
            .tags(Some([
                tag(BLOBS_TAG, blobs),
                tag(SERVICE_TAG, "Health, metrics and this document."),
            ]))
            .build();
        Self {
            router: OpenApiRouter::with_openapi(document),
        }
    }

    /// The document so far, to add to it (e.g. security schemes).
    pub fn document_mut(&mut self) -> &mut OpenApi {
        self.router.get_openapi_mut()
    }

    /// Adds Walrus's client-daemon liveness route `GET /status` (plain text `OK`), which the
    /// publisher and the aggregator answer.
    pub fn status_route(self) -> Self {
        self.routes(routes!(status))
    }

    /// Adds the routes (and their documentation) of `routes!(handler, ...)`; the handlers of
    /// one call share one path.
    pub fn routes(self, routes: UtoipaMethodRouter<S>) -> Self {
        Self {
            router: self.router.routes(routes),
        }
    }

    /// Adds the routes of `routes!(handler, ...)` (one path) at their path and also at `alias`,
    /// documented at both (at `alias` with `Alias` appended to the operation IDs).
    pub fn routes_with_alias(self, alias: &str, routes: UtoipaMethodRouter<S>) -> Self {
        let (schemas, mut paths, method_router) = routes;
        let (path, item) = paths.paths.iter().next().expect("routes! documents a path");
        let mut aliased = item.clone();
        for operation in operations_mut(&mut aliased) {
            operation.operation_id = operation.operation_id.take().map(|id| id + "Alias");
            operation.description = Some(format!("The same as `{path}`."));
        }
        paths.paths.insert(alias.to_owned(), aliased);
        self.routes((schemas, paths, method_router))
    }

    /// The finished router over `state`: the routes, `GET /metrics` (rendering `registry`),
    /// `GET /v1/api` (the document, with the `/metrics` operation listing every metric of
    /// `registry` and a response for every error reason of an operation, see
    /// [`ERROR_REASONS_EXTENSION`]), the JSON 404 and 405 fallbacks, and every request recorded
    /// in `requests`.
    pub fn finish(self, state: S, registry: &MetricsRegistry, requests: &RequestMetrics) -> Router {
        let document = ApiDocument::default();
        let (router, mut openapi) = self
            .router
            .with_state(state)
            .routes(routes!(metrics).with_state(registry.clone()))
            .routes(routes!(api_docs).with_state(document.clone()))
            .split_for_parts();
        describe_metrics(&mut openapi, registry);
        describe_error_reasons(&mut openapi);
        let json = openapi
            .to_json()
            .expect("an OpenAPI document serializes to JSON");
        document
            .0
            .set(Bytes::from(json))
            .expect("the document is set once");
        router
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(middleware::from_fn_with_state(
                requests.clone(),
                record_request,
            ))
    }
}

/// The document served at `/v1/api`, set once the router is complete.
#[derive(Clone, Default)]
struct ApiDocument(Arc<OnceLock<Bytes>>);

/// Adds the list of `registry`'s metrics to the description of `GET /metrics`.
fn describe_metrics(openapi: &mut OpenApi, registry: &MetricsRegistry) {
    let operation = openapi
        .paths
        .paths
        .get_mut(METRICS_ENDPOINT)
        .and_then(|item| item.get.as_mut());
    if let Some(operation) = operation {
        let list = registry
            .describe()
            .iter()
            .map(|line| format!("- {line}"))
            .collect::<Vec<_>>()
            .join("\n");
        operation.description = Some(format!(
            "Prometheus text exposition format. The metrics:\n\n{list}"
        ));
    }
}

/// Adds to every operation the `ApiError` responses of the reasons it lists in
/// [`ERROR_REASONS_EXTENSION`] and does not describe itself (described by the reason's meaning;
/// with `Retry-After` for RATE_LIMITED), and the `ApiError` schemas they refer to.
fn describe_error_reasons(openapi: &mut OpenApi) {
    let mut documented = false;
    for item in openapi.paths.paths.values_mut() {
        for operation in operations_mut(item) {
            for reason in error_reasons(operation) {
                documented = true;
                operation
                    .responses
                    .responses
                    .entry(reason.http_status().to_string())
                    .or_insert_with(|| error_reason_response(reason).into());
            }
        }
    }
    if documented {
        let mut schemas = vec![(ApiError::name().into_owned(), ApiError::schema())];
        <ApiError as ToSchema>::schemas(&mut schemas);
        openapi
            .components
            .get_or_insert_with(Default::default)
            .schemas
            .extend(schemas);
    }
}

/// The operations of a path item.
fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

/// The known reasons `operation` lists in [`ERROR_REASONS_EXTENSION`].
fn error_reasons(operation: &Operation) -> Vec<ErrorReason> {
    operation
        .extensions
        .as_ref()
        .and_then(|extensions| extensions.get(ERROR_REASONS_EXTENSION))
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|name| name.as_str()?.parse().ok())
        .collect()
}

/// The response of an error with `reason`, described by the reason's meaning.
fn error_reason_response(reason: ErrorReason) -> utoipa::openapi::Response {
    let body = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(ApiError::name())))
        .build();
    let response = ResponseBuilder::new()
        .description(format!("{}: {}", reason.as_str(), reason.description()))
        .content(JSON_CONTENT_TYPE, body);
    if reason != ErrorReason::RateLimited {
        return response.build();
    }
    let seconds = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0));
    response
        .header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(seconds))
                .description(Some("Seconds to wait before retrying."))
                .build(),
        )
        .build()
}

/// The answer of a failed request: `error` as JSON with its HTTP status (`error.code`) and,
/// if given, `Retry-After: <seconds>`.
pub fn error_response(error: ApiError, retry_after: Option<u64>) -> Response {
    let status =
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, Json(error)).into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// A 200 response of `body` with `content_type`.
fn typed_response(content_type: &'static str, body: impl Into<Body>) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body.into(),
    )
        .into_response()
}

/// The path of [`ServiceRouter::status_route`].
pub const STATUS_ENDPOINT: &str = "/status";

/// Liveness
///
/// `OK` while the service runs (Walrus's client-daemon route; `/v1/health` has the details).
#[utoipa::path(
    get,
    path = STATUS_ENDPOINT,
    tag = SERVICE_TAG,
    operation_id = "getStatus",
    responses((status = 200, description = "The service runs.", body = String, content_type = "text/plain"))
)]
async fn status() -> Response {
    typed_response("text/plain; charset=utf-8", "OK")
}

/// Prometheus metrics
#[utoipa::path(
    get,
    path = METRICS_ENDPOINT,
    tag = SERVICE_TAG,
    operation_id = "getMetrics",
    responses((
        status = 200,
        description = "Prometheus text exposition format.",
        body = String,
        content_type = PROMETHEUS_CONTENT_TYPE
    ))
)]
async fn metrics(State(registry): State<MetricsRegistry>) -> Response {
    typed_response(PROMETHEUS_CONTENT_TYPE, registry.render())
}

/// This OpenAPI document
///
/// Generated from the service's routes and wire types.
#[utoipa::path(
    get,
    path = API_DOCS_ENDPOINT,
    tag = SERVICE_TAG,
    operation_id = "getApiDocs",
    responses((status = 200, description = "The OpenAPI 3 document (JSON).", body = Object))
)]
async fn api_docs(State(document): State<ApiDocument>) -> Response {
    typed_response(
        JSON_CONTENT_TYPE,
        document.0.get().cloned().unwrap_or_default(),
    )
}

async fn not_found() -> Response {
    error_response(
        ApiError::new(ErrorReason::NotFound, NOT_FOUND_MESSAGE),
        None,
    )
}

async fn method_not_allowed() -> Response {
    let error = ApiError::new(ErrorReason::MethodNotAllowed, METHOD_NOT_ALLOWED_MESSAGE);
    error_response(error, None)
}

/// Records every request by route template (or `unmatched`), status and latency.
async fn record_request(
    State(requests): State<RequestMetrics>,
    request: Request,
    next: Next,
) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || RequestMetrics::UNMATCHED.to_owned(),
        |path| path.as_str().to_owned(),
    );
    let start = Instant::now();
    let response = next.run(request).await;
    requests.record(&route, response.status().as_u16(), start.elapsed());
    response
}

#[cfg(test)]
mod tests {
    use axum::{extract::Path, http::Method};

    use super::*;
    use crate::openapi::check::{call, check_router};

    /// Greets
    #[utoipa::path(
        get,
        path = "/v1/greetings/{name}",
        params(("name" = String, Path, description = "Who to greet.")),
        responses(
            (status = 200, description = "The greeting.", body = String),
            (status = 400, description = "INVALID_REQUEST: an empty name.", body = ApiError),
        ),
        extensions(("x-error-reasons" = json!(["INVALID_REQUEST", "RATE_LIMITED", "INTERNAL"])))
    )]
    async fn greet(State(greeting): State<&'static str>, Path(name): Path<String>) -> Response {
        if name.trim().is_empty() {
            let error = ApiError::new(ErrorReason::InvalidRequest, "an empty name");
            return error_response(error, Some(3));
        }
        format!("{greeting}, {name}").into_response()
    }

    fn router() -> Router {
        let registry = MetricsRegistry::new();
        let requests = RequestMetrics::register(&registry, "test");
        ServiceRouter::new("Test service", "Greets.", "None here.")
            .routes_with_alias("/greetings/{name}", routes!(greet))
            .finish("Hello", &registry, &requests)
    }

    #[tokio::test]
    async fn serves_documented_routes_metrics_docs_and_json_fallbacks() {
        let router = router();
        let (document, answers) = check_router(&router, &[("name", "walrus")]).await;
        let paths: Vec<&String> = document["paths"].as_object().unwrap().keys().collect();
        assert_eq!(
            paths,
            [
                "/greetings/{name}",
                "/metrics",
                "/v1/api",
                "/v1/greetings/{name}"
            ]
        );
        assert_eq!(
            document["paths"]["/greetings/{name}"]["get"]["operationId"],
            "greetAlias"
        );
        assert_eq!(document["info"]["title"], "Test service");
        let greeting = answers
            .iter()
            .find(|answer| answer.path == "/v1/greetings/walrus")
            .unwrap();
        assert_eq!(
            (greeting.status, greeting.body.as_ref()),
            (StatusCode::OK, b"Hello, walrus".as_slice())
        );
        // The reasons the operation does not describe itself get their responses.
        let responses = &document["paths"]["/v1/greetings/{name}"]["get"]["responses"];
        assert_eq!(
            responses["400"]["description"],
            "INVALID_REQUEST: an empty name."
        );
        assert_eq!(
            responses["500"]["description"],
            "INTERNAL: A bug or storage failure on the node."
        );
        assert!(responses["500"]["headers"].is_null());
        assert!(responses["429"]["headers"]["Retry-After"].is_object());
        let metrics_description = document["paths"]["/metrics"]["get"]["description"]
            .as_str()
            .unwrap();
        assert!(
            metrics_description.contains("- `test_requests_total` (counter)"),
            "{metrics_description}"
        );

        let refused = call(&router, Method::GET, "/v1/greetings/%20").await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        let error = refused.api_error().unwrap();
        assert_eq!(error.reason(), Some(ErrorReason::InvalidRequest));

        let answer = call(&router, Method::DELETE, "/v1/greetings/x").await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(answer.content_type.as_deref(), Some(JSON_CONTENT_TYPE));
        let error = answer.api_error().unwrap();
        assert_eq!(
            (error.error.status.as_str(), error.error.message.as_str()),
            ("UNIMPLEMENTED", METHOD_NOT_ALLOWED_MESSAGE)
        );
        let error = call(&router, Method::GET, "/v2").await.api_error().unwrap();
        assert_eq!(
            error.to_string(),
            "404 NOT_FOUND (NOT_FOUND): no such endpoint"
        );

        let metrics = call(&router, Method::GET, METRICS_ENDPOINT).await;
        assert_eq!(
            metrics.content_type.as_deref(),
            Some(PROMETHEUS_CONTENT_TYPE)
        );
        let text = String::from_utf8(metrics.body.to_vec()).unwrap();
        assert!(text.starts_with("# HELP test_request_seconds"), "{text}");
        for needle in [
            // GET and HEAD (answered by the GET route) of the router walk.
            "test_requests_total{route=\"/v1/greetings/{name}\",status=\"200\"} 2",
            "test_requests_total{route=\"/v1/greetings/{name}\",status=\"400\"} 1",
            // Six other methods of the walk and one DELETE.
            "test_requests_total{route=\"/v1/greetings/{name}\",status=\"405\"} 7",
            "test_requests_total{route=\"unmatched\",status=\"404\"} 2",
            "test_request_seconds_count{route=\"/v1/api\",status=\"2xx\"} 3",
        ] {
            assert!(text.contains(needle), "{needle} missing from\n{text}");
        }
    }

    #[tokio::test]
    async fn errors_carry_their_status_and_retry_after() {
        let response = error_response(ApiError::new(ErrorReason::RateLimited, "busy"), Some(5));
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        let response = error_response(ApiError::new(ErrorReason::Internal, "bug"), None);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!response.headers().contains_key(header::RETRY_AFTER));
    }
}
