//! Checks the OpenAPI document served at `/v1/api` against the router: every served route and
//! method is described (and nothing else), every `$ref` resolves, the error reasons match
//! `ErrorReason`, and each listed reason has an `ApiError` response with its status.

use std::collections::BTreeSet;

use serde_json::Value;
use walrus_node_client::api::ErrorReason;
use walrus_publisher::{
    API_DOCS_ENDPOINT, BLOBS_ENDPOINT, HEALTH_ENDPOINT, METRICS_ENDPOINT, OPENAPI_JSON,
    V1_HEALTH_ENDPOINT,
};

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every route of `Publisher::router` with the methods it registers.
const ROUTES: &[(&str, &[&str])] = &[
    (BLOBS_ENDPOINT, &["put"]),
    (HEALTH_ENDPOINT, &["get"]),
    (V1_HEALTH_ENDPOINT, &["get"]),
    (METRICS_ENDPOINT, &["get"]),
    (API_DOCS_ENDPOINT, &["get"]),
];

fn spec() -> Value {
    serde_json::from_str(OPENAPI_JSON).expect("openapi.json is valid JSON")
}

fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    root.pointer(reference.strip_prefix('#')?)
}

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

#[test]
fn openapi_version_is_3() {
    let spec = spec();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
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
        assert_eq!(
            described,
            methods.iter().copied().collect(),
            "methods of {route}"
        );
        for method in *methods {
            let responses = item[*method]["responses"].as_object().unwrap();
            assert!(responses.keys().any(|code| code.starts_with('2')));
        }
    }
    let served: BTreeSet<&str> = ROUTES.iter().map(|(route, _)| *route).collect();
    for path in paths.keys() {
        assert!(
            served.contains(path.as_str()),
            "spec describes unserved {path}"
        );
    }
}

#[test]
fn store_parameters_are_described() {
    let spec = spec();
    let described: BTreeSet<&str> = spec["paths"][BLOBS_ENDPOINT]["put"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|parameter| {
            assert_eq!(parameter["in"], "query");
            parameter["name"].as_str().unwrap()
        })
        .collect();
    let accepted: BTreeSet<&str> = walrus_publisher::query::PARAMETERS
        .iter()
        .copied()
        .collect();
    assert_eq!(described, accepted);
}

#[test]
fn every_ref_resolves() {
    let spec = spec();
    let mut refs = Vec::new();
    collect_refs(&spec, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        assert!(reference.starts_with("#/components/"), "{reference}");
        assert!(
            resolve(&spec, reference).is_some(),
            "{reference} does not resolve"
        );
    }
}

#[test]
fn error_reasons_match() {
    let spec = spec();
    let known: BTreeSet<&str> = ErrorReason::ALL
        .iter()
        .map(|reason| reason.as_str())
        .collect();
    let listed: BTreeSet<&str> = spec["components"]["schemas"]["ErrorReason"]["enum"]
        .as_array()
        .expect("ErrorReason has an enum")
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    assert_eq!(listed, known);
    for (route, methods) in ROUTES {
        for method in *methods {
            let operation = &spec["paths"][*route][*method];
            let Some(reasons) = operation["x-error-reasons"].as_array() else {
                continue;
            };
            for name in reasons {
                let reason: ErrorReason = name.as_str().unwrap().parse().expect("known reason");
                let code = reason.http_status().to_string();
                let response = operation["responses"]
                    .get(&code)
                    .unwrap_or_else(|| panic!("{method} {route}: no {code} response"));
                let response = deref(&spec, response);
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ApiError"
                );
            }
        }
    }
}
