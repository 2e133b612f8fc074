//! Checks the OpenAPI document served at `/v1/api` against the router and the wire types: every
//! served route and method is described, every `$ref` resolves, path templates declare their
//! parameters, and the error reasons match `ErrorReason`.

use std::collections::BTreeSet;

use serde_json::Value;
use walrus_node::server::OPENAPI_JSON;
use walrus_node_client::api::{
    ErrorReason, API_DOCS_ENDPOINT, BLOB_STATUS_ENDPOINT, DELETABLE_CONFIRMATION_ENDPOINT,
    HEALTH_ENDPOINT, INCONSISTENCY_PROOF_ENDPOINT, METADATA_ENDPOINT, METADATA_STATUS_ENDPOINT,
    METRICS_ENDPOINT, PERMANENT_CONFIRMATION_ENDPOINT, RECOVERY_SYMBOLS_ENDPOINT, SLIVER_ENDPOINT,
    SLIVER_STATUS_ENDPOINT,
};

/// The HTTP methods an OpenAPI path item can hold.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every route of `server::router` with the methods it registers.
const ROUTES: &[(&str, &[&str])] = &[
    (METADATA_ENDPOINT, &["get", "put"]),
    (METADATA_STATUS_ENDPOINT, &["get"]),
    (SLIVER_ENDPOINT, &["get", "put"]),
    (SLIVER_STATUS_ENDPOINT, &["get"]),
    (PERMANENT_CONFIRMATION_ENDPOINT, &["get"]),
    (DELETABLE_CONFIRMATION_ENDPOINT, &["get"]),
    (RECOVERY_SYMBOLS_ENDPOINT, &["get"]),
    (INCONSISTENCY_PROOF_ENDPOINT, &["post"]),
    (BLOB_STATUS_ENDPOINT, &["get"]),
    (HEALTH_ENDPOINT, &["get"]),
    (METRICS_ENDPOINT, &["get"]),
    (API_DOCS_ENDPOINT, &["get"]),
];

fn spec() -> Value {
    serde_json::from_str(OPENAPI_JSON).expect("openapi.json is valid JSON")
}

/// Follows a local `$ref` (`#/a/b/c`) from the document root.
fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    root.pointer(pointer)
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

fn reason_names() -> BTreeSet<&'static str> {
    ErrorReason::ALL
        .iter()
        .map(|reason| reason.as_str())
        .collect()
}

#[test]
fn openapi_version_is_3() {
    let spec = spec();
    let version = spec["openapi"].as_str().expect("`openapi` is a string");
    assert!(version.starts_with("3."), "openapi version {version}");
    assert!(spec["info"]["title"].is_string());
    assert!(spec["info"]["version"].is_string());
}

#[test]
fn every_route_and_method_is_described() {
    let spec = spec();
    let paths = spec["paths"].as_object().expect("`paths` is an object");
    for (route, methods) in ROUTES {
        let item = paths
            .get(*route)
            .unwrap_or_else(|| panic!("route {route} missing from the spec"));
        let described: BTreeSet<&str> = METHODS
            .iter()
            .copied()
            .filter(|method| item.get(*method).is_some())
            .collect();
        let expected: BTreeSet<&str> = methods.iter().copied().collect();
        assert_eq!(described, expected, "methods of {route}");
        for method in *methods {
            let responses = item[*method]["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {route} has no responses"));
            assert!(
                responses.keys().any(|code| code.starts_with('2')),
                "{method} {route} has no success response"
            );
        }
    }
    let served: BTreeSet<&str> = ROUTES.iter().map(|(route, _)| *route).collect();
    for path in paths.keys() {
        assert!(
            served.contains(path.as_str()),
            "spec describes {path}, which the router does not serve"
        );
    }
}

#[test]
fn path_templates_declare_their_parameters() {
    let spec = spec();
    for (route, methods) in ROUTES {
        let item = &spec["paths"][*route];
        let templated: BTreeSet<&str> = route
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for method in *methods {
            let mut declared = BTreeSet::new();
            let shared = item["parameters"].as_array().into_iter().flatten();
            let own = item[*method]["parameters"].as_array().into_iter().flatten();
            for parameter in shared.chain(own) {
                let parameter = deref(&spec, parameter);
                if parameter["in"] == "path" {
                    assert_eq!(parameter["required"], true, "{route}: path parameter");
                    declared.insert(parameter["name"].as_str().expect("parameter name"));
                }
            }
            assert_eq!(declared, templated, "path parameters of {method} {route}");
        }
    }
}

#[test]
fn every_ref_resolves() {
    let spec = spec();
    let mut refs = Vec::new();
    collect_refs(&spec, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        assert!(
            reference.starts_with("#/components/"),
            "$ref {reference} does not point into components"
        );
        assert!(
            resolve(&spec, reference).is_some(),
            "$ref {reference} does not resolve"
        );
    }
}

#[test]
fn api_error_reason_enum_matches_error_reason() {
    let spec = spec();
    let api_error = &spec["components"]["schemas"]["ApiError"];
    let body = deref(&spec, &api_error["properties"]["error"]);
    let reason = deref(&spec, &body["properties"]["reason"]);
    let listed: BTreeSet<&str> = reason["enum"]
        .as_array()
        .expect("the ApiError reason has an enum")
        .iter()
        .map(|name| name.as_str().expect("reason names are strings"))
        .collect();
    let known = reason_names();
    for name in &known {
        assert!(listed.contains(name), "reason {name} missing from the spec");
    }
    assert_eq!(listed, known, "the spec lists unknown reasons");
}

#[test]
fn operation_error_reasons_have_matching_responses() {
    let spec = spec();
    let known = reason_names();
    for (route, methods) in ROUTES {
        for method in *methods {
            let operation = &spec["paths"][*route][*method];
            let Some(reasons) = operation["x-error-reasons"].as_array() else {
                continue;
            };
            for name in reasons {
                let name = name.as_str().expect("reason names are strings");
                assert!(
                    known.contains(name),
                    "{method} {route}: unknown reason {name}"
                );
                let reason: ErrorReason = name.parse().expect("known reason");
                let code = reason.http_status().to_string();
                let response = operation["responses"]
                    .get(&code)
                    .unwrap_or_else(|| panic!("{method} {route}: no {code} response for {name}"));
                let response = deref(&spec, response);
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(
                    schema, "#/components/schemas/ApiError",
                    "{method} {route}: {code} is not an ApiError"
                );
            }
        }
    }
}
