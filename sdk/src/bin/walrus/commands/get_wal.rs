//! `walrus get-wal`: WAL for the wallet from the network's faucet.

use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use serde_json::Value;

use crate::{common::Context, wal::describe_wal};

/// Deadline of the faucet request.
const FAUCET_TIMEOUT: Duration = Duration::from_secs(30);

/// Get WAL for the wallet from the network's faucet
///
/// On Walrus testnet, `get-wal` exchanges SUI for WAL through an exchange object. This
/// network has no exchange: its faucet (`walrus-localnet` serves one, its URL is
/// `faucetUrl` in `localnet.json`) grants WAL directly, which is what this command asks
/// for. Faucets limit how much and how often they grant.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct GetWalArgs {
    /// The faucet's base URL (e.g. `http://127.0.0.1:9123`).
    #[arg(long, value_name = "URL")]
    faucet_url: String,
    /// The amount of FROST (1 WAL = 10^9 FROST) to ask for.
    #[arg(long, default_value_t = 500_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    amount: u64,
}

impl GetWalArgs {
    /// Asks the faucet for WAL for the wallet's address and prints the grant.
    pub fn run(self, context: &Context) -> Result<()> {
        let url = format!("{}/v1/gas", self.faucet_url.trim_end_matches('/'));
        let amount = self.amount;
        let (address, answer, balance) = context.with_sdk(async |sdk| {
            let address = sdk.chain().address();
            let http = reqwest::Client::builder()
                .timeout(FAUCET_TIMEOUT)
                .no_proxy()
                .build()
                .context("building the HTTP client")?;
            let response = http
                .post(&url)
                .json(&serde_json::json!({
                    "recipient": address.to_string(),
                    "sui": 0,
                    "wal": amount,
                }))
                .send()
                .await
                .with_context(|| format!("asking the faucet at {url}"))?;
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            if !status.is_success() {
                let reason = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|body| {
                        body.pointer("/error/message")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                    .unwrap_or(text);
                bail!("the faucet refused (HTTP {status}): {reason}");
            }
            let answer: Value = serde_json::from_str(&text)
                .with_context(|| format!("the faucet answered something else than JSON: {text}"))?;
            let balance = sdk.chain().wal_balance().await?;
            Ok((address, answer, balance))
        })?;
        let digest = answer
            .get("transaction_digest")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if context.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "recipient": address.to_string(),
                    "amountFrost": amount,
                    "transactionDigest": digest,
                    "walBalance": balance,
                }))?
            );
        } else {
            println!(
                "Success: the faucet sent {} to {address} (transaction {digest}).\nWAL balance: {}",
                describe_wal(amount),
                describe_wal(balance)
            );
        }
        Ok(())
    }
}
