//! `walrus blob-id`: a file's blob ID, offline; `walrus convert-blob-id`: a blob ID between
//! its decimal (the chain's `u256`) and base64url forms.

use std::{io::Write, path::PathBuf};

use anyhow::{bail, Context as _, Result};
use clap::Args;
use walrus_core::BlobId;
use walrus_sdk::blob_id::{blob_id_of_file, BlobIdOutput};

use crate::common::{spinner, Context};

/// Compute the blob ID of a file offline, without storing it.
///
/// The ID depends on the file's bytes and on the number of shards of the network, exactly
/// as on Walrus (RS2 encoding): the same bytes and shard count give the same ID.
#[derive(Debug, Args)]
pub struct BlobIdArgs {
    /// The file to compute the blob ID of.
    file: PathBuf,
    /// The number of shards of the network (Walrus mainnet and testnet use 1000).
    #[arg(long, value_name = "N")]
    n_shards: Option<u16>,
}

impl BlobIdArgs {
    /// Computes and prints the blob ID.
    pub fn run(self, context: &Context) -> Result<()> {
        let Some(n_shards) = self.n_shards else {
            bail!("no shard count: pass --n-shards N (Walrus mainnet and testnet use 1000)");
        };
        let spinner = spinner("computing the blob ID");
        let output = blob_id_of_file(&self.file, n_shards)
            .with_context(|| format!("computing the blob ID of '{}'", self.file.display()))?;
        spinner.finish_and_clear();
        print_blob_id(&output, context.json)
    }
}

fn print_blob_id(output: &BlobIdOutput, json: bool) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut stdout, output)?;
        writeln!(stdout)?;
    } else {
        writeln!(
            stdout,
            "Success: Blob from file '{}' encoded successfully.\nUnencoded size: {}\nBlob ID: {}\nEncoding type: {}\nEncoded size: {} (for {} shards)",
            output.file.display(),
            output.unencoded_length,
            output.blob_id,
            output.encoding_type,
            output.encoded_length,
            output.n_shards,
        )?;
    }
    Ok(())
}

/// Convert a blob ID between its decimal form and its base64url form
///
/// The chain stores a blob ID as a `u256` (shown in decimal by explorers); Walrus writes it
/// as the unpadded URL-safe base64 of its 32 little-endian bytes. A decimal number is
/// converted to the blob ID; a blob ID to its decimal number.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ConvertBlobIdArgs {
    /// The decimal number (or the base64url blob ID) to convert.
    #[arg(allow_hyphen_values = true)]
    blob_id_decimal: String,
}

impl ConvertBlobIdArgs {
    /// Converts and prints the other form (as a JSON string with `--json`).
    pub fn run(self, context: &Context) -> Result<()> {
        let converted = convert_blob_id(self.blob_id_decimal.trim())?;
        if context.json {
            println!("{}", serde_json::to_string(&converted)?);
        } else {
            println!("{converted}");
        }
        Ok(())
    }
}

/// The blob ID of a decimal `u256`, or the decimal `u256` of a blob ID.
fn convert_blob_id(text: &str) -> Result<String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let bytes = decimal_to_le_bytes(text)
            .with_context(|| format!("{text} is larger than a blob ID can be (2^256 - 1)"))?;
        return Ok(BlobId(bytes).to_string());
    }
    match text.parse::<BlobId>() {
        Ok(blob_id) => Ok(le_bytes_to_decimal(blob_id.0)),
        Err(_) => bail!("'{text}' is neither a decimal number nor a blob ID"),
    }
}

/// The 32 little-endian bytes of the decimal number `digits`, or `None` above 2^256 - 1.
fn decimal_to_le_bytes(digits: &str) -> Option<[u8; 32]> {
    let mut bytes = [0u8; 32];
    for digit in digits.bytes() {
        let mut carry = u16::from(digit - b'0');
        for byte in &mut bytes {
            let value = u16::from(*byte) * 10 + carry;
            *byte = value.to_le_bytes()[0];
            carry = value >> 8;
        }
        if carry != 0 {
            return None;
        }
    }
    Some(bytes)
}

/// The decimal number of 32 little-endian bytes.
fn le_bytes_to_decimal(mut bytes: [u8; 32]) -> String {
    let mut digits = Vec::new();
    while bytes.iter().any(|byte| *byte != 0) {
        let mut remainder = 0u16;
        for byte in bytes.iter_mut().rev() {
            let value = (remainder << 8) | u16::from(*byte);
            // `value` < 2560: the quotient fits a byte.
            *byte = u8::try_from(value / 10).unwrap_or(u8::MAX);
            remainder = value % 10;
        }
        digits.push(b'0' + remainder.to_le_bytes()[0]);
    }
    if digits.is_empty() {
        return "0".to_owned();
    }
    digits
        .iter()
        .rev()
        .map(|digit| char::from(*digit))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_and_base64url_blob_ids_convert_both_ways() {
        // 1 is the byte 1 followed by 31 zero bytes.
        let one = convert_blob_id("1").unwrap();
        assert_eq!(
            one,
            BlobId({
                let mut b = [0; 32];
                b[0] = 1;
                b
            })
            .to_string()
        );
        assert_eq!(convert_blob_id(&one).unwrap(), "1");
        assert_eq!(convert_blob_id("0").unwrap(), BlobId([0; 32]).to_string());
        // 258 = 0x0102: little-endian bytes 2, 1.
        let id = convert_blob_id("258").unwrap();
        assert_eq!(&id.parse::<BlobId>().unwrap().0[..3], &[2, 1, 0]);
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        let max_id = convert_blob_id(max).unwrap();
        assert_eq!(max_id.parse::<BlobId>().unwrap().0, [0xff; 32]);
        assert_eq!(convert_blob_id(&max_id).unwrap(), max);
        let too_large =
            "115792089237316195423570985008687907853269984665640564039457584007913129639936";
        assert!(convert_blob_id(too_large)
            .unwrap_err()
            .to_string()
            .contains("2^256 - 1"));
        for text in ["", "-1", "1.5", "not a blob id"] {
            assert!(convert_blob_id(text).is_err(), "{text:?}");
        }
        // Round trips of arbitrary IDs.
        for seed in 0u8..20 {
            let bytes: [u8; 32] = std::array::from_fn(|i| {
                seed.wrapping_mul(37)
                    .wrapping_add(u8::try_from(i).unwrap().wrapping_mul(11))
            });
            let decimal = le_bytes_to_decimal(bytes);
            assert_eq!(decimal_to_le_bytes(&decimal), Some(bytes));
        }
    }
}
