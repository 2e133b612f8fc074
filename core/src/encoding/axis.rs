//! The two axes of Red Stuff: primary slivers are rows of the expanded matrix, secondary
//! slivers are columns. Marker types make a primary and a secondary sliver different types.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The axis of a sliver or symbol, as a value. BCS: `Primary` = 0, `Secondary` = 1; text and
/// JSON: `primary` / `secondary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SliverType {
    /// Rows of the expanded matrix; `n - f` symbols each.
    Primary,
    /// Columns of the expanded matrix; `n - 2f` symbols each.
    Secondary,
}

impl SliverType {
    /// The other axis.
    pub fn orthogonal(self) -> Self {
        match self {
            SliverType::Primary => SliverType::Secondary,
            SliverType::Secondary => SliverType::Primary,
        }
    }

    /// Lowercase name used in URLs (`primary` / `secondary`).
    pub fn as_str(self) -> &'static str {
        match self {
            SliverType::Primary => "primary",
            SliverType::Secondary => "secondary",
        }
    }
}

impl fmt::Display for SliverType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SliverType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "primary" => Ok(SliverType::Primary),
            "secondary" => Ok(SliverType::Secondary),
            other => Err(format!(
                "unknown sliver type '{other}' (primary or secondary)"
            )),
        }
    }
}

/// An axis as a type, for slivers and symbols that must not be mixed across axes.
pub trait EncodingAxis:
    Clone + Copy + fmt::Debug + PartialEq + Eq + Send + Sync + Default + 'static
{
    /// The axis as a value.
    const TYPE: SliverType;
    /// The other axis.
    type Orthogonal: EncodingAxis<Orthogonal = Self>;
}

/// Marker for the primary axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Primary;

/// Marker for the secondary axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Secondary;

impl EncodingAxis for Primary {
    const TYPE: SliverType = SliverType::Primary;
    type Orthogonal = Secondary;
}

impl EncodingAxis for Secondary {
    const TYPE: SliverType = SliverType::Secondary;
    type Orthogonal = Primary;
}
