//! Checks the OpenAPI document served at `/v1/api` against the router: every served route and
//! method is described and answered, every `$ref` resolves, path templates declare their
//! parameters, and the error reasons are real `ErrorReason`s with matching responses.

mod common;

use std::{collections::BTreeSet, sync::Arc};

use axum::http::StatusCode;
use common::{call, get, MockSource};
use serde_json::Value;
use walrus_aggregator::{
    router,
    server::{
        API_DOCS_ENDPOINT, BLOB_BY_OBJECT_ENDPOINT, BLOB_ENDPOINT, HEALTH_ALIAS_ENDPOINT,
        HEALTH_ENDPOINT, METRICS_ENDPOINT, OPENAPI_JSON,
    },
    AggregatorConfig,
};
use walrus_core::{BlobId, ObjectId};
use walrus_node_client::api::ErrorReason;

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every route of `router` with the methods it registers.
const ROUTES: &[(&str, &[&str])] = &[
    (BLOB_ENDPOINT, &["get", "head"]),
    (BLOB_BY_OBJECT_ENDPOINT, &["get", "head"]),
    (HEALTH_ENDPOINT, &["get"]),
    (HEALTH_ALIAS_ENDPOINT, &["get"]),
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
fn path_templates_declare_their_parameters() {
    let spec = spec();
    for (route, methods) in ROUTES {
        let item = &spec["paths"][*route];
        let templated: BTreeSet<&str> = route
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for method in *methods {
            let shared = item["parameters"].as_array().into_iter().flatten();
            let own = item[*method]["parameters"].as_array().into_iter().flatten();
            let declared: BTreeSet<&str> = shared
                .chain(own)
                .map(|parameter| deref(&spec, parameter))
                .filter(|parameter| parameter["in"] == "path")
                .map(|parameter| {
                    assert_eq!(parameter["required"], true);
                    parameter["name"].as_str().unwrap()
                })
                .collect();
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
        assert!(reference.starts_with("#/components/"), "{reference}");
        assert!(resolve(&spec, reference).is_some(), "{reference}");
    }
}

#[test]
fn error_reasons_are_known_and_have_responses() {
    let spec = spec();
    let listed = spec["components"]["schemas"]["ErrorReason"]["enum"]
        .as_array()
        .unwrap();
    for name in listed {
        name.as_str()
            .unwrap()
            .parse::<ErrorReason>()
            .expect("a known reason");
    }
    for (route, methods) in ROUTES {
        for method in *methods {
            let operation = &spec["paths"][*route][*method];
            for name in operation["x-error-reasons"]
                .as_array()
                .into_iter()
                .flatten()
            {
                assert!(listed.contains(name), "{name} not in the ErrorReason enum");
                let reason: ErrorReason = name.as_str().unwrap().parse().unwrap();
                let code = reason.http_status().to_string();
                let response = deref(&spec, &operation["responses"][&code]);
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ApiError",
                    "{method} {route}: {code}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_router_serves_the_document_and_every_described_operation() {
    let source = Arc::new(MockSource::default());
    let blob_id = BlobId([3; 32]);
    let object_id = ObjectId([4; 32]);
    source.add(blob_id, vec![1, 2, 3]);
    source.objects.lock().unwrap().insert(
        object_id,
        walrus_aggregator::BlobObjectInfo {
            blob_id,
            attributes: Vec::new(),
        },
    );
    let app = router(source, AggregatorConfig::default());
    let answer = get(&app, API_DOCS_ENDPOINT).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), "application/json");
    assert_eq!(answer.json(), spec());

    let spec = spec();
    for (route, item) in spec["paths"].as_object().unwrap() {
        let concrete = route
            .replace("{blob_id}", &blob_id.to_string())
            .replace("{object_id}", &object_id.to_string());
        for method in METHODS.iter().filter(|method| item.get(**method).is_some()) {
            let answer = call(&app, &method.to_uppercase(), &concrete, &[]).await;
            assert_eq!(answer.status, StatusCode::OK, "{method} {concrete}");
        }
    }
}
