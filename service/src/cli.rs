//! The command-line options the HTTP services that act through the SDK share (feature `cli`):
//! the client configuration and the listen address ([`ServiceArgs`]), flattened into each
//! binary's options.

use std::{net::SocketAddr, path::PathBuf};

use tokio::net::TcpListener;
use walrus_sdk::{
    client::{SdkConfig, WalrusSdk},
    config::{ClientConfig, ConfigError},
};

/// The client configuration and the listen address of a service. A binary flattens them into
/// its options (`#[command(flatten)]`) and gives `--listen` its default with
/// `#[command(mut_arg("listen", default_listen(DEFAULT_LISTEN)))]`.
#[derive(Debug, clap::Args)]
pub struct ServiceArgs {
    /// The client configuration (TOML: wallet key and chain connection); default
    /// `$XDG_CONFIG_HOME/walrus/client.toml` or `~/.config/walrus/client.toml`.
    #[arg(long, short, env = "WALRUS_CONFIG")]
    pub config: Option<PathBuf>,
    /// The address to listen on.
    #[arg(long)]
    pub listen: SocketAddr,
}

/// Gives the `--listen` option of [`ServiceArgs`] the default `address` (see there).
pub fn default_listen(address: &'static str) -> impl FnOnce(clap::Arg) -> clap::Arg {
    move |arg| arg.default_value(address).required(false)
}

/// Why a service cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The client configuration is missing or unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The chain client cannot be created from the configuration.
    #[error("cannot create the chain client: {0}")]
    Chain(String),
    /// The listen address cannot be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

impl ServiceArgs {
    /// The SDK over the chain of the client configuration, paying with its wallet.
    pub fn sdk(&self) -> Result<WalrusSdk, StartError> {
        let chain = ClientConfig::load(self.config.as_deref())?
            .chain_client()
            .map_err(StartError::Chain)?;
        Ok(WalrusSdk::new(chain, SdkConfig::default()))
    }

    /// Binds the listen address: the listener and the address it is bound to.
    pub async fn bind(&self) -> Result<(TcpListener, SocketAddr), StartError> {
        let listen_error = |source| StartError::Listen {
            address: self.listen,
            source,
        };
        let listener = TcpListener::bind(self.listen).await.map_err(listen_error)?;
        let address = listener.local_addr().map_err(listen_error)?;
        Ok((listener, address))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    #[command(mut_arg("listen", default_listen("127.0.0.1:0")))]
    struct Cli {
        #[command(flatten)]
        service: ServiceArgs,
    }

    #[tokio::test]
    async fn the_listen_address_has_the_binary_default_and_binds() {
        let cli = Cli::try_parse_from(["service"]).unwrap();
        assert_eq!(cli.service.listen, "127.0.0.1:0".parse().unwrap());
        let (_listener, address) = cli.service.bind().await.unwrap();
        assert_ne!(address.port(), 0);
        let cli = Cli::try_parse_from(["service", "--listen", "127.0.0.1:9", "-c", "x.toml"]);
        let cli = cli.unwrap();
        assert_eq!(cli.service.listen.port(), 9);
        assert!(matches!(cli.service.sdk(), Err(StartError::Config(_))));
    }
}
