// Drives our storage nodes with the public Walrus TypeScript clients: the storage-node client
// of `@mysten/walrus` (its REST calls and error classes) and the RS2 encoder/decoder and BLS
// functions of `@mysten/walrus-wasm` (through `@mysten/walrus`'s own bindings).
//
// Run by `e2e/tests/public_ts_client.rs`:
//   node storage-node-client.mjs <read|errors|write> <input.json>
// The input names the committee (`nodes: [{url, shards, publicKey}]` in committee order, with
// the BLS public key in base64) and `nShards`, plus per mode:
//   read:   `blobId`, `dataFile` (the bytes the blob must decode to)
//   errors: nothing more
//   write:  `blobId` (registered, not uploaded), `dataFile` (its bytes)
// Each mode checks what it can itself (failing with a message and exit code 1) and prints one
// JSON object on stdout for the Rust test to check against the chain and the nodes.

import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';

import { fromBase64, toBase64 } from '@mysten/bcs';
import { BadRequestError, BlobNotRegisteredError, NotFoundError } from '@mysten/walrus';

// The storage-node client and the helpers below are what `WalrusClient` uses internally; the
// package does not export them by name, so they are imported from the package's own files.
import { StorageNodeClient } from './node_modules/@mysten/walrus/dist/storage-node/client.mjs';
import { getWasmBindings } from './node_modules/@mysten/walrus/dist/wasm.mjs';
import { getSourceSymbols, toPairIndex } from './node_modules/@mysten/walrus/dist/utils/index.mjs';

const [mode, inputPath] = process.argv.slice(2);
const input = JSON.parse(await readFile(inputPath, 'utf8'));
const client = new StorageNodeClient({ timeout: 20_000 });
const wasm = await getWasmBindings();

function check(condition, message) {
  if (!condition) {
    throw new Error(`check failed: ${message}`);
  }
}

function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The sliver pair indices of `node` for `blobId` (its shards, rotated by the blob ID). */
function pairsOf(node, blobId) {
  return node.shards.map((shard) => toPairIndex(shard, blobId, input.nShards));
}

/** Metadata, status and primary slivers read with the public client, decoded by the WASM decoder. */
async function read() {
  const { blobId, nShards } = input;
  const data = new Uint8Array(await readFile(input.dataFile));
  const statuses = [];
  for (const node of input.nodes) {
    const status = await client.getBlobStatus({ blobId }, { nodeUrl: node.url });
    statuses.push(status.type);
  }
  const withId = await client.getBlobMetadata({ blobId }, { nodeUrl: input.nodes[0].url });
  check(withId.blobId === blobId, `metadata of ${withId.blobId}, asked ${blobId}`);
  const unencodedLength = Number(withId.metadata.V1.unencoded_length);
  check(unencodedLength === data.length, `unencoded length ${unencodedLength} != ${data.length}`);
  check(withId.metadata.V1.hashes.length === nShards, 'one hash pair per shard');
  const metadataStatus = await client.getMetadataStatus({ blobId }, { nodeUrl: input.nodes[0].url });

  const { primarySymbols } = getSourceSymbols(nShards);
  const slivers = [];
  const sliverStatuses = [];
  for (const node of input.nodes) {
    for (const sliverPairIndex of pairsOf(node, blobId)) {
      const args = { blobId, sliverPairIndex, sliverType: 'primary' };
      slivers.push(await client.getSliver(args, { nodeUrl: node.url }));
      sliverStatuses.push(await client.getSliverStatus(args, { nodeUrl: node.url }));
    }
  }
  check(slivers.length === nShards, `${slivers.length} primary slivers for ${nShards} shards`);
  // The decoder needs any `primarySymbols` of them: give it exactly that many, the last ones.
  const used = slivers.slice(nShards - primarySymbols);
  const decoded = wasm.decodePrimarySlivers(blobId, nShards, data.length, used);
  check(sha256(decoded) === sha256(data), 'the decoded blob equals the stored bytes');
  return {
    statuses,
    metadataStatus,
    sliverStatuses,
    slivers_fetched: slivers.length,
    slivers_decoded_from: used.length,
    decoded_sha256: sha256(decoded),
  };
}

/** The class the public client gives the node's answer to `request`, or `ok`. */
async function errorClass(request) {
  try {
    await request();
    return 'ok';
  } catch (error) {
    for (const known of [BlobNotRegisteredError, BadRequestError, NotFoundError]) {
      if (error instanceof known) {
        return known.name;
      }
    }
    return `${error.constructor.name}: ${error.message}`;
  }
}

/** Refusals as the public client classifies them. */
async function errors() {
  const { nShards } = input;
  const nodeUrl = input.nodes[0].url;
  // A blob nobody registered: encoded here, so its metadata is well formed.
  const bytes = new TextEncoder().encode(`never registered ${Date.now()}`);
  const { blobId, metadata, primarySlivers } = wasm.encodeBlob(nShards, bytes);
  const pair = pairsOf(input.nodes[0], blobId)[0];
  return {
    store_unregistered_metadata: await errorClass(() =>
      client.storeBlobMetadata({ blobId, metadata }, { nodeUrl }),
    ),
    store_unregistered_sliver: await errorClass(() =>
      client.storeSliver(
        { blobId, sliverPairIndex: pair, sliverType: 'primary', sliver: primarySlivers[pair] },
        { nodeUrl },
      ),
    ),
    get_unknown_metadata: await errorClass(() => client.getBlobMetadata({ blobId }, { nodeUrl })),
    get_unknown_status: (await client.getBlobStatus({ blobId }, { nodeUrl })).type,
  };
}

/** A registered blob encoded by the WASM encoder, uploaded and confirmed with the public client. */
async function write() {
  const { blobId: registered, nShards } = input;
  const data = new Uint8Array(await readFile(input.dataFile));
  const { blobId, metadata, primarySlivers, secondarySlivers } = wasm.encodeBlob(nShards, data);
  check(blobId === registered, `the WASM encoder gives ${blobId}, registered ${registered}`);
  const verify = wasm.getVerifySignature();
  const confirmations = [];
  const signers = [];
  const uploaded = [];
  for (const [index, node] of input.nodes.entries()) {
    const nodeUrl = node.url;
    await client.storeBlobMetadata({ blobId, metadata }, { nodeUrl });
    let slivers = 0;
    for (const sliverPairIndex of pairsOf(node, blobId)) {
      for (const [sliverType, sliver] of [
        ['primary', primarySlivers[sliverPairIndex]],
        ['secondary', secondarySlivers[sliverPairIndex]],
      ]) {
        await client.storeSliver({ blobId, sliverPairIndex, sliverType, sliver }, { nodeUrl });
        slivers += 1;
      }
    }
    uploaded.push(slivers);
    const answer = await client.getPermanentBlobConfirmation({ blobId }, { nodeUrl });
    const signed = answer?.success?.data?.signed;
    check(signed, `node ${index} signed no confirmation: ${JSON.stringify(answer)}`);
    check(verify(signed, fromBase64(node.publicKey)), `node ${index}'s signature verifies`);
    confirmations.push(signed);
    signers.push(index);
  }
  const certificate = wasm.combineSignatures(confirmations, signers);
  return {
    blobId,
    uploaded,
    signers: certificate.signers,
    serializedMessage: toBase64(certificate.serializedMessage),
    signature: toBase64(certificate.signature),
  };
}

const modes = { read, errors, write };
if (!(mode in modes)) {
  console.error(`usage: node storage-node-client.mjs <${Object.keys(modes).join('|')}> <input.json>`);
  process.exit(2);
}
try {
  console.log(JSON.stringify(await modes[mode]()));
} catch (error) {
  console.error(error?.stack ?? String(error));
  process.exit(1);
}
