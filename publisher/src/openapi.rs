//! The publisher's OpenAPI document: its info, tags and security scheme ([`service_router`])
//! and the schema of the store answer (the SDK's `StoreOutcome`, Walrus's `BlobStoreResult`); the
//! paths come from the documented handlers of [`crate::server`].

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use walrus_node_client::api::{
    schema::{BlobId, ObjectId},
    EventId,
};
use walrus_service::ServiceRouter;

/// A router whose document has the publisher's info and tags and the bearer-token security
/// scheme `bearerAuth` (which `PUT /v1/blobs` names); the paths come from the routes.
pub fn service_router<S: Clone + Send + Sync + 'static>() -> ServiceRouter<S> {
    let mut router = ServiceRouter::new("Walrus publisher", DESCRIPTION, "Store blobs.");
    let mut scheme = Http::new(HttpAuthScheme::Bearer);
    scheme.description = Some("Only when the publisher runs with `--auth-token`.".to_owned());
    router
        .document_mut()
        .components
        .get_or_insert_with(Default::default)
        .add_security_scheme("bearerAuth", SecurityScheme::Http(scheme));
    router
}

/// The description of the publisher's document.
const DESCRIPTION: &str = "The write side of the Walrus HTTP API: `PUT /v1/blobs` stores the request body as a blob, paid by the publisher's wallet, and answers Walrus's `BlobStoreResult` JSON. Every error is the JSON `ApiError` envelope with a stable `reason` (the same envelope as the storage nodes'). Unknown paths answer 404 NOT_FOUND; an unsupported method on a known path answers 405 METHOD_NOT_ALLOWED. Each operation's `x-error-reasons` lists the reasons it can return.";

walrus_service::binary_schemas! {
    /// The bytes of a blob.
    pub BlobBytes;
}

walrus_service::schema! {
    /// The form of `PUT /v1/quilts`.
    pub QuiltForm = {
        "type": "object",
        "description": "One part per file (the part's name is the file's identifier, its body the contents), and optionally `_metadata`: a JSON list of `{\"identifier\", \"tags\"}`.",
        "properties": {
            "_metadata": { "type": "string", "description": "JSON list of `{\"identifier\": string, \"tags\": {string: string}}`." }
        },
        "additionalProperties": { "type": "string", "format": "binary" }
    }
}

walrus_service::schema! {
    /// Walrus's `QuiltStoreResult`.
    pub QuiltStoreResult uses(BlobStoreResult) = {
        "type": "object",
        "description": "The quilt's store result and its patches (in quilt order).",
        "required": ["blobStoreResult", "storedQuiltBlobs"],
        "properties": {
            "blobStoreResult": { "$ref": "#/components/schemas/BlobStoreResult" },
            "storedQuiltBlobs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["identifier", "quiltPatchId"],
                    "properties": {
                        "identifier": { "type": "string" },
                        "quiltPatchId": { "type": "string", "description": "The quilt patch ID: base64url of the quilt ID, version 1, start and end column." }
                    }
                }
            }
        }
    }
}

walrus_service::schema! {
    /// Walrus's `BlobStoreResult` (the SDK's `StoreOutcome`).
    pub BlobStoreResult uses(BlobId, ObjectId, EventId) = {
        "description": "Walrus's `BlobStoreResult` (externally tagged). `alreadyCertified.event` is the certifying event as the storage nodes report it (`{checkpoint, eventIndex}`).",
        "oneOf": [
            {
                "type": "object",
                "required": ["newlyCreated"],
                "properties": {
                    "newlyCreated": {
                        "type": "object",
                        "required": ["blobObject", "resourceOperation", "cost"],
                        "properties": {
                            "blobObject": {
                                "type": "object",
                                "description": "The certified `Blob` object.",
                                "required": ["id", "registeredEpoch", "blobId", "size", "encodingType", "storage", "deletable"],
                                "properties": {
                                    "id": { "$ref": "#/components/schemas/ObjectId" },
                                    "registeredEpoch": { "type": "integer", "format": "int64", "minimum": 0 },
                                    "blobId": { "$ref": "#/components/schemas/BlobId" },
                                    "size": { "type": "integer", "format": "int64", "minimum": 0, "description": "Unencoded size in bytes." },
                                    "encodingType": { "type": "string", "enum": ["RS2"] },
                                    "certifiedEpoch": { "type": ["integer", "null"], "format": "int64", "minimum": 0 },
                                    "storage": {
                                        "type": "object",
                                        "description": "The storage the blob occupies.",
                                        "required": ["id", "startEpoch", "endEpoch", "storageSize"],
                                        "properties": {
                                            "id": { "$ref": "#/components/schemas/ObjectId" },
                                            "startEpoch": { "type": "integer", "format": "int64", "minimum": 0 },
                                            "endEpoch": { "type": "integer", "format": "int64", "minimum": 0, "description": "The first epoch in which the blob is no longer stored." },
                                            "storageSize": { "type": "integer", "format": "int64", "minimum": 0 }
                                        }
                                    },
                                    "deletable": { "type": "boolean" }
                                }
                            },
                            "resourceOperation": {
                                "type": "object",
                                "description": "How the storage was obtained.",
                                "properties": {
                                    "registerFromScratch": {
                                        "type": "object",
                                        "required": ["encodedLength", "epochsAhead"],
                                        "properties": {
                                            "encodedLength": { "type": "integer", "format": "int64", "minimum": 0 },
                                            "epochsAhead": { "type": "integer", "format": "int64", "minimum": 0 }
                                        }
                                    }
                                }
                            },
                            "cost": { "type": "integer", "format": "int64", "minimum": 0, "description": "WAL paid, in FROST." }
                        }
                    }
                }
            },
            {
                "type": "object",
                "required": ["alreadyCertified"],
                "properties": {
                    "alreadyCertified": {
                        "type": "object",
                        "required": ["blobId", "event", "endEpoch"],
                        "properties": {
                            "blobId": { "$ref": "#/components/schemas/BlobId" },
                            "event": { "$ref": "#/components/schemas/EventId" },
                            "endEpoch": { "type": "integer", "format": "int64", "minimum": 0 }
                        }
                    }
                }
            }
        ]
    }
}
