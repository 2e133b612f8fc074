//! The body of `PUT /v1/quilts`: `multipart/form-data`, one part per file (the part's name is
//! the file's identifier, its body the contents) and optionally a `_metadata` part, a JSON
//! list of `{"identifier": ..., "tags": {...}}` giving tags to files (as Walrus's publisher
//! takes it; tag values that are not strings are kept as their JSON text).

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::Deserialize;
use walrus_core::quilt::{validate_identifier, QuiltError, QuiltFile};

use crate::http::HttpError;

/// The name of the part holding the files' tags.
pub const METADATA_PART: &str = "_metadata";

/// The most parts a form may have (a quilt holds at most `n - f - 1` files: 666 at 1000
/// shards); more is refused before they are read.
pub const MAX_PARTS: usize = 1_024;

/// One entry of the `_metadata` part.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchMetadata {
    identifier: String,
    #[serde(default)]
    tags: BTreeMap<String, serde_json::Value>,
}

/// The files of a quilt form `body` with `Content-Type` `content_type`, in the order sent;
/// 400 for anything that is not a well-formed form of files.
pub async fn parse_quilt_form(
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Result<Vec<QuiltFile>, HttpError> {
    let content_type = content_type.ok_or_else(|| {
        HttpError::bad_request("a quilt is sent as multipart/form-data (no Content-Type given)")
    })?;
    let boundary = multer::parse_boundary(content_type).map_err(|error| {
        HttpError::bad_request(format!(
            "a quilt is sent as multipart/form-data with a boundary, not `{content_type}`: {error}"
        ))
    })?;
    let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(body)) });
    let mut form = multer::Multipart::new(stream, boundary);
    let malformed = |error: multer::Error| {
        HttpError::bad_request(format!("failed to parse multipart form: {error}"))
    };
    let mut files = Vec::new();
    let mut metadata: Option<Vec<PatchMetadata>> = None;
    let mut parts = 0usize;
    while let Some(field) = form.next_field().await.map_err(malformed)? {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(HttpError::bad_request(format!(
                "more than {MAX_PARTS} parts in the form"
            )));
        }
        let name = field
            .name()
            .map(str::to_owned)
            .ok_or_else(|| HttpError::bad_request(format!("part {parts} has no name")))?;
        let contents = field.bytes().await.map_err(malformed)?;
        if name == METADATA_PART {
            if metadata.is_some() {
                return Err(HttpError::bad_request("more than one `_metadata` part"));
            }
            metadata = Some(serde_json::from_slice(&contents).map_err(|error| {
                HttpError::bad_request(format!(
                    "`_metadata` must be a JSON list of {{\"identifier\", \"tags\"}}: {error}"
                ))
            })?);
        } else {
            validate_identifier(&name)
                .map_err(|error| HttpError::bad_request(error.to_string()))?;
            if files.iter().any(|file: &QuiltFile| file.identifier == name) {
                return Err(HttpError::bad_request(
                    QuiltError::DuplicateIdentifier(name).to_string(),
                ));
            }
            files.push(QuiltFile::new(name, contents.to_vec()));
        }
    }
    if files.is_empty() {
        return Err(HttpError::bad_request(
            "no files provided in multipart form",
        ));
    }
    for entry in metadata.unwrap_or_default() {
        let file = files
            .iter_mut()
            .find(|file| file.identifier == entry.identifier)
            .ok_or_else(|| {
                HttpError::bad_request(format!(
                    "`_metadata` names `{}`, which is not a file of the form",
                    entry.identifier
                ))
            })?;
        if !file.tags.is_empty() {
            return Err(HttpError::bad_request(format!(
                "`_metadata` names `{}` more than once",
                entry.identifier
            )));
        }
        file.tags = entry
            .tags
            .into_iter()
            .map(|(key, value)| match value {
                serde_json::Value::String(text) => (key, text),
                other => (key, other.to_string()),
            })
            .collect();
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDARY: &str = "XyZ";

    fn form(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, contents) in parts {
            body.extend_from_slice(
                format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(contents);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        body
    }

    async fn parse(body: Vec<u8>) -> Result<Vec<QuiltFile>, String> {
        parse_quilt_form(
            Some(&format!("multipart/form-data; boundary={BOUNDARY}")),
            body,
        )
        .await
        .map_err(|error| error.error.error.message)
    }

    #[tokio::test]
    async fn files_and_their_tags() {
        let metadata = br#"[{"identifier":"b.txt","tags":{"kind":"note","n":3}}]"#;
        let files = parse(form(&[
            ("b.txt", b"bee"),
            ("a", b""),
            ("_metadata", metadata),
        ]))
        .await
        .unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].identifier, "b.txt");
        assert_eq!(files[0].contents, b"bee");
        assert_eq!(
            files[0].tags,
            BTreeMap::from([("kind".into(), "note".into()), ("n".into(), "3".into())])
        );
        assert_eq!(files[1], QuiltFile::new("a", Vec::new()));
    }

    #[tokio::test]
    async fn malformed_forms_are_refused_with_a_reason() {
        for (body, needle) in [
            (form(&[]), "no files"),
            (form(&[("_metadata", b"[]")]), "no files"),
            (form(&[("a", b"x"), ("_metadata", b"{")]), "_metadata"),
            (
                form(&[("a", b"x"), ("_metadata", br#"[{"identifier":"b"}]"#)]),
                "not a file of the form",
            ),
            (
                form(&[("a", b"x"), ("_metadata", b"[]"), ("_metadata", b"[]")]),
                "more than one",
            ),
            (b"--XyZ\r\nnot a header\r\n".to_vec(), "multipart"),
            (form(&[("a", b"x"), ("a", b"y")]), "duplicate"),
            (form(&[("trailing ", b"x")]), "whitespace"),
        ] {
            let error = parse(body).await.unwrap_err();
            assert!(error.contains(needle), "{needle}: {error}");
        }
        let too_many: Vec<(String, &[u8])> = (0..=MAX_PARTS)
            .map(|i| (format!("f{i}"), &b"x"[..]))
            .collect();
        let parts: Vec<(&str, &[u8])> = too_many.iter().map(|(n, c)| (n.as_str(), *c)).collect();
        assert!(parse(form(&parts)).await.unwrap_err().contains("parts"));
        for content_type in [None, Some("application/json"), Some("multipart/form-data")] {
            assert!(parse_quilt_form(content_type, form(&[("a", b"x")]))
                .await
                .is_err());
        }
    }
}
