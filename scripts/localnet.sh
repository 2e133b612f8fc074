#!/usr/bin/env bash
# Brings up a whole local Walrus network in the background (chain with faucet, storage nodes,
# publisher, aggregator: real processes on 127.0.0.1) and stores and reads a sample file,
# through the `walrus` CLI and through the publisher and aggregator with curl.
#
# Environment: LOCALNET_DIR (default ./.localnet), LOCALNET_NODES (10), LOCALNET_SHARDS (100),
# SAMPLE_FILE (default README.md). Running it again reuses the running network, or resumes a
# stopped one from its directory with all its data.
# Stop the network: target/release/walrus-localnet stop --dir .localnet
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${LOCALNET_DIR:-$PWD/.localnet}"
nodes="${LOCALNET_NODES:-10}"
shards="${LOCALNET_SHARDS:-100}"
sample="${SAMPLE_FILE:-README.md}"
bin="${CARGO_TARGET_DIR:-$PWD/target}/release"

echo "==> building (cargo build --release --bins)"
cargo build --release --bins -q

running() { [[ -f "$dir/supervisor.pid" ]] && kill -0 "$(cat "$dir/supervisor.pid")" 2>/dev/null; }

if running; then
  echo "==> the network in $dir is already running"
else
  mkdir -p "$dir"
  echo "==> starting $nodes storage nodes with $shards shards in $dir (log: $dir/supervisor.log)"
  nohup "$bin/walrus-localnet" start --dir "$dir" --nodes "$nodes" --shards "$shards" \
    >"$dir/supervisor.log" 2>&1 </dev/null &
  supervisor=$!
  for _ in $(seq 1 600); do
    if running; then break; fi
    if ! kill -0 "$supervisor" 2>/dev/null; then
      echo "the network failed to start:" >&2
      tail -n 40 "$dir/supervisor.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  running || { echo "the network did not start within 120 s; see $dir/supervisor.log" >&2; exit 1; }
  sed -n '/^Walrus local network/,$p' "$dir/supervisor.log"
fi

walrus=("$bin/walrus" --config "$dir/client.toml")
echo "==> walrus store $sample --epochs 2"
store_output="$("${walrus[@]}" store "$sample" --epochs 2)"
echo "$store_output"
blob_id="$(sed -n 's/^Blob ID: //p' <<<"$store_output")"
echo "==> walrus read $blob_id"
"${walrus[@]}" read "$blob_id" --out "$dir/sample.read"
cmp "$sample" "$dir/sample.read"
echo "read back $(wc -c <"$dir/sample.read") bytes: identical"

publisher="$(sed -n 's/.*"publisher_url": "\(.*\)".*/\1/p' "$dir/localnet.json")"
aggregator="$(sed -n 's/.*"aggregator_url": "\(.*\)".*/\1/p' "$dir/localnet.json")"
if command -v curl >/dev/null && [[ -n "$publisher" && -n "$aggregator" ]]; then
  echo "==> curl -X PUT --upload-file $sample $publisher/v1/blobs"
  answer="$(curl -sS -X PUT --upload-file "$sample" "$publisher/v1/blobs")"
  echo "$answer"
  http_blob_id="$(sed -n 's/.*"blobId":"\([^"]*\)".*/\1/p' <<<"$answer")"
  echo "==> curl $aggregator/v1/blobs/$http_blob_id"
  curl -sS -o "$dir/sample.http" "$aggregator/v1/blobs/$http_blob_id"
  cmp "$sample" "$dir/sample.http"
  echo "read back through the aggregator: identical"
fi

cat <<EOF

The network keeps running. Next:
  $bin/walrus --config $dir/client.toml --help
  $bin/walrus-localnet node stop|kill|start|wipe I --dir $dir
  $bin/walrus-localnet stop --dir $dir
EOF
