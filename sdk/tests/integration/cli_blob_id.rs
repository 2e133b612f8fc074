//! `walrus blob-id` as a process: the IDs of the Walrus vectors, the JSON shape, and clear
//! errors for bad input.

use std::process::Command;

fn walrus() -> Command {
    Command::new(env!("CARGO_BIN_EXE_walrus"))
}

fn vector_input(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from((i * 31 + 7) % 256).expect("a value mod 256 fits in u8"))
        .collect()
}

#[test]
fn prints_the_walrus_blob_id() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            1000usize,
            10u16,
            "NA38dUWWHV59ZG8-bYpQYJtjaHSVD3imYbymO1Oyhns",
        ),
        (0, 4, "CmzciFdWJP1IIM-rD3cqXlVBXYM0fpAfHahZBvkaZUI"),
    ];
    for (len, n_shards, expected) in cases {
        let path = dir.path().join(format!("blob-{len}"));
        std::fs::write(&path, vector_input(len)).unwrap();
        let output = walrus()
            .args([
                "blob-id",
                path.to_str().unwrap(),
                "--n-shards",
                &n_shards.to_string(),
            ])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert!(stdout.contains(&format!("Blob ID: {expected}")), "{stdout}");
    }
}

#[test]
fn json_output_has_walrus_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob");
    std::fs::write(&path, vector_input(65537)).unwrap();
    let output = walrus()
        .args([
            "blob-id",
            path.to_str().unwrap(),
            "--n-shards",
            "100",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["blobId"].as_str().unwrap().len(), 43);
    assert_eq!(json["unencodedLength"], 65537);
    assert_eq!(json["encodingType"], "RS2");
    assert_eq!(json["symbolSize"], 30);
    assert_eq!(json["encodedLength"], 946200);
    assert_eq!(json["nShards"], 100);
    assert_eq!(json["rootHash"].as_str().unwrap().len(), 64);
    assert_eq!(json["file"], path.to_str().unwrap());
}

#[test]
fn bad_input_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    std::fs::write(&big, vector_input(1_000_000)).unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["blob-id", "/no/such/file", "--n-shards", "10"],
            "cannot read",
        ),
        (
            &["blob-id", big.to_str().unwrap(), "--n-shards", "4"],
            "too large",
        ),
        (
            &["blob-id", big.to_str().unwrap(), "--n-shards", "0"],
            "invalid shard count",
        ),
        (&["blob-id", big.to_str().unwrap()], "--n-shards"),
    ];
    for (args, message) in cases {
        let output = walrus().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
