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
    assert!(String::from_utf8_lossy(&output.stderr).contains("unexpected argument '--bogus'"));
    // The token and its file at once: refused without showing the token.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("token");
    std::fs::write(&file, "a-token-in-a-file-0123456789\n").expect("written");
    let output = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--db", "sqlite::memory:"])
        .env("FLEXCORD_CASES_TOKEN", "an-inline-token-0123456789")
        .env("FLEXCORD_CASES_TOKEN_FILE", &file)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("both set"), "{stderr}");
    assert!(!stderr.contains("an-inline-token"), "{stderr}");
}

#[test]
fn help_lists_the_options_and_exits_0() {
    for args in [&["--help"][..], &["serve", "--help"], &["help"]] {
        let output = Command::new(BIN).args(args).output().expect("runs");
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        for option in ["--listen", "--db", "--web-prefix"] {
            assert!(stdout.contains(option), "{option} in {args:?}: {stdout}");
        }
    }
    let output = Command::new(BIN).arg("--version").output().expect("runs");
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("flexcord-cases "));
}

#[tokio::test]
async fn serve_reads_the_token_from_a_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{}\n", crate::common::TOKEN)).expect("written");
    let db = format!("sqlite://{}", dir.path().join("file.db").display());
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--db", &db])
        .env_remove("FLEXCORD_CASES_TOKEN")
        .env("FLEXCORD_CASES_TOKEN_FILE", &file)
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
        crate::common::new_case(flexcord_cases::CaseKind::Bug, "token from a file"),
    )
    .await;
    child.kill().expect("kill");
    child.wait().expect("reaped");
    assert_eq!(result.expect("created").number.get(), 1);
}

fn run(db: &str, args: &[&str], password: Option<&str>) -> (bool, String, String) {
    let mut command = Command::new(BIN);
    command
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("FLEXCORD_CASES_PASSWORD");
    if let Some(password) = password {
        command.env("FLEXCORD_CASES_PASSWORD", password);
    }
    let output = command.stdin(Stdio::null()).output().expect("runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn agents_and_tokens_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("accounts.db").display());
    let (ok, out, _) = run(&db, &["agents", "list"], None);
    assert!(ok);
    assert_eq!(out, "no agents\n");
    let (ok, _, err) = run(
        &db,
        &["agents", "add", "jane", "--name", "Jane Doe"],
        Some("short"),
    );
    assert!(!ok, "a short password is refused");
    assert!(err.contains("password must be 12"), "{err}");
    let (ok, _, err) = run(&db, &["agents", "add", "jane", "--name", "Jane Doe"], None);
    assert!(!ok, "no password given: {err}");
    let (ok, out, _) = run(
        &db,
        &["agents", "add", "jane", "--name", "Jane Doe"],
        Some("a long enough password"),
    );
    assert!(ok);
    assert!(out.contains("agent jane (Jane Doe) can sign in"), "{out}");
    let (_, out, _) = run(&db, &["agents", "list"], None);
    assert_eq!(out, "jane\tJane Doe\n");
    let (ok, token, _) = run(&db, &["tokens", "add", "crm"], None);
    assert!(ok);
    let token = token.trim().to_owned();
    assert!(token.starts_with("fct_"), "{token}");
    let (_, out, _) = run(&db, &["tokens", "list"], None);
    assert_eq!(out, "crm\n");
    let (ok, _, err) = run(&db, &["tokens", "add", "crm"], None);
    assert!(!ok && err.contains("exists"), "{err}");

    // The password and the token are not in the database in clear.
    let file = std::fs::read(dir.path().join("accounts.db")).unwrap_or_default();
    let wal = std::fs::read(dir.path().join("accounts.db-wal")).unwrap_or_default();
    for bytes in [&file, &wal] {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("a long enough password"));
        assert!(!text.contains(&token));
    }

    // The served API takes the integration's token (no FLEXCORD_CASES_TOKEN needed then).
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--db", &db])
        .env_remove("FLEXCORD_CASES_TOKEN")
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
    let client = flexcord_cases::CaseClient::new(&base, &token).expect("client");
    let listed = flexcord_cases::CaseStore::open_cases_for(&client, "1").await;
    child.kill().expect("kill");
    child.wait().expect("reaped");
    assert!(listed.expect("the token works").is_empty());

    let (ok, _, _) = run(&db, &["tokens", "remove", "crm"], None);
    assert!(ok);
    let (ok, _, _) = run(&db, &["agents", "remove", "jane"], None);
    assert!(ok);
    let (ok, _, err) = run(&db, &["agents", "remove", "jane"], None);
    assert!(!ok && err.contains("no agent jane"), "{err}");
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
