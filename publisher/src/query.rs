//! The query of `PUT /v1/blobs` and `PUT /v1/quilts`, parsed strictly: unknown or repeated
//! parameters and bad values are errors that name the parameter.

use std::str::FromStr;

use sui_sdk_types::Address;
use walrus_sdk::client::StoreOptions;

/// What a `PUT /v1/blobs` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreQuery {
    /// How to store the blob.
    pub options: StoreOptions,
    /// Where to transfer the new `Blob` object, if anywhere.
    pub send_object_to: Option<Address>,
}

/// The parameters `PUT /v1/blobs` accepts.
pub const PARAMETERS: &[&str] = &[
    "epochs",
    "permanent",
    "deletable",
    "force",
    "send_object_to",
    "share",
    "encoding_type",
    "reuse_resources",
];

/// The parameters of `PUT /v1/blobs` as the OpenAPI document describes them (the query itself
/// is parsed by [`StoreQuery::parse`], strictly, from the pairs).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StoreParameters {
    /// Epochs of storage from the current one (at least 1; the system's maximum applies: 400
    /// beyond it).
    #[param(required = false, minimum = 1, default = 1)]
    pub epochs: u32,
    /// Store a permanent blob (cannot be deleted before it expires). Mutually exclusive with
    /// `deletable=true`.
    #[param(required = false, default = false)]
    pub permanent: bool,
    /// Store a deletable blob (the default; accepted for compatibility).
    #[param(required = false, default = false)]
    pub deletable: bool,
    /// Store even if the blob is already certified long enough (otherwise a permanent blob the
    /// nodes hold answers `alreadyCertified`).
    #[param(required = false, default = false)]
    pub force: bool,
    /// Sui address (`0x…`) to transfer the new `Blob` object to after the store. Nothing is
    /// sent for an `alreadyCertified` answer.
    #[param(required = false, pattern = "^0x[0-9a-fA-F]{1,64}$")]
    pub send_object_to: String,
    /// Not supported: `share=true` answers 400.
    #[param(required = false, default = false)]
    pub share: bool,
    /// Only `RS2` is supported.
    #[param(required = false, pattern = "^[Rr][Ss]2$")]
    pub encoding_type: String,
    /// Accepted and ignored: storage is always bought for the blob.
    #[param(required = false, default = false)]
    pub reuse_resources: bool,
}

fn boolean(name: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!(
            "invalid value for `{name}`: expected `true` or `false`, got `{value}`"
        )),
    }
}

/// The parameter only `PUT /v1/quilts` takes, besides those of `PUT /v1/blobs`.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuiltParameters {
    /// The quilt format: only version 1 (`V1`, `v1` or `1`, the default).
    #[param(required = false, pattern = "^([Vv]?1)$")]
    pub quilt_version: String,
}

impl StoreQuery {
    /// Parses decoded `(name, value)` pairs of `PUT /v1/blobs`. Defaults: 1 epoch, deletable,
    /// not forced.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, String> {
        Self::parse_for(pairs, false)
    }

    /// Parses the pairs of `PUT /v1/quilts`: those of a blob, and `quilt_version`.
    pub fn parse_quilt(pairs: &[(String, String)]) -> Result<Self, String> {
        Self::parse_for(pairs, true)
    }

    fn parse_for(pairs: &[(String, String)], quilt: bool) -> Result<Self, String> {
        let mut seen = Vec::new();
        let mut epochs = 1u32;
        let (mut permanent, mut deletable, mut force) = (false, false, false);
        let mut send_object_to = None;
        for (name, value) in pairs {
            let name = name.as_str();
            let quilt_version = quilt && name == "quilt_version";
            if !PARAMETERS.contains(&name) && !quilt_version {
                return Err(format!(
                    "unknown query parameter `{name}` (accepted: {}{})",
                    PARAMETERS.join(", "),
                    if quilt { ", quilt_version" } else { "" }
                ));
            }
            if seen.contains(&name) {
                return Err(format!("query parameter `{name}` is given more than once"));
            }
            seen.push(name);
            match name {
                "epochs" => {
                    epochs = value
                        .parse()
                        .ok()
                        .filter(|epochs| *epochs >= 1)
                        .ok_or_else(|| {
                            format!("invalid value for `epochs`: expected an integer from 1 to {}, got `{value}`", u32::MAX)
                        })?;
                }
                "permanent" => permanent = boolean(name, value)?,
                "deletable" => deletable = boolean(name, value)?,
                "force" => force = boolean(name, value)?,
                "send_object_to" => {
                    send_object_to = Some(Address::from_str(value).map_err(|_| {
                        format!("invalid value for `send_object_to`: `{value}` is not a Sui address (0x followed by hex digits)")
                    })?);
                }
                "share" => {
                    if boolean(name, value)? {
                        return Err("`share=true` is not supported by this publisher".to_owned());
                    }
                }
                "quilt_version" => {
                    if !matches!(value.as_str(), "V1" | "v1" | "1") {
                        return Err(format!(
                            "invalid value for `quilt_version`: only `V1` is supported, got `{value}`"
                        ));
                    }
                }
                "encoding_type" => {
                    if !value.eq_ignore_ascii_case("RS2") {
                        return Err(format!(
                            "invalid value for `encoding_type`: only `RS2` is supported, got `{value}`"
                        ));
                    }
                }
                // Storage is always bought for the blob; there is nothing to reuse.
                _ => {
                    boolean(name, value)?;
                }
            }
        }
        if permanent && deletable {
            return Err("`permanent=true` and `deletable=true` are mutually exclusive".to_owned());
        }
        Ok(Self {
            options: StoreOptions {
                epochs,
                deletable: !permanent,
                force,
            },
            send_object_to,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &[(&str, &str)]) -> Result<StoreQuery, String> {
        let pairs: Vec<(String, String)> = query
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        StoreQuery::parse(&pairs)
    }

    #[test]
    fn defaults_and_flags() {
        let query = parse(&[]).unwrap();
        assert_eq!(query.options, StoreOptions::deletable(1));
        assert_eq!(query.send_object_to, None);
        let query = parse(&[("epochs", "5"), ("permanent", "true")]).unwrap();
        assert_eq!(query.options, StoreOptions::permanent(5));
        let query = parse(&[("deletable", "true"), ("force", "true"), ("share", "false")]).unwrap();
        assert!(query.options.deletable && query.options.force);
        let address = format!("0x{}", "ab".repeat(32));
        let query = parse(&[("send_object_to", &address)]).unwrap();
        assert_eq!(query.send_object_to, Some(address.parse().unwrap()));
    }

    #[test]
    fn errors_name_the_parameter() {
        for (query, needle) in [
            (&[("epochs", "0")][..], "epochs"),
            (&[("epochs", "abc")], "epochs"),
            (&[("epochs", "-1")], "epochs"),
            (&[("bogus", "1")], "bogus"),
            (&[("epochs", "1"), ("epochs", "2")], "epochs"),
            (&[("permanent", "yes")], "permanent"),
            (
                &[("permanent", "true"), ("deletable", "true")],
                "mutually exclusive",
            ),
            (&[("send_object_to", "alice")], "send_object_to"),
            (&[("share", "true")], "share"),
            (&[("encoding_type", "RS1")], "encoding_type"),
        ] {
            let error = parse(query).unwrap_err();
            assert!(error.contains(needle), "{query:?}: {error}");
        }
    }

    #[test]
    fn only_quilts_take_a_quilt_version() {
        let pairs = |version: &str| vec![("quilt_version".to_string(), version.to_string())];
        for version in ["V1", "v1", "1"] {
            assert!(StoreQuery::parse_quilt(&pairs(version)).is_ok());
            let error = StoreQuery::parse(&pairs(version)).unwrap_err();
            assert!(
                error.contains("unknown query parameter `quilt_version`"),
                "{error}"
            );
        }
        let error = StoreQuery::parse_quilt(&pairs("2")).unwrap_err();
        assert!(error.contains("quilt_version"), "{error}");
    }
}
