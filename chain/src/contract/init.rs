//! Twin of `walrus::init`: publishing the package gives the publisher an `InitCap`, which it
//! spends once to create the shared `System` and `Staking` objects (epoch 0, no committee; the
//! first epoch change selects the first committee from the registered, staked candidates).

use serde::{Deserialize, Serialize};
use walrus_core::ObjectId;

use super::{
    bls_aggregate::BlsCommittee,
    ensure,
    staking::Staking,
    sui::{Clock, TxContext},
    system::System,
    Abort, MoveResult,
};

/// `EInvalidParameters`: zero shards, a zero epoch duration or zero epochs ahead.
pub const E_INVALID_PARAMETERS: Abort = Abort::new("init", 0, "EInvalidParameters");

/// The capability to initialize the system, created when the package is published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitCap {
    /// Object ID.
    pub id: ObjectId,
}

/// `init`: the package initializer; the `InitCap` goes to the publisher.
pub fn init(ctx: &mut TxContext) -> InitCap {
    InitCap { id: ctx.fresh_id() }
}

/// `initialize_walrus`: consumes the `InitCap` and creates the `System` (with no committee,
/// capacity or prices until the first epoch change) and the `Staking` object, to be shared.
pub fn initialize_walrus(
    cap: InitCap,
    n_shards: u16,
    epoch_duration_ms: u64,
    max_epochs_ahead: u32,
    clock: &Clock,
    ctx: &mut TxContext,
) -> MoveResult<(System, Staking)> {
    ensure(
        n_shards > 0 && epoch_duration_ms > 0 && max_epochs_ahead > 0,
        E_INVALID_PARAMETERS,
    )?;
    let InitCap { id: _ } = cap;
    let committee = BlsCommittee {
        members: Vec::new(),
        n_shards: 0,
        epoch: 0,
    };
    let system = System::create(committee, 0, 0, 0, max_epochs_ahead, ctx);
    let staking = Staking::create(n_shards, epoch_duration_ms, clock, ctx);
    Ok((system, staking))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initializes_epoch_zero() {
        let mut ctx = TxContext::new([1; 32], [2; 32]);
        let clock = Clock { timestamp_ms: 5 };
        let cap = init(&mut ctx);
        assert_eq!(
            initialize_walrus(cap.clone(), 0, 1, 1, &clock, &mut ctx),
            Err(E_INVALID_PARAMETERS)
        );
        let (system, staking) = initialize_walrus(cap, 10, 1000, 4, &clock, &mut ctx).unwrap();
        assert_eq!(
            (system.epoch(), staking.epoch, staking.n_shards),
            (0, 0, 10)
        );
        assert_eq!(system.future_accounting.len(), 4);
        assert_eq!(staking.epoch_start_ms, 5);
        assert_eq!(
            bcs::to_bytes(&InitCap {
                id: ObjectId([3; 32])
            })
            .unwrap(),
            vec![3; 32]
        );
    }
}
