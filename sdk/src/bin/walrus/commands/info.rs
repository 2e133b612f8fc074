//! `walrus info`: the network as the chain describes it.

use anyhow::Result;
use clap::Args;

use crate::common::Context;

/// The current epoch, committee, shards and prices.
#[derive(Debug, Args)]
pub struct InfoArgs {}

impl InfoArgs {
    /// Prints the epoch, shards, prices and storage nodes.
    pub fn run(self, context: &Context) -> Result<()> {
        let (view, system) = context
            .with_sdk(async |sdk| Ok((sdk.committee().await?, sdk.chain().system().await?)))?;
        let members: Vec<serde_json::Value> = view
            .members
            .iter()
            .map(|member| {
                serde_json::json!({
                    "nodeId": member.node_id.to_string(),
                    "url": member.url,
                    "shards": member.shards.iter().map(|s| s.0).collect::<Vec<_>>(),
                })
            })
            .collect();
        if context.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "epoch": view.epoch,
                    "nShards": view.n_shards,
                    "storagePricePerUnitSize": system.storage_price_per_unit_size,
                    "writePricePerUnitSize": system.write_price_per_unit_size,
                    "maxEpochsAhead": system.max_epochs_ahead,
                    "members": members,
                }))?
            );
        } else {
            println!(
                "Epoch: {}\nShards: {}\nStorage price: {} FROST per MiB per epoch\nWrite price: {} FROST per MiB\nStorage nodes:",
                view.epoch,
                view.n_shards,
                system.storage_price_per_unit_size,
                system.write_price_per_unit_size
            );
            for member in &view.members {
                println!(
                    "  {} at {}: {} shards",
                    member.node_id,
                    member.url,
                    member.shards.len()
                );
            }
        }
        Ok(())
    }
}
