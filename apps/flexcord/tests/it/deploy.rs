//! The deployment files agree with the binary: every `FLEXCORD_*` variable they set is a
//! configuration key, the health check probes the admin listener they configure, Prometheus
//! scrapes it, the service manager does not restart a configuration error, and the image is
//! built the way CI builds it. (hadolint, `docker-compose config`, `promtool` and
//! `systemd-analyze verify` check the files' own syntax in `.ci/run`.)

fn repository_file(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Every `FLEXCORD_<SECTION>__<KEY>` word in `text`.
fn variables(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("FLEXCORD_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        if tail[..end].contains("__") {
            found.push(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    found
}

/// Whether `name` sets a configuration key, directly or through its `_FILE` variant.
fn is_key_variable(name: &str) -> bool {
    let Some((section, key)) = name
        .strip_prefix(flexcord::config::ENV_PREFIX)
        .and_then(|rest| rest.split_once("__"))
    else {
        return false;
    };
    let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
    let key = key.strip_suffix("_file").unwrap_or(&key);
    flexcord::config::KEYS
        .iter()
        .any(|(s, k, _)| *s == section && *k == key)
}

/// The value the file gives `name` (`NAME=value`, `NAME: value`, quotes dropped).
fn setting<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|line| {
            let rest = line.trim().strip_prefix(name)?;
            let rest = rest.strip_prefix('=').or_else(|| rest.strip_prefix(':'))?;
            Some(rest.trim().trim_end_matches('\\').trim().trim_matches('"'))
        })
        .unwrap_or_else(|| panic!("{name} is not set"))
}

fn port(address: &str) -> &str {
    address.rsplit(':').next().expect("host:port")
}

#[test]
fn every_variable_the_deployment_files_set_is_a_configuration_key() {
    assert!(is_key_variable("FLEXCORD_TWILIO__AUTH_TOKEN_FILE"));
    assert!(is_key_variable("FLEXCORD_SERVER__ADMIN_LISTEN"));
    assert!(!is_key_variable("FLEXCORD_SERVER__ADMIN_PORT"));
    for file in [
        "Dockerfile",
        "docker-compose.yml",
        "deploy/systemd/flexcord.service",
    ] {
        let names = variables(&repository_file(file));
        assert!(!names.is_empty(), "{file} sets no variable");
        let unknown: Vec<&String> = names.iter().filter(|n| !is_key_variable(n)).collect();
        assert!(unknown.is_empty(), "{file}: {unknown:?}");
    }
}

#[test]
fn the_image_is_built_as_ci_builds_it_and_probes_its_admin_listener() {
    let dockerfile = repository_file("Dockerfile");
    let ci = repository_file(".ci/run");
    let build = "cargo build --release --locked -p flexcord --no-default-features";
    assert!(dockerfile.contains(build), "the Dockerfile runs {build}");
    assert!(ci.contains(build), ".ci/run runs {build}");
    let runtime = dockerfile
        .rsplit("\nFROM ")
        .next()
        .expect("a runtime stage");
    let user = runtime
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the runtime stage names its user");
    assert!(
        !user.starts_with("root") && !user.starts_with('0'),
        "runs as {user}"
    );
    let admin = setting(runtime, "FLEXCORD_SERVER__ADMIN_LISTEN");
    let healthcheck = runtime.split("HEALTHCHECK").nth(1).expect("a HEALTHCHECK");
    assert!(
        healthcheck.contains(&format!(
            "\"healthcheck\", \"--url\", \"http://127.0.0.1:{}/healthz\"",
            port(admin)
        )),
        "the health check probes port {}",
        port(admin)
    );
}

#[test]
fn prometheus_scrapes_the_admin_listener_compose_configures() {
    let compose = repository_file("docker-compose.yml");
    let prometheus = repository_file("deploy/prometheus/prometheus.yml");
    let admin = setting(&compose, "FLEXCORD_SERVER__ADMIN_LISTEN");
    assert!(
        prometheus.contains(&format!("\"flexcord:{}\"", port(admin))),
        "Prometheus scrapes flexcord:{}",
        port(admin)
    );
    assert!(prometheus.contains("/etc/prometheus/alerts.yml"));
    assert!(compose.contains("./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml"));
    // The admin listener is for the compose network only; the webhooks go through the proxy.
    assert!(!compose.contains(&format!("{}:{}", port(admin), port(admin))));
}

#[test]
fn the_service_manager_does_not_restart_a_configuration_error() {
    let unit = repository_file("deploy/systemd/flexcord.service");
    assert_eq!(
        setting(&unit, "RestartPreventExitStatus"),
        flexcord::app::EXIT_CONFIG.to_string()
    );
    assert_eq!(setting(&unit, "Restart"), "on-failure");
    assert!(setting(&unit, "ExecStart").contains(" run "));
    // Longer than twice the default shutdown grace (10 s).
    let stop = setting(&unit, "TimeoutStopSec");
    let stop = flexcord::config::parse_duration(stop).expect("a duration");
    assert!(stop > std::time::Duration::from_secs(20), "{stop:?}");
}
