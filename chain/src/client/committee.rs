//! A view of the current committee for storage nodes and clients: members in on-chain order
//! (signer indices), their BLS keys, shards and REST addresses, and (for a node) which member
//! it is.

use std::collections::BTreeSet;

use crate::contract::{staking::Staking, system::System};
use walrus_core::{
    crypto::{public_key_from_bytes, Committee, CommitteeMember, PublicKey},
    BlobId, Epoch, ObjectId, ShardIndex, SliverPairIndex,
};

/// Why the chain's committee could not be turned into a view.
#[derive(Debug, thiserror::Error)]
pub enum CommitteeViewError {
    /// A member's key, weight or shard list is inconsistent.
    #[error("invalid committee on chain: {0}")]
    Invalid(String),
}

/// One member of the committee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// The node's ID (its staking pool).
    pub node_id: ObjectId,
    /// Its BLS public key.
    pub public_key: PublicKey,
    /// Base URL of its REST API (`http://host:port`).
    pub url: String,
    /// The shards it holds this epoch.
    pub shards: Vec<ShardIndex>,
}

/// The committee of the current epoch, seen by a node (`own_*` set) or a client.
#[derive(Debug, Clone)]
pub struct CommitteeView {
    /// The epoch.
    pub epoch: Epoch,
    /// The number of shards.
    pub n_shards: u16,
    /// The committee with shard weights (certificate verification, thresholds).
    pub committee: Committee,
    /// The members in committee order (signer index = position).
    pub members: Vec<MemberInfo>,
    /// The viewer's index in `members`, if it is a member.
    pub own_index: Option<usize>,
    /// The shards the viewer holds this epoch.
    pub own_shards: BTreeSet<ShardIndex>,
}

/// The base URL of a node's REST API from its on-chain network address (`host:port`, or a
/// full `http(s)://` URL).
pub fn node_url(network_address: &str) -> String {
    if network_address.starts_with("http://") || network_address.starts_with("https://") {
        network_address.trim_end_matches('/').to_owned()
    } else {
        format!("http://{network_address}")
    }
}

impl CommitteeView {
    /// The view from the `System` (committee, member order and weights) and `Staking`
    /// (network addresses, shard assignment) objects, for the node with `own_key` (`None` for
    /// a client).
    pub fn from_chain(
        system: &System,
        staking: &Staking,
        own_key: Option<&PublicKey>,
    ) -> Result<Self, CommitteeViewError> {
        let bls = &system.committee;
        let n_shards = bls.n_shards;
        let mut members = Vec::with_capacity(bls.members.len());
        let mut core_members = Vec::with_capacity(bls.members.len());
        for member in &bls.members {
            let public_key = public_key_from_bytes(&member.public_key).map_err(|error| {
                CommitteeViewError::Invalid(format!("key of {}: {error}", member.node_id))
            })?;
            let pool = staking
                .pools
                .iter()
                .find(|pool| pool.node_id == member.node_id)
                .ok_or_else(|| {
                    CommitteeViewError::Invalid(format!("no pool for member {}", member.node_id))
                })?;
            let shards: Vec<ShardIndex> = staking
                .shard_assignment
                .iter()
                .enumerate()
                .filter(|(_, owner)| **owner == member.node_id)
                .filter_map(|(shard, _)| u16::try_from(shard).ok().map(ShardIndex))
                .collect();
            if shards.len() != usize::from(member.weight) {
                return Err(CommitteeViewError::Invalid(format!(
                    "member {} has weight {} but {} assigned shards",
                    member.node_id,
                    member.weight,
                    shards.len()
                )));
            }
            core_members.push(CommitteeMember {
                public_key: public_key.clone(),
                weight: member.weight,
            });
            members.push(MemberInfo {
                node_id: member.node_id,
                public_key,
                url: node_url(&pool.info.network_address),
                shards,
            });
        }
        let committee = Committee::new(bls.epoch, n_shards, core_members)
            .map_err(|error| CommitteeViewError::Invalid(error.to_string()))?;
        let own_index = members
            .iter()
            .position(|member| Some(&member.public_key) == own_key);
        let own_shards = own_index
            .map(|index| members[index].shards.iter().copied().collect())
            .unwrap_or_default();
        Ok(Self {
            epoch: bls.epoch,
            n_shards,
            committee,
            members,
            own_index,
            own_shards,
        })
    }

    /// The member holding `shard`.
    pub fn shard_owner(&self, shard: ShardIndex) -> Option<usize> {
        self.members
            .iter()
            .position(|member| member.shards.contains(&shard))
    }

    /// Whether this node holds the shard of pair `pair` of `blob_id`.
    pub fn holds_pair(&self, blob_id: &BlobId, pair: SliverPairIndex) -> bool {
        pair.0 < self.n_shards
            && self
                .own_shards
                .contains(&pair.to_shard_index(self.n_shards, blob_id))
    }

    /// The pairs of `blob_id` this node stores (one per shard it holds).
    pub fn own_pairs(&self, blob_id: &BlobId) -> Vec<SliverPairIndex> {
        self.own_shards
            .iter()
            .map(|shard| shard.to_pair_index(self.n_shards, blob_id))
            .collect()
    }

    /// The other members.
    pub fn peers(&self) -> impl Iterator<Item = (usize, &MemberInfo)> {
        self.members
            .iter()
            .enumerate()
            .filter(move |(index, _)| Some(*index) != self.own_index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_from_network_addresses() {
        assert_eq!(node_url("127.0.0.1:9000"), "http://127.0.0.1:9000");
        assert_eq!(node_url("https://node.example/"), "https://node.example");
    }
}
