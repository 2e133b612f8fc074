//! A publisher whose chain is unreachable, for the in-process tests.

use walrus_chain::client::ChainConnection;
use walrus_publisher::{Publisher, PublisherConfig};
use walrus_sdk::{
    client::{SdkConfig, WalrusSdk},
    config::ClientConfig,
};

/// An SDK whose chain is an unused local port (nothing listens; construction does not connect).
pub fn offline_sdk() -> WalrusSdk {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = ClientConfig {
        wallet_private_key: "07".repeat(32),
        chain: ChainConnection {
            rpc_url: format!("http://127.0.0.1:{port}"),
            wal_package: "0xa11".into(),
            walrus_package: "0xa12".into(),
            system_object: "0x5".into(),
            staking_object: "0x7".into(),
            initial_shared_version: 1,
        },
    };
    WalrusSdk::new(config.chain_client().unwrap(), SdkConfig::default())
}

/// A publisher over [`offline_sdk`].
pub fn publisher(config: PublisherConfig) -> Publisher {
    Publisher::new(offline_sdk(), config)
}
