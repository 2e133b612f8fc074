//! Moving funds between wallets: SUI and WAL from the signer to any number of recipients in
//! one programmable transaction ([`WalrusClient::transfer_funds`]), the SUI and WAL balances
//! of any address, clients of keys derived from the signer's over the same connection
//! ([`WalrusClient::derived_client`]), and the gas a set of senders paid, from the effects in
//! the chain's checkpoints ([`WalrusClient::gas_paid`]). A publisher funds its sub-wallets
//! with these.

use std::{ops::RangeInclusive, str::FromStr};

use fastcrypto::hash::{Blake2b256, HashFunction};
use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_rpc::{
    field::{FieldMask, FieldMaskUtil},
    proto::sui::rpc::v2 as pb,
};
use sui_sdk_types::{Address, StructTag, TransactionEffects, TypeTag};
use sui_transaction_builder::{Argument, TransactionBuilder};

use super::{ClientError, ExecutedTransaction, RawObject, WalrusClient};

/// Domain separation of [`WalrusClient::derived_client`]'s key derivation.
const DERIVED_KEY_DOMAIN: &[u8] = b"walrus-chain/derived-ed25519-key/v1";

/// The read mask of checkpoints in [`WalrusClient::gas_paid`].
const GAS_CHECKPOINT_MASK: &str =
    "sequence_number,transactions.transaction.sender,transactions.effects.bcs";

/// What one recipient of [`WalrusClient::transfer_funds`] gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payment {
    /// The recipient.
    pub recipient: Address,
    /// SUI in MIST (0: none).
    pub sui: u64,
    /// WAL in FROST (0: none).
    pub wal: u64,
}

impl ExecutedTransaction {
    /// The SUI (MIST) the transaction's gas cost its sender: computation and storage costs
    /// minus the storage rebate (negative if the rebate was larger).
    pub fn gas_cost(&self) -> i64 {
        self.effects.gas_summary().net_gas_usage()
    }
}

/// The key [`WalrusClient::derived_client`] derives from `signer`, `domain` and `index`.
fn derive_key(signer: &Ed25519PrivateKey, domain: &[u8], index: u64) -> Ed25519PrivateKey {
    let mut hash = Blake2b256::new();
    hash.update(DERIVED_KEY_DOMAIN);
    hash.update((domain.len() as u64).to_le_bytes());
    hash.update(domain);
    hash.update(signer.to_base64().as_bytes());
    hash.update(index.to_le_bytes());
    Ed25519PrivateKey::new(hash.finalize().digest)
}

fn sum(mut amounts: impl Iterator<Item = u64>, what: &str) -> Result<u64, ClientError> {
    amounts
        .try_fold(0u64, u64::checked_add)
        .ok_or_else(|| ClientError::Build(format!("the {what} amounts overflow")))
}

impl WalrusClient {
    /// A client over the same connection and configuration whose Ed25519 key is derived from
    /// this signer's key, `domain` and `index`: Blake2b-256 of a fixed tag, the length and
    /// bytes of `domain`, the signer's key (its Sui base64 form) and `index` (little endian).
    /// The same signer, domain and index always give the same key (and address); nothing
    /// about this signer's key can be learnt from the derived one.
    pub fn derived_client(&self, domain: &[u8], index: u64) -> WalrusClient {
        let key = derive_key(&self.signer, domain, index);
        WalrusClient::from_rpc(self.rpc.clone(), key, self.config.clone())
    }

    /// Transfers SUI and WAL from the signer to each of `payments`, in one transaction: the
    /// SUI is split from the gas coins (the signer's SUI coins covering the gas budget plus
    /// every SUI amount), the WAL from the signer's WAL coins merged into one; each recipient
    /// gets one new coin of each currency it is paid in. Returns the executed transaction
    /// (its [`ExecutedTransaction::gas_cost`] is what the transfer cost in gas).
    pub async fn transfer_funds(
        &self,
        payments: &[Payment],
    ) -> Result<ExecutedTransaction, ClientError> {
        let payments: Vec<&Payment> = payments
            .iter()
            .filter(|payment| payment.sui > 0 || payment.wal > 0)
            .collect();
        if payments.is_empty() {
            return Err(ClientError::Build("nothing to transfer".into()));
        }
        let total_sui = sum(payments.iter().map(|payment| payment.sui), "SUI")?;
        let total_wal = sum(payments.iter().map(|payment| payment.wal), "WAL")?;
        let needed_gas = self
            .config
            .gas_budget
            .checked_add(total_sui)
            .ok_or_else(|| ClientError::Build("the SUI amounts overflow".into()))?;

        let price = self.rpc.clone().get_reference_gas_price().await?;
        let gas = self
            .select_coins(&StructTag::gas_coin(), needed_gas)
            .await?;
        let mut tx = TransactionBuilder::new();
        tx.set_sender(self.address);
        tx.set_gas_price(price);
        tx.set_gas_budget(self.config.gas_budget);
        tx.add_gas_objects(gas.iter().map(RawObject::owned_input));

        let mut coins: Vec<Vec<Argument>> = vec![Vec::new(); payments.len()];
        let sui_paid: Vec<usize> = (0..payments.len())
            .filter(|&i| payments[i].sui > 0)
            .collect();
        if !sui_paid.is_empty() {
            let amounts = sui_paid
                .iter()
                .map(|&i| tx.pure(&payments[i].sui))
                .collect();
            let source = tx.gas();
            let split = tx.split_coins(source, amounts);
            for (&i, coin) in sui_paid.iter().zip(split) {
                coins[i].push(coin);
            }
        }
        let wal_paid: Vec<usize> = (0..payments.len())
            .filter(|&i| payments[i].wal > 0)
            .collect();
        if !wal_paid.is_empty() {
            let source = self.wal_payment(&mut tx, total_wal).await?;
            let amounts = wal_paid
                .iter()
                .map(|&i| tx.pure(&payments[i].wal))
                .collect();
            let split = tx.split_coins(source, amounts);
            for (&i, coin) in wal_paid.iter().zip(split) {
                coins[i].push(coin);
            }
        }
        for (payment, coins) in payments.iter().zip(coins) {
            let recipient = tx.pure(&payment.recipient);
            tx.transfer_objects(coins, recipient);
        }
        self.execute(tx).await
    }

    /// The balance of `owner` in coins of `coin_type` (e.g. `0x2::sui::SUI`).
    pub async fn balance_of(
        &self,
        owner: Address,
        coin_type: &TypeTag,
    ) -> Result<u64, ClientError> {
        let request = pb::GetBalanceRequest::default()
            .with_owner(owner.to_string())
            .with_coin_type(coin_type.to_string());
        let response = self.rpc.clone().state_client().get_balance(request).await?;
        Ok(response.get_ref().balance().balance())
    }

    /// The SUI balance of `owner`, in MIST.
    pub async fn sui_balance_of(&self, owner: Address) -> Result<u64, ClientError> {
        self.balance_of(owner, &TypeTag::Struct(Box::new(StructTag::sui())))
            .await
    }

    /// The WAL balance of `owner`, in FROST.
    pub async fn wal_balance_of(&self, owner: Address) -> Result<u64, ClientError> {
        self.balance_of(owner, &self.config.wal_type()).await
    }

    /// The sequence number of the chain's latest checkpoint.
    pub async fn latest_checkpoint(&self) -> Result<u64, ClientError> {
        let request = pb::GetCheckpointRequest::latest()
            .with_read_mask(FieldMask::from_str("sequence_number"));
        let response = self
            .rpc
            .clone()
            .ledger_client()
            .get_checkpoint(request)
            .await?;
        Ok(response.get_ref().checkpoint().sequence_number())
    }

    /// The SUI (MIST) that the transactions sent by any of `senders` in the checkpoints
    /// `checkpoints` paid for gas, net of storage rebates, from their effects.
    pub async fn gas_paid(
        &self,
        senders: &[Address],
        checkpoints: RangeInclusive<u64>,
    ) -> Result<i64, ClientError> {
        Ok(self.transactions_sent(senders, checkpoints).await?.net_gas)
    }

    /// The transactions sent by any of `senders` in the checkpoints `checkpoints`: how many,
    /// and the SUI (MIST) they paid for gas, net of storage rebates, from their effects.
    pub async fn transactions_sent(
        &self,
        senders: &[Address],
        checkpoints: RangeInclusive<u64>,
    ) -> Result<SentTransactions, ClientError> {
        let mut sent = SentTransactions::default();
        for sequence_number in checkpoints {
            let request = pb::GetCheckpointRequest::by_sequence_number(sequence_number)
                .with_read_mask(FieldMask::from_str(GAS_CHECKPOINT_MASK));
            let response = self
                .rpc
                .clone()
                .ledger_client()
                .get_checkpoint(request)
                .await?;
            for transaction in &response.get_ref().checkpoint().transactions {
                let sender =
                    Address::from_str(transaction.transaction().sender()).map_err(|error| {
                        ClientError::Decode(format!("a transaction's sender: {error}"))
                    })?;
                if !senders.contains(&sender) {
                    continue;
                }
                let effects: TransactionEffects =
                    bcs::from_bytes(transaction.effects().bcs().value())
                        .map_err(|error| ClientError::Decode(format!("effects: {error}")))?;
                sent.count += 1;
                sent.net_gas = sent
                    .net_gas
                    .saturating_add(effects.gas_summary().net_gas_usage());
            }
        }
        Ok(sent)
    }
}

/// What [`WalrusClient::transactions_sent`] counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SentTransactions {
    /// Transactions.
    pub count: u64,
    /// SUI (MIST) paid for gas, net of storage rebates.
    pub net_gas: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(key: &Ed25519PrivateKey) -> Address {
        key.public_key().derive_address()
    }

    #[test]
    fn derived_keys_are_deterministic_and_distinct() {
        let main = Ed25519PrivateKey::new([7; 32]);
        let first = derive_key(&main, b"pool", 0);
        assert_eq!(
            address(&first),
            address(&derive_key(&Ed25519PrivateKey::new([7; 32]), b"pool", 0))
        );
        let addresses = [
            address(&main),
            address(&first),
            address(&derive_key(&main, b"pool", 1)),
            address(&derive_key(&main, b"poo", 0)),
            address(&derive_key(&main, b"pool", 1 << 32)),
            address(&derive_key(&Ed25519PrivateKey::new([8; 32]), b"pool", 0)),
        ];
        for (i, a) in addresses.iter().enumerate() {
            for b in &addresses[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn amounts_are_summed_without_overflow() {
        assert_eq!(sum([1, 2, 3].into_iter(), "SUI").unwrap(), 6);
        assert!(matches!(
            sum([u64::MAX, 1].into_iter(), "WAL"),
            Err(ClientError::Build(message)) if message.contains("WAL")
        ));
    }
}
