//! The rig of one scenario: the emulators, a fresh database, the app process(es), and the
//! conversations set up through the real flow.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use flexcord_testkit::Emulators;
use flexcord_testkit::discord::{DiscordConfig, UserSpec};
use flexcord_testkit::twilio::{TaskStatus, TwilioConfig};

use crate::{Scenario, Storage};

/// How long setting up or draining may take before the scenario is given up.
pub(crate) const PATIENCE: Duration = Duration::from_secs(300);

/// The Flex agent who accepts every task and writes the outbound load.
pub(crate) const AGENT: &str = "agent:bench";

/// The first id of the bench's users (snowflakes, distinct from the emulator's own users).
const FIRST_USER: u64 = 1_300_000_000_000_000_000;

/// `flexcord` next to this binary (both are built into the same target folder).
pub(crate) fn sibling_binary() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    let candidate = me.with_file_name(format!("flexcord{}", std::env::consts::EXE_SUFFIX));
    candidate.is_file().then_some(candidate)
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// One app process.
pub(crate) struct App {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub(crate) base: String,
}

impl App {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh database: a `SQLite` file, or a Postgres database dropped afterwards.
pub(crate) struct Database {
    pub(crate) url: String,
    admin: Option<(String, String)>,
}

impl Database {
    async fn create(storage: Storage, dir: &Path, postgres: Option<&str>) -> Result<Self, String> {
        match storage {
            Storage::Sqlite => Ok(Self {
                url: format!("sqlite://{}", dir.join("flexcord.db").display()),
                admin: None,
            }),
            Storage::Postgres => {
                let admin = postgres.ok_or("this scenario needs --postgres or DATABASE_URL")?;
                let name = format!("flexcord_bench_{}", std::process::id());
                let pool = sqlx::PgPool::connect(admin)
                    .await
                    .map_err(|e| format!("Postgres: {e}"))?;
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                    .execute(&pool)
                    .await;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&pool)
                    .await
                    .map_err(|e| format!("cannot create {name}: {e}"))?;
                pool.close().await;
                let url = replace_database(admin, &name)?;
                Ok(Self {
                    url,
                    admin: Some((admin.to_owned(), name)),
                })
            }
        }
    }

    async fn drop_now(&self) {
        if let Some((admin, name)) = &self.admin
            && let Ok(pool) = sqlx::PgPool::connect(admin).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&pool)
                .await;
            pool.close().await;
        }
    }
}

/// `url` with its database name replaced by `name`.
fn replace_database(url: &str, name: &str) -> Result<String, String> {
    let mut parsed = reqwest::Url::parse(url).map_err(|e| format!("bad Postgres URL: {e}"))?;
    parsed.set_path(&format!("/{name}"));
    Ok(parsed.to_string())
}

/// Everything a scenario runs against.
pub(crate) struct Rig {
    pub(crate) emulators: Emulators,
    pub(crate) apps: Vec<App>,
    pub(crate) db: Database,
    /// The URL Twilio signs webhooks for (`server.public_url`).
    pub(crate) public: String,
    pub(crate) users: Vec<u64>,
    /// Each user's Twilio conversation, once set up.
    pub(crate) conversations: BTreeMap<u64, String>,
    dir: tempfile::TempDir,
}

impl Rig {
    /// Starts the emulators (with `users` extra Discord users), a fresh database holding
    /// `scenario.backlog` finished outbox rows, and the app.
    pub(crate) async fn start(
        scenario: &Scenario,
        binary: &Path,
        users: usize,
        postgres: Option<&str>,
    ) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let instances = match scenario.storage {
            Storage::Sqlite => 1,
            Storage::Postgres => 2,
        };
        let ports: Vec<u16> = (0..instances)
            .map(|_| free_port())
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let public = format!("http://127.0.0.1:{}", ports[0]);
        let mut discord = DiscordConfig::default();
        discord = if scenario.discord_limits {
            discord.buckets(5, Duration::from_secs(5)).global_limit(50)
        } else {
            // Wide open, within the range of Discord's rate-limit headers (clients read them as
            // 16-bit numbers).
            discord.buckets(60_000, Duration::from_secs(1))
        };
        let ids: Vec<u64> = (0..users as u64).map(|i| FIRST_USER + i).collect();
        for (i, id) in ids.iter().enumerate() {
            discord = discord.user(UserSpec::new(*id, format!("player{i}")));
        }
        let emulators =
            Emulators::start(discord, TwilioConfig::default().webhook_base_url(&public))
                .await
                .map_err(|e| format!("cannot start the emulators: {e}"))?;
        let db = Database::create(scenario.storage, dir.path(), postgres).await?;
        if scenario.backlog > 0 {
            fill_backlog(binary, &db.url, scenario.backlog).await?;
        }
        let mut apps = Vec::new();
        for (i, port) in ports.iter().enumerate() {
            let shards = if instances == 1 {
                "0..1 of 1".to_owned()
            } else {
                format!("{i}..{} of {instances}", i + 1)
            };
            let mut env = emulators.app_env();
            env.extend(
                [
                    ("FLEXCORD_SERVER__LISTEN", format!("127.0.0.1:{port}")),
                    ("FLEXCORD_STORE__URL", db.url.clone()),
                    ("FLEXCORD_SERVER__SHUTDOWN_GRACE", "2s".to_owned()),
                    ("FLEXCORD_DISCORD__SHARDS", shards),
                    // The headroom scenarios measure the bridge, not Discord's global limit
                    // (which the REST client keeps on its own, 50/s unless raised).
                    (
                        "FLEXCORD_DISCORD__GLOBAL_RATE_LIMIT",
                        if scenario.discord_limits {
                            "50"
                        } else {
                            "65535"
                        }
                        .to_owned(),
                    ),
                ]
                .map(|(k, v)| (k.to_owned(), v)),
            );
            apps.push(spawn(binary, &env, dir.path(), i, *port)?);
        }
        let rig = Self {
            emulators,
            apps,
            db,
            public,
            users: ids,
            conversations: BTreeMap::new(),
            dir,
        };
        for app in &rig.apps {
            wait_ready(&app.base).await?;
        }
        let shards = instances;
        wait(PATIENCE, "the shards to connect", || {
            let d = &rig.emulators.discord;
            (0..shards).all(|s| d.state(|st| st.shard_connected(u32::try_from(s).unwrap_or(0))))
        })
        .await?;
        Ok(rig)
    }

    /// Sets up a live-agent conversation for each user through the real flow: a DM, the bot's
    /// answer, "Talk to a live agent", an agent accepting the task, the join notice. Returns
    /// how long it took.
    pub(crate) async fn hand_off_all(&mut self) -> Result<Duration, String> {
        match self.try_hand_off_all().await {
            Ok(took) => Ok(took),
            Err(e) => Err(format!("{e}{}", self.log_tails())),
        }
    }

    async fn try_hand_off_all(&mut self) -> Result<Duration, String> {
        let started = std::time::Instant::now();
        let discord = &self.emulators.discord;
        for user in &self.users {
            discord
                .inject_dm(*user, "Hello, I need help with my account")
                .map_err(|e| e.to_string())?;
        }
        let users = self.users.clone();
        let buttons = wait_value(PATIENCE, "the bot's answers", || {
            let found: Vec<(u64, String)> = users
                .iter()
                .filter_map(|u| {
                    discord.state(|s| {
                        s.dms_to(*u).iter().find_map(|m| {
                            let comps = serde_json::to_string(&m.components).ok()?;
                            let start = comps.find("fc:agent:")?;
                            let id = comps[start..].split('"').next()?.to_owned();
                            Some((*u, id))
                        })
                    })
                })
                .collect();
            (found.len() == users.len()).then_some(found)
        })
        .await?;
        for (user, id) in &buttons {
            discord
                .inject_button(*user, id)
                .map_err(|e| e.to_string())?;
        }
        let twilio = &self.emulators.twilio;
        let n = users.len();
        wait(PATIENCE, "a task per user", || {
            twilio
                .tasks()
                .iter()
                .filter(|t| t.status == TaskStatus::Pending)
                .count()
                == n
        })
        .await?;
        let agent = twilio.agent(AGENT);
        for task in twilio.tasks() {
            agent.accept(&task.sid).map_err(|e| e.to_string())?;
        }
        wait(PATIENCE, "the agent-joined notices", || {
            users.iter().all(|u| {
                discord.state(|s| {
                    s.dms_to(*u)
                        .iter()
                        .any(|m| m.content.contains("has joined the conversation"))
                })
            })
        })
        .await?;
        for conversation in twilio.conversations() {
            let attributes: serde_json::Value =
                serde_json::from_str(&conversation.attributes).unwrap_or_default();
            if let Some(user) = attributes["flexcord"]["discord_user"]
                .as_str()
                .and_then(|u| u.parse().ok())
            {
                self.conversations.insert(user, conversation.sid.clone());
            }
        }
        if self.conversations.len() != n {
            return Err(format!(
                "{} conversations for {n} users",
                self.conversations.len()
            ));
        }
        Ok(started.elapsed())
    }

    /// Outbox rows still waiting (`pending`, `running`).
    pub(crate) async fn queued(&self) -> Result<i64, String> {
        let sql = "SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'running')";
        if self.db.url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(&self.db.url)
                .await
                .map_err(|e| e.to_string())?;
            let n: i64 = sqlx::query_scalar(sql)
                .fetch_one(&pool)
                .await
                .map_err(|e| e.to_string())?;
            pool.close().await;
            Ok(n)
        } else {
            let pool = sqlx::PgPool::connect(&self.db.url)
                .await
                .map_err(|e| e.to_string())?;
            let n: i64 = sqlx::query_scalar(sql)
                .fetch_one(&pool)
                .await
                .map_err(|e| e.to_string())?;
            pool.close().await;
            Ok(n)
        }
    }

    /// The last lines each app wrote to its log (for a failed scenario's error).
    pub(crate) fn log_tails(&self) -> String {
        let mut out = String::new();
        for i in 0..self.apps.len() {
            let path = self.dir.path().join(format!("app-{i}.log"));
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            // FLEXCORD_BENCH_KEEP=<folder> keeps the whole logs of a failed scenario.
            if let Ok(keep) = std::env::var("FLEXCORD_BENCH_KEEP") {
                let _ = std::fs::copy(&path, Path::new(&keep).join(format!("app-{i}.log")));
            }
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(15)..];
            let _ = writeln!(out, "\n--- app {i} log (last {} lines) ---", tail.len());
            for line in tail {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// Stops the app and drops a Postgres database.
    pub(crate) async fn finish(self) {
        if std::env::var_os("FLEXCORD_BENCH_KEEP").is_some() {
            let _ = self.log_tails();
        }
        let Self { apps, db, .. } = self;
        drop(apps);
        db.drop_now().await;
    }
}

/// Inserts `rows` finished outbox rows (as a month of conversations leaves them before
/// pruning), through the app's own migrations so the schema is the real one.
async fn fill_backlog(binary: &Path, url: &str, rows: usize) -> Result<(), String> {
    let sql = "INSERT INTO outbox (action_id, scope, seq, kind, action, state, attempts, \
               next_attempt_at, upstream_id, result, created_at, updated_at) \
               VALUES ($1, $2, $3, 'send_dm', '{}', 'done', 1, $4, '1', '{}', $4, $4)";
    let store = Store::connect(binary, url).await?;
    let per_conversation = 30;
    let old = 1_700_000_000_000_i64;
    for chunk in (0..rows).collect::<Vec<_>>().chunks(5000) {
        store.insert_many(sql, chunk, per_conversation, old).await?;
    }
    store.close().await;
    Ok(())
}

/// The app's database, its tables made by the app itself.
enum Store {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Store {
    async fn connect(binary: &Path, url: &str) -> Result<Self, String> {
        create_schema(binary, url).await?;
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite(
                sqlx::SqlitePool::connect(url)
                    .await
                    .map_err(|e| e.to_string())?,
            ))
        } else {
            Ok(Self::Postgres(
                sqlx::PgPool::connect(url)
                    .await
                    .map_err(|e| e.to_string())?,
            ))
        }
    }

    async fn insert_many(
        &self,
        sql: &str,
        ids: &[usize],
        per_conversation: usize,
        at: i64,
    ) -> Result<(), String> {
        macro_rules! insert {
            ($pool:expr) => {{
                let mut tx = $pool.begin().await.map_err(|e| e.to_string())?;
                for i in ids {
                    let scope = format!("backlog-{}", i / per_conversation);
                    let seq = i64::try_from(i % per_conversation).unwrap_or(0);
                    sqlx::query(sql)
                        .bind(format!("{scope}/{seq}"))
                        .bind(&scope)
                        .bind(seq)
                        .bind(at)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                tx.commit().await.map_err(|e| e.to_string())?;
            }};
        }
        match self {
            Self::Sqlite(pool) => insert!(pool),
            Self::Postgres(pool) => insert!(pool),
        }
        Ok(())
    }

    async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// Creates the app's tables by running `flexcord outbox stats`, which opens (and migrates) the
/// store named by `FLEXCORD_STORE__URL` and nothing else.
async fn create_schema(binary: &Path, url: &str) -> Result<(), String> {
    let status = tokio::process::Command::new(binary)
        .args(["outbox", "stats"])
        .env_clear()
        .env("FLEXCORD_STORE__URL", url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("flexcord outbox stats exited with {status}"))
    }
}

fn spawn(
    binary: &Path,
    env: &[(String, String)],
    dir: &Path,
    n: usize,
    port: u16,
) -> Result<App, String> {
    let log = std::fs::File::create(dir.join(format!("app-{n}.log"))).map_err(|e| e.to_string())?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(binary);
    cmd.arg("run")
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env(
            "RUST_LOG",
            std::env::var("FLEXCORD_BENCH_LOG").unwrap_or_else(|_| "warn".to_owned()),
        )
        .stdout(log)
        .stderr(err);
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    Ok(App {
        child,
        base: format!("http://127.0.0.1:{port}"),
    })
}

async fn wait_ready(base: &str) -> Result<(), String> {
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("{base} never became ready"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `done` holds, polling every 20 ms.
pub(crate) async fn wait(
    timeout: Duration,
    what: &str,
    mut done: impl FnMut() -> bool,
) -> Result<(), String> {
    wait_value(timeout, what, || done().then_some(())).await
}

/// Waits until `f` gives a value, polling every 20 ms.
pub(crate) async fn wait_value<T>(
    timeout: Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
) -> Result<T, String> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// CPU seconds (user + system) a process used so far, from `/proc/<pid>/stat`.
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: the fields after it follow its closing parenthesis.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The process's peak resident set size in bytes (`VmHWM`).
pub(crate) fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
