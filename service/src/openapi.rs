//! OpenAPI helpers of the services: [`schema!`](crate::schema) and
//! [`binary_schemas!`](crate::binary_schemas) declare the schemas of bodies whose Rust types
//! live in crates without `utoipa` (BCS bodies, the SDK's answers), and [`check`] holds the
//! checks every service's tests run against its document and router.

use utoipa::openapi::{schema::Schema, RefOr};

#[doc(hidden)]
pub use serde_json::json;

/// The schema written as JSON in `value` (a programming error if it is not one).
pub fn schema_from_json(value: serde_json::Value) -> RefOr<Schema> {
    serde_json::from_value(value).expect("a valid OpenAPI schema")
}

/// Declares a unit struct that stands for a body in the OpenAPI document: its schema (named
/// after the struct, doc comments as the struct's docs) is the JSON given; the schemas it
/// refers to (`{"$ref": "#/components/schemas/EventId"}`) are listed in `uses(...)`, e.g.
///
/// ```
/// walrus_service::schema! {
///     /// A BCS blob.
///     pub BcsBlob = { "type": "string", "format": "binary", "description": "BCS bytes." }
/// }
///
/// walrus_service::schema! {
///     /// Where a blob was certified.
///     pub Certified uses(walrus_node_client::api::EventId) = {
///         "type": "object",
///         "properties": { "event": { "$ref": "#/components/schemas/EventId" } }
///     }
/// }
/// ```
#[macro_export]
macro_rules! schema {
    (
        $(#[doc = $doc:literal])*
        $vis:vis $name:ident $(uses($($used:ty),* $(,)?))? = $schema:tt
    ) => {
        $(#[doc = $doc])*
        $vis struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::openapi::schema_from_json($crate::openapi::json!($schema))
            }
        }

        impl utoipa::ToSchema for $name {
            fn schemas(
                schemas: &mut Vec<(
                    String,
                    utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
                )>,
            ) {
                $($(
                    schemas.push((
                        <$used as utoipa::ToSchema>::name().into_owned(),
                        <$used as utoipa::PartialSchema>::schema(),
                    ));
                    <$used as utoipa::ToSchema>::schemas(schemas);
                )*)?
                let _ = schemas;
            }
        }
    };
}

/// Declares unit structs that stand for binary bodies (`type: string, format: binary`) in the
/// OpenAPI document, each described by its doc comment, e.g.
///
/// ```
/// walrus_service::binary_schemas! {
///     /// BCS `Vec<u8>`: a ULEB128 length, then the bytes.
///     pub BcsBytes;
///     /// The raw bytes of a file.
///     pub FileBytes;
/// }
/// ```
#[macro_export]
macro_rules! binary_schemas {
    ($($(#[doc = $doc:literal])+ $vis:vis $name:ident;)+) => {
        $(
            $crate::schema! {
                $(#[doc = $doc])+
                $vis $name = {
                    "type": "string",
                    "format": "binary",
                    "description": concat!($($doc),+).trim(),
                }
            }
        )+
    };
}

/// Checks of a service's OpenAPI document and router, for the services' tests.
pub mod check {
    use std::collections::BTreeSet;

    use axum::{
        body::{Body, Bytes},
        http::{header, Method, Request, StatusCode},
        Router,
    };
    use serde_json::Value;
    use tower::ServiceExt;
    use walrus_node_client::api::{ApiError, ErrorReason, API_DOCS_ENDPOINT, JSON_CONTENT_TYPE};

    use crate::router::{METHOD_NOT_ALLOWED_MESSAGE, NOT_FOUND_MESSAGE};

    /// The HTTP methods an OpenAPI path item can hold.
    pub const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    /// Follows a local `$ref` (`#/a/b/c`) from the document root.
    fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
        root.pointer(reference.strip_prefix('#')?)
    }

    /// The value itself, or the target of its `$ref`.
    fn deref<'a>(root: &'a Value, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                resolve(root, reference).unwrap_or_else(|| panic!("unresolved $ref {reference}"))
            }
            None => value,
        }
    }

    fn collect_refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    if key == "$ref" {
                        out.push(child.as_str().expect("$ref is a string"));
                    } else {
                        collect_refs(child, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
            _ => {}
        }
    }

    /// The names of a string enum schema (after following `$ref`s).
    fn enum_names<'a>(document: &'a Value, schema: &'a Value) -> BTreeSet<&'a str> {
        deref(document, schema)["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("no enum in {schema}"))
            .iter()
            .map(|name| name.as_str().expect("enum names are strings"))
            .collect()
    }

    /// Every operation of the document: (path, method, operation).
    pub fn operations(document: &Value) -> Vec<(&str, &'static str, &Value)> {
        let paths = document["paths"].as_object().expect("`paths` is an object");
        paths
            .iter()
            .flat_map(|(path, item)| {
                METHODS.iter().filter_map(move |method| {
                    item.get(*method)
                        .map(|operation| (path.as_str(), *method, operation))
                })
            })
            .collect()
    }

    /// Checks the document: OpenAPI 3.x with a title and a version; every operation has a
    /// success (2xx) response and declares exactly its path template's parameters, as required
    /// path parameters; every `$ref` points into `components` and resolves; the `ErrorReason`
    /// schema (also as the `reason` of `ApiError`'s body) lists exactly
    /// [`ErrorReason::ALL`]; every reason an operation lists in `x-error-reasons` is known and
    /// has a response with its HTTP status whose JSON body is an `ApiError`.
    pub fn check_document(document: &Value) {
        let version = document["openapi"].as_str().expect("`openapi` is a string");
        assert!(version.starts_with("3."), "openapi version {version}");
        assert!(document["info"]["title"].is_string(), "info.title");
        assert!(document["info"]["version"].is_string(), "info.version");

        let operations = operations(document);
        assert!(!operations.is_empty(), "the document has no operations");
        for (path, method, operation) in &operations {
            let responses = operation["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path} has no responses"));
            assert!(
                responses.keys().any(|code| code.starts_with('2')),
                "{method} {path} has no success response"
            );
            let templated: BTreeSet<&str> = path
                .split('/')
                .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            let shared = document["paths"][*path]["parameters"].as_array();
            let own = operation["parameters"].as_array();
            let declared: BTreeSet<&str> = shared
                .into_iter()
                .chain(own)
                .flatten()
                .map(|parameter| deref(document, parameter))
                .filter(|parameter| parameter["in"] == "path")
                .map(|parameter| {
                    assert_eq!(parameter["required"], true, "{path}: path parameter");
                    parameter["name"].as_str().expect("parameter name")
                })
                .collect();
            assert_eq!(declared, templated, "path parameters of {method} {path}");
        }

        let mut refs = Vec::new();
        collect_refs(document, &mut refs);
        assert!(!refs.is_empty(), "the document has no $ref");
        for reference in refs {
            assert!(
                reference.starts_with("#/components/"),
                "$ref {reference} does not point into components"
            );
            assert!(
                resolve(document, reference).is_some(),
                "$ref {reference} does not resolve"
            );
        }

        let known: BTreeSet<&str> = ErrorReason::ALL
            .iter()
            .map(|reason| reason.as_str())
            .collect();
        let schemas = &document["components"]["schemas"];
        assert_eq!(
            enum_names(document, &schemas["ErrorReason"]),
            known,
            "the ErrorReason schema"
        );
        let error_body = deref(document, &schemas["ApiError"]["properties"]["error"]);
        assert_eq!(
            enum_names(document, &error_body["properties"]["reason"]),
            known,
            "the reason of ApiError"
        );
        for (path, method, operation) in &operations {
            for name in operation["x-error-reasons"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let name = name.as_str().expect("reason names are strings");
                let reason: ErrorReason = name
                    .parse()
                    .unwrap_or_else(|_| panic!("{method} {path}: unknown reason {name}"));
                let code = reason.http_status().to_string();
                let response = operation["responses"]
                    .get(&code)
                    .unwrap_or_else(|| panic!("{method} {path}: no {code} response for {name}"));
                let response = deref(document, response);
                assert_eq!(
                    response["content"][JSON_CONTENT_TYPE]["schema"]["$ref"],
                    "#/components/schemas/ApiError",
                    "{method} {path}: {code} is not an ApiError"
                );
            }
        }
    }

    /// An answer of the router.
    #[derive(Debug)]
    pub struct Answer {
        /// The request's method.
        pub method: Method,
        /// The request's path.
        pub path: String,
        /// The status.
        pub status: StatusCode,
        /// The `Content-Type`, if any.
        pub content_type: Option<String>,
        /// The body.
        pub body: Bytes,
    }

    impl Answer {
        /// The JSON error of the body, if it is one.
        pub fn api_error(&self) -> Option<ApiError> {
            serde_json::from_slice(&self.body).ok()
        }
    }

    /// Sends `method path` with an empty body through `router`.
    pub async fn call(router: &Router, method: Method, path: &str) -> Answer {
        let request = Request::builder()
            .method(method.clone())
            .uri(path)
            .body(Body::empty())
            .expect("a valid request");
        let response = router
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {});
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the body of an in-process answer");
        Answer {
            method,
            path: path.to_owned(),
            status,
            content_type,
            body,
        }
    }

    /// `template` with each `{name}` replaced by its value in `path_values`.
    fn fill(template: &str, path_values: &[(&str, &str)]) -> String {
        template
            .split('/')
            .map(|segment| {
                match segment
                    .strip_prefix('{')
                    .and_then(|rest| rest.strip_suffix('}'))
                {
                    Some(name) => path_values
                        .iter()
                        .find(|(key, _)| *key == name)
                        .map(|(_, value)| *value)
                        .unwrap_or_else(|| panic!("no value for the path parameter {name}")),
                    None => segment,
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Whether `answer` is the router's fallback for `reason` (not an answer of a route); the
    /// answer to HEAD has no body, so there only its status counts.
    fn is_fallback(answer: &Answer, reason: ErrorReason, message: &str) -> bool {
        answer.status.as_u16() == reason.http_status()
            && (answer.method == Method::HEAD
                || answer.api_error().is_some_and(|error| {
                    error.reason() == Some(reason) && error.error.message == message
                }))
    }

    /// Fetches the document from `router`'s `GET /v1/api` (JSON), checks it
    /// ([`check_document`]), then walks the router: every operation of the document (its path
    /// template filled from `path_values`) is answered by a route, not by the 404 or 405
    /// fallback; every other method on a documented path is answered 405 METHOD_NOT_ALLOWED
    /// (except HEAD where GET is documented: axum answers it with the GET route, without the
    /// body); an unknown path is answered 404 NOT_FOUND. Returns the document and the answers
    /// to the documented operations, for further checks.
    pub async fn check_router(
        router: &Router,
        path_values: &[(&str, &str)],
    ) -> (Value, Vec<Answer>) {
        let answer = call(router, Method::GET, API_DOCS_ENDPOINT).await;
        assert_eq!(answer.status, StatusCode::OK, "GET {API_DOCS_ENDPOINT}");
        assert_eq!(
            answer.content_type.as_deref(),
            Some(JSON_CONTENT_TYPE),
            "content type of {API_DOCS_ENDPOINT}"
        );
        let document: Value = serde_json::from_slice(&answer.body).expect("the document is JSON");
        check_document(&document);

        let mut answers = Vec::new();
        for (template, item) in document["paths"].as_object().expect("`paths`") {
            let path = fill(template, path_values);
            let has_get = item.get("get").is_some();
            for method in METHODS {
                let documented = item.get(method).is_some();
                let method_name = method.to_uppercase();
                let http_method = Method::from_bytes(method_name.as_bytes()).expect("a method");
                let answer = call(router, http_method, &path).await;
                if documented {
                    assert!(
                        !is_fallback(&answer, ErrorReason::NotFound, NOT_FOUND_MESSAGE)
                            && answer.status != StatusCode::METHOD_NOT_ALLOWED,
                        "{method_name} {path} is documented but not routed: {answer:?}"
                    );
                    answers.push(answer);
                } else if !(method == "head" && has_get) {
                    assert!(
                        is_fallback(
                            &answer,
                            ErrorReason::MethodNotAllowed,
                            METHOD_NOT_ALLOWED_MESSAGE
                        ),
                        "{method_name} {path} is not documented but not refused with 405: {answer:?}"
                    );
                }
            }
        }
        let unknown = call(router, Method::GET, "/no/such/route").await;
        assert!(
            is_fallback(&unknown, ErrorReason::NotFound, NOT_FOUND_MESSAGE),
            "an unknown path: {unknown:?}"
        );
        (document, answers)
    }
}
