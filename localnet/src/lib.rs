//! `walrus-localnet`: a whole local Walrus network (the chain of `walrus-localchain`, storage
//! nodes, publisher, aggregator) as child processes in one resumable directory
//! ([`network::Network`], `walrus-localnet start`), operated from other shells through pid
//! files ([`network::NetworkDir`]). The `walrus-localnet` binary runs such a network, or the
//! chain alone (`walrus-localnet chain`, `walrus_localchain::launcher::run_chain`).

pub mod network;
