//! Random sequences of valid and invalid `system` calls keep the accounting invariants: every
//! FROST paid is in the rewards pool or was paid out, and each epoch's used capacity equals the
//! sizes of the live storage resources covering it.

use proptest::prelude::*;
use walrus_chain::contract::{
    blob::Blob,
    bls_aggregate::{new_bls_committee, BlsCommitteeMember},
    redstuff,
    storage_resource::Storage,
    sui::{Coin, TxContext, U256},
    system::System,
};
use walrus_core::{
    crypto::ProtocolKeyPair,
    encoding::{compute_metadata, EncodingConfig},
    merkle::Node,
    ObjectId,
};

const INITIAL: u64 = 10_000_000_000;
const CAPACITY: u64 = 20_000_000;

#[derive(Debug, Clone)]
enum Op {
    Reserve {
        size: u64,
        epochs: u32,
    },
    Register {
        storage: usize,
        blob: usize,
        deletable: bool,
    },
    Delete {
        blob: usize,
    },
    Extend {
        blob: usize,
        epochs: u32,
    },
    ExtendWithResource {
        blob: usize,
        storage: usize,
    },
    MarkCertified {
        blob: usize,
    },
    AdvanceEpoch,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u64..8_000_000, 0u32..6).prop_map(|(size, epochs)| Op::Reserve { size, epochs }),
        (any::<usize>(), 0usize..4, any::<bool>()).prop_map(|(storage, blob, deletable)| {
            Op::Register {
                storage,
                blob,
                deletable,
            }
        }),
        any::<usize>().prop_map(|blob| Op::Delete { blob }),
        (any::<usize>(), 0u32..4).prop_map(|(blob, epochs)| Op::Extend { blob, epochs }),
        (any::<usize>(), any::<usize>())
            .prop_map(|(blob, storage)| Op::ExtendWithResource { blob, storage }),
        any::<usize>().prop_map(|blob| Op::MarkCertified { blob }),
        Just(Op::AdvanceEpoch),
    ]
}

/// (blob ID, root hash, size) of four small blobs for 4 shards.
fn blobs() -> Vec<(U256, U256, u64)> {
    let config = EncodingConfig::new(4).unwrap();
    (0..4u8)
        .map(|i| {
            let data = vec![i; 100 * usize::from(i) + 1];
            let metadata = compute_metadata(&config, &data).unwrap();
            let Node::Digest(root) = metadata.root_hash() else {
                unreachable!("four pairs have a root")
            };
            (
                U256::from(*metadata.blob_id()),
                U256(root),
                data.len() as u64,
            )
        })
        .collect()
}

fn system(ctx: &mut TxContext) -> System {
    let key = ProtocolKeyPair::from_seed([1; 32]);
    let member = BlsCommitteeMember {
        public_key: fastcrypto::traits::ToFromBytes::as_bytes(key.public()).to_vec(),
        weight: 4,
        node_id: ObjectId([1; 32]),
    };
    let committee = new_bls_committee(1, vec![member]).unwrap();
    System::create(committee, CAPACITY, 3, 2, 5, ctx)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn accounting_balances(ops in prop::collection::vec(op(), 1..80)) {
        let candidates = blobs();
        let mut ctx = TxContext::new([2; 32], [3; 32]);
        let mut system = system(&mut ctx);
        let mut coin = Coin { id: ObjectId([4; 32]), balance: INITIAL };
        let mut paid_out = 0u64;
        let mut storages: Vec<Storage> = Vec::new();
        let mut live_blobs: Vec<Blob> = Vec::new();
        for op in ops {
            match op {
                Op::Reserve { size, epochs } => {
                    if let Ok(storage) = system.reserve_space(size, epochs, &mut coin, &mut ctx) {
                        storages.push(storage);
                    }
                }
                Op::Register { storage, blob, deletable } if !storages.is_empty() => {
                    let index = storage % storages.len();
                    let (blob_id, root, size) = candidates[blob];
                    let result = system.register_blob(
                        storages[index].clone(), blob_id, root, size, redstuff::RS2, deletable,
                        &mut coin, &mut ctx,
                    );
                    if let Ok(blob) = result {
                        storages.remove(index);
                        live_blobs.push(blob);
                    }
                }
                Op::Delete { blob } if !live_blobs.is_empty() => {
                    let index = blob % live_blobs.len();
                    if let Ok(storage) = system.delete_blob(live_blobs[index].clone(), &mut ctx) {
                        live_blobs.remove(index);
                        storages.push(storage);
                    }
                }
                Op::Extend { blob, epochs } if !live_blobs.is_empty() => {
                    let index = blob % live_blobs.len();
                    let mut copy = live_blobs[index].clone();
                    if system.extend_blob(&mut copy, epochs, &mut coin, &mut ctx).is_ok() {
                        live_blobs[index] = copy;
                    }
                }
                Op::ExtendWithResource { blob, storage }
                    if !live_blobs.is_empty() && !storages.is_empty() =>
                {
                    let (b, s) = (blob % live_blobs.len(), storage % storages.len());
                    let mut copy = live_blobs[b].clone();
                    if system
                        .extend_blob_with_resource(&mut copy, storages[s].clone(), &mut ctx)
                        .is_ok()
                    {
                        live_blobs[b] = copy;
                        storages.remove(s);
                    }
                }
                Op::MarkCertified { blob } if !live_blobs.is_empty() => {
                    // Certification itself is covered elsewhere; here it only unlocks extension.
                    let index = blob % live_blobs.len();
                    if live_blobs[index].certified_epoch.is_none() {
                        live_blobs[index].certified_epoch = Some(system.epoch());
                    }
                }
                Op::AdvanceEpoch => {
                    let mut committee = system.committee.clone();
                    committee.epoch += 1;
                    paid_out += system.advance_epoch(committee, CAPACITY, 3, 2).unwrap();
                }
                _ => {}
            }
            // Every FROST paid is in the pool or was paid out.
            prop_assert_eq!(coin.value() + system.rewards_pool + paid_out, INITIAL);
            // Each epoch's used capacity is the size of the live storage covering it.
            for entry in &system.future_accounting {
                let covering: u64 = storages
                    .iter()
                    .chain(live_blobs.iter().map(|blob| &blob.storage))
                    .filter(|s| s.start_epoch <= entry.epoch && entry.epoch < s.end_epoch)
                    .map(|s| s.storage_size)
                    .sum();
                prop_assert_eq!(entry.used_capacity, covering, "epoch {}", entry.epoch);
                prop_assert!(entry.used_capacity <= CAPACITY);
            }
        }
    }
}
