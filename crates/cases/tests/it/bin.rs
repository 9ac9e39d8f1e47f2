//! The standalone `flexcord-cases` binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_flexcord-cases");

#[test]
fn refuses_to_start_without_a_token() {
    let output = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--db", "sqlite::memory:"])
        .env_remove("FLEXCORD_CASES_TOKEN")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("FLEXCORD_CASES_TOKEN"));
    let output = Command::new(BIN).arg("--bogus").output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown argument `--bogus`"));
}

#[tokio::test]
async fn serves_the_api_on_the_printed_address() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("bin.db").display());
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--db", &db])
        .env("FLEXCORD_CASES_TOKEN", crate::common::TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .expect("address line")
        .to_owned();
    let client = flexcord_cases::CaseClient::new(&base, crate::common::TOKEN).expect("client");
    let result = flexcord_cases::CaseStore::create(
        &client,
        crate::common::new_case(flexcord_cases::CaseKind::Bug, "from the binary"),
    )
    .await;
    child.kill().expect("kill");
    child.wait().expect("reaped");
    assert_eq!(result.expect("created").number.get(), 1);
}
