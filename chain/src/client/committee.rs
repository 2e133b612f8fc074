//! A view of the current committee for storage nodes and clients: members in on-chain order
//! (signer indices), their BLS keys, shards and REST addresses, (for a node) which member it
//! is, and the previous epoch's shard owners, who keep serving the shards that moved until
//! the epoch change is done.

use std::collections::BTreeSet;

use crate::contract::{
    staking::{Staking, StakingPool, EPOCH_CHANGE_SYNC},
    system::System,
};
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
    /// Base URL of its REST API ([`node_url`] of its network address: `http://host:port`, or
    /// `https://host:port` for a node that serves TLS).
    pub url: String,
    /// Its network public key as registered (for a valid key: a compressed P-256 point, which
    /// an `https://` node's TLS certificate must carry; clients pin it).
    pub network_public_key: Vec<u8>,
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
    /// The owners of the shards in the previous epoch (`None` before the second committee).
    pub previous: Option<PreviousCommittee>,
    /// Whether the shards of this epoch's committee are still moving (`EpochChangeStart` seen,
    /// `EpochChangeDone` not yet): previous owners still serve the shards they gave away.
    pub in_transition: bool,
}

/// Who held which shard in the previous epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousCommittee {
    /// The members of the previous epoch with the shards they held then (keys and URLs as
    /// their pools say now).
    pub members: Vec<MemberInfo>,
    /// The shards the viewer held in the previous epoch.
    pub own_shards: BTreeSet<ShardIndex>,
}

impl PreviousCommittee {
    /// The member that held `shard` in the previous epoch.
    pub fn owner(&self, shard: ShardIndex) -> Option<&MemberInfo> {
        self.members
            .iter()
            .find(|member| member.shards.contains(&shard))
    }
}

/// The base URL of a node's REST API from its on-chain network address: `host:port` is plain
/// HTTP (`http://host:port`, this network's nodes without TLS), a full URL is kept as it is
/// (`https://host:port`: a node serving TLS with a certificate carrying its network key).
pub fn node_url(network_address: &str) -> String {
    if network_address.starts_with("http://") || network_address.starts_with("https://") {
        network_address.trim_end_matches('/').to_owned()
    } else {
        format!("http://{network_address}")
    }
}

fn pool_of<'a>(
    staking: &'a Staking,
    node_id: &ObjectId,
) -> Result<&'a StakingPool, CommitteeViewError> {
    staking
        .pools
        .iter()
        .find(|pool| pool.node_id == *node_id)
        .ok_or_else(|| CommitteeViewError::Invalid(format!("no pool for member {node_id}")))
}

/// The shards `node_id` owns in `assignment` (owner of shard `i` at position `i`).
fn shards_in(assignment: &[ObjectId], node_id: &ObjectId) -> Vec<ShardIndex> {
    assignment
        .iter()
        .enumerate()
        .filter(|(_, owner)| *owner == node_id)
        .filter_map(|(shard, _)| u16::try_from(shard).ok().map(ShardIndex))
        .collect()
}

/// The previous committee from `staking.previous_shard_assignment`, if there is one.
fn previous_committee(
    staking: &Staking,
    n_shards: u16,
    own_key: Option<&PublicKey>,
) -> Result<Option<PreviousCommittee>, CommitteeViewError> {
    let assignment = &staking.previous_shard_assignment;
    if assignment.is_empty() {
        return Ok(None);
    }
    if assignment.len() != usize::from(n_shards) {
        return Err(CommitteeViewError::Invalid(format!(
            "the previous assignment has {} shards, not {n_shards}",
            assignment.len()
        )));
    }
    let mut members: Vec<MemberInfo> = Vec::new();
    for owner in assignment {
        if members.iter().any(|member| member.node_id == *owner) {
            continue;
        }
        let pool = pool_of(staking, owner)?;
        let public_key = public_key_from_bytes(&pool.info.public_key)
            .map_err(|error| CommitteeViewError::Invalid(format!("key of {owner}: {error}")))?;
        members.push(MemberInfo {
            node_id: *owner,
            public_key,
            url: node_url(&pool.info.network_address),
            network_public_key: pool.info.network_public_key.clone(),
            shards: shards_in(assignment, owner),
        });
    }
    let own_shards = members
        .iter()
        .find(|member| Some(&member.public_key) == own_key)
        .map(|member| member.shards.iter().copied().collect())
        .unwrap_or_default();
    Ok(Some(PreviousCommittee {
        members,
        own_shards,
    }))
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
            let pool = pool_of(staking, &member.node_id)?;
            let shards = shards_in(&staking.shard_assignment, &member.node_id);
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
                network_public_key: pool.info.network_public_key.clone(),
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
        let previous = previous_committee(staking, n_shards, own_key)?;
        Ok(Self {
            epoch: bls.epoch,
            n_shards,
            committee,
            members,
            own_index,
            own_shards,
            in_transition: previous.is_some() && staking.epoch_state == EPOCH_CHANGE_SYNC,
            previous,
        })
    }

    /// The shards the viewer holds this epoch but did not hold in the previous one (empty
    /// for the first committee: nobody held anything before).
    pub fn gained_shards(&self) -> BTreeSet<ShardIndex> {
        match &self.previous {
            Some(previous) => self
                .own_shards
                .difference(&previous.own_shards)
                .copied()
                .collect(),
            None => BTreeSet::new(),
        }
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

    /// While shards move: the previous owners of the shards that moved, each with those shards
    /// (they serve them until the epoch change is done); empty otherwise.
    pub fn transition_holders(&self) -> Vec<MemberInfo> {
        let Some(previous) = self.previous.as_ref().filter(|_| self.in_transition) else {
            return Vec::new();
        };
        previous
            .members
            .iter()
            .filter_map(|old| {
                let moved: Vec<ShardIndex> = old
                    .shards
                    .iter()
                    .copied()
                    .filter(|shard| {
                        self.shard_owner(*shard)
                            .is_none_or(|owner| self.members[owner].node_id != old.node_id)
                    })
                    .collect();
                (!moved.is_empty()).then(|| MemberInfo {
                    shards: moved,
                    ..old.clone()
                })
            })
            .collect()
    }

    /// Every node that serves slivers now, with the shards it serves: the members with their
    /// shards and, while shards move, the previous owners with the shards they gave away
    /// (merged by node), except the viewer. Recovery asks these for symbols.
    pub fn serving_peers(&self) -> Vec<MemberInfo> {
        let mut serving: Vec<MemberInfo> = self.peers().map(|(_, member)| member.clone()).collect();
        let own_previous = self.previous.as_ref().map(|previous| &previous.own_shards);
        for old in self.transition_holders() {
            // The viewer itself (shards of different nodes are disjoint).
            if own_previous.is_some_and(|own| old.shards.iter().all(|shard| own.contains(shard))) {
                continue;
            }
            match serving
                .iter_mut()
                .find(|member| member.node_id == old.node_id)
            {
                Some(member) => member.shards.extend(old.shards),
                None => serving.push(old),
            }
        }
        serving
    }

    /// The shards the viewer serves reads and symbols of: its own and, while shards move, the
    /// ones it gave away (it keeps them until the epoch change is done).
    pub fn served_shards(&self) -> BTreeSet<ShardIndex> {
        let mut shards = self.own_shards.clone();
        if let Some(previous) = self.previous.as_ref().filter(|_| self.in_transition) {
            shards.extend(previous.own_shards.iter().copied());
        }
        shards
    }

    /// Whether the viewer serves pair `pair` of `blob_id` ([`Self::served_shards`]).
    pub fn serves_pair(&self, blob_id: &BlobId, pair: SliverPairIndex) -> bool {
        if pair.0 >= self.n_shards {
            return false;
        }
        let shard = pair.to_shard_index(self.n_shards, blob_id);
        self.own_shards.contains(&shard)
            || self.in_transition
                && self
                    .previous
                    .as_ref()
                    .is_some_and(|previous| previous.own_shards.contains(&shard))
    }

    /// The pairs of `blob_id` the viewer serves ([`Self::served_shards`]).
    pub fn served_pairs(&self, blob_id: &BlobId) -> Vec<SliverPairIndex> {
        self.served_shards()
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

    use walrus_core::crypto::ProtocolKeyPair;

    fn member(id: u8, shards: &[u16]) -> MemberInfo {
        MemberInfo {
            node_id: ObjectId([id; 32]),
            public_key: ProtocolKeyPair::from_seed([id; 32]).public().clone(),
            url: format!("http://node{id}"),
            network_public_key: Vec::new(),
            shards: shards.iter().copied().map(ShardIndex).collect(),
        }
    }

    /// 6 shards; the viewer is node `own`; `previous` members held the shards before.
    fn view(
        members: Vec<MemberInfo>,
        own: Option<u8>,
        previous: Option<Vec<MemberInfo>>,
        in_transition: bool,
    ) -> CommitteeView {
        let core = members
            .iter()
            .map(|member| CommitteeMember {
                public_key: member.public_key.clone(),
                weight: u16::try_from(member.shards.len()).unwrap(),
            })
            .collect();
        let own_index = own.and_then(|own| members.iter().position(|m| m.node_id.0[0] == own));
        let own_shards = own_index
            .map(|index| members[index].shards.iter().copied().collect())
            .unwrap_or_default();
        let previous = previous.map(|members| {
            let own_shards = members
                .iter()
                .find(|m| Some(m.node_id.0[0]) == own)
                .map(|m| m.shards.iter().copied().collect())
                .unwrap_or_default();
            PreviousCommittee {
                members,
                own_shards,
            }
        });
        CommitteeView {
            epoch: 3,
            n_shards: 6,
            committee: Committee::new(3, 6, core).unwrap(),
            members,
            own_index,
            own_shards,
            previous,
            in_transition,
        }
    }

    fn shards(list: &[u16]) -> BTreeSet<ShardIndex> {
        list.iter().copied().map(ShardIndex).collect()
    }

    #[test]
    fn a_node_gains_the_shards_it_did_not_hold() {
        // Node 1 held 0..3, node 2 held 3..6; now node 1 holds 0..2 and node 3 joined with 2, 3.
        let previous = vec![member(1, &[0, 1, 2]), member(2, &[3, 4, 5])];
        let now = vec![member(1, &[0, 1]), member(2, &[4, 5]), member(3, &[2, 3])];
        let joiner = view(now.clone(), Some(3), Some(previous.clone()), true);
        assert_eq!(joiner.gained_shards(), shards(&[2, 3]));
        let giver = view(now.clone(), Some(1), Some(previous.clone()), true);
        assert!(giver.gained_shards().is_empty());
        // A giver serves what it gave away until the change is done, then only its own.
        assert_eq!(giver.served_shards(), shards(&[0, 1, 2]));
        let done = view(now.clone(), Some(1), Some(previous.clone()), false);
        assert_eq!(done.served_shards(), shards(&[0, 1]));
        // The first committee gains nothing: nobody held anything before.
        assert!(view(now, Some(3), None, true).gained_shards().is_empty());
        assert_eq!(
            PreviousCommittee {
                members: previous,
                own_shards: BTreeSet::new()
            }
            .owner(ShardIndex(3))
            .map(|m| m.node_id),
            Some(ObjectId([2; 32]))
        );
    }

    #[test]
    fn previous_owners_serve_moved_shards_only_during_the_change() {
        let previous = vec![member(1, &[0, 1, 2]), member(2, &[3, 4, 5])];
        let now = vec![member(1, &[0, 1]), member(3, &[2, 3, 4, 5])];
        let client = view(now.clone(), None, Some(previous.clone()), true);
        let holders = client.transition_holders();
        assert_eq!(holders.len(), 2);
        assert_eq!(holders[0].shards, [ShardIndex(2)]);
        assert_eq!(
            holders[1].shards,
            [3, 4, 5].map(ShardIndex),
            "node 2 left and serves all its old shards"
        );
        assert!(view(now.clone(), None, Some(previous.clone()), false)
            .transition_holders()
            .is_empty());
        // The joiner's peers: node 1 with its shards plus the one it gave away, and node 2
        // (no longer a member) with its old ones; never itself.
        let joiner = view(now.clone(), Some(3), Some(previous.clone()), true);
        let peers = joiner.serving_peers();
        assert_eq!(peers.len(), 2);
        assert_eq!(peers[0].node_id, ObjectId([1; 32]));
        assert_eq!(peers[0].shards, [0, 1, 2].map(ShardIndex));
        assert_eq!(peers[1].node_id, ObjectId([2; 32]));
        // Node 1's peers exclude its own old shard.
        let giver = view(now, Some(1), Some(previous), true);
        let peers = giver.serving_peers();
        assert!(peers.iter().all(|peer| peer.node_id != ObjectId([1; 32])));
        assert_eq!(peers.len(), 2);
    }

    #[test]
    fn urls_from_network_addresses() {
        assert_eq!(node_url("127.0.0.1:9000"), "http://127.0.0.1:9000");
        assert_eq!(node_url("https://node.example/"), "https://node.example");
    }
}
