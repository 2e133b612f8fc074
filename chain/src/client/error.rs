//! [`ClientError`]: what a chain-client call can fail with. Move aborts are kept apart from
//! other rejections of a transaction and from transport errors.

use sui_rpc::proto::sui::rpc::v2 as pb;

/// An error of the chain client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A Move call of the transaction aborted (nothing was applied on the localnet; on Sui the
    /// transaction failed and only gas was charged).
    #[error("Move abort in {module} with code {code} ({name}) at command {command:?}")]
    MoveAbort {
        /// The aborting module, e.g. `system`.
        module: String,
        /// The abort code.
        code: u64,
        /// The name of the error constant (e.g. `EAlreadyCertified`), empty if unknown.
        name: String,
        /// The index of the failing command, if reported.
        command: Option<u64>,
    },
    /// The chain refused the transaction for another reason (stale objects, gas, signature,
    /// command errors ...): the chain's message.
    #[error("transaction rejected ({code:?}): {message}")]
    Rejected {
        /// The gRPC code of the rejection (or `Unknown` for a failed execution status).
        code: tonic::Code,
        /// The chain's message.
        message: String,
    },
    /// The RPC itself failed (connection, unavailable, internal error, ...).
    #[error("RPC error: {0}")]
    Rpc(Box<tonic::Status>),
    /// The transaction was executed, but waiting for its checkpoint failed.
    #[error("transaction {digest} executed, but waiting for its checkpoint failed: {reason}")]
    CheckpointWait {
        /// The transaction digest.
        digest: String,
        /// What went wrong.
        reason: String,
    },
    /// An object was not found, or not of the expected type.
    #[error("object not found: {0}")]
    NotFound(String),
    /// The signer's coins do not cover an amount.
    #[error("insufficient funds: {0}")]
    InsufficientFunds(String),
    /// A response could not be decoded (missing fields, bad BCS).
    #[error("cannot decode the response: {0}")]
    Decode(String),
    /// The transaction could not be built or signed, or an argument is invalid.
    #[error("cannot build the transaction: {0}")]
    Build(String),
}

impl From<tonic::Status> for ClientError {
    fn from(status: tonic::Status) -> Self {
        ClientError::Rpc(Box::new(status))
    }
}

impl ClientError {
    /// Module, code and name if this is a Move abort.
    pub fn move_abort(&self) -> Option<(&str, u64, &str)> {
        match self {
            ClientError::MoveAbort {
                module, code, name, ..
            } => Some((module, *code, name)),
            _ => None,
        }
    }

    /// The error of an `execute_transaction` call that the server refused: a Move abort if the
    /// message reports one (the localnet's `command N: MoveAbort(walrus::module, code): Name`),
    /// a rejection for the codes a chain uses to refuse a transaction, a transport error
    /// otherwise.
    pub(crate) fn from_execution_status(status: tonic::Status) -> Self {
        use tonic::Code;
        match status.code() {
            Code::InvalidArgument | Code::FailedPrecondition | Code::AlreadyExists => {
                if let Some(abort) = parse_abort(status.message()) {
                    return abort;
                }
                ClientError::Rejected {
                    code: status.code(),
                    message: status.message().to_owned(),
                }
            }
            _ => ClientError::from(status),
        }
    }

    /// The error of a failed execution status (Sui commits failed transactions).
    pub(crate) fn from_failed_status(status: &pb::ExecutionStatus) -> Self {
        let error = status.error();
        if let Some(pb::execution_error::ErrorDetails::Abort(abort)) = &error.error_details {
            let location = abort.location();
            return ClientError::MoveAbort {
                module: location.module().to_owned(),
                code: abort.abort_code(),
                name: abort.clever_error().constant_name().to_owned(),
                command: error.command,
            };
        }
        if let Some(abort) = parse_abort(error.description()) {
            return abort;
        }
        ClientError::Rejected {
            code: tonic::Code::Unknown,
            message: error.description().to_owned(),
        }
    }
}

/// Parses `[command N: ]MoveAbort(package::module, code): Name`.
fn parse_abort(message: &str) -> Option<ClientError> {
    let start = message.find("MoveAbort(")?;
    let command = message[..start]
        .trim()
        .trim_end_matches(':')
        .rsplit("command ")
        .next()
        .and_then(|index| index.trim().parse().ok());
    let rest = &message[start + "MoveAbort(".len()..];
    let close = rest.find(')')?;
    let (location, code) = rest[..close].split_once(',')?;
    let module = location.rsplit("::").next()?.trim().to_owned();
    let code = code.trim().parse().ok()?;
    let name = rest[close + 1..]
        .trim_start_matches(':')
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_owned();
    Some(ClientError::MoveAbort {
        module,
        code,
        name,
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_localnets_abort_message() {
        let error = parse_abort("command 2: MoveAbort(walrus::system, 6): EAlreadyCertified");
        match error {
            Some(ClientError::MoveAbort {
                module,
                code,
                name,
                command,
            }) => {
                assert_eq!(
                    (module.as_str(), code, name.as_str(), command),
                    ("system", 6, "EAlreadyCertified", Some(2))
                );
            }
            other => panic!("not parsed: {other:?}"),
        }
        assert!(parse_abort("object 0x1 does not exist").is_none());
        let status = tonic::Status::unavailable("connection refused");
        assert!(matches!(
            ClientError::from_execution_status(status),
            ClientError::Rpc(_)
        ));
        let status = tonic::Status::failed_precondition("stale object reference");
        assert!(matches!(
            ClientError::from_execution_status(status),
            ClientError::Rejected { .. }
        ));
    }
}
