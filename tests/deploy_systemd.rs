//! The systemd unit (`deploy/systemd/consentry.service`) checked against the binary's command
//! line and its shutdown timing.
//!
//! Every file is required: a missing one fails its test, it is never skipped.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use common::deploy::dockerfile::*;
use common::deploy::*;
use consentry::config::Config;

// ---------------------------------------------------------------------------------------------
// systemd

fn systemd_unit() -> BTreeMap<String, Vec<(String, String)>> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut section = String::new();
    let mut pending = String::new();
    for line in read(SYSTEMD_UNIT).lines() {
        let t = line.trim();
        if pending.is_empty() && (t.is_empty() || t.starts_with('#') || t.starts_with(';')) {
            continue;
        }
        if let Some(part) = t.strip_suffix('\\') {
            pending.push_str(part);
            pending.push(' ');
            continue;
        }
        pending.push_str(t);
        let l = std::mem::take(&mut pending);
        if l.starts_with('[') && l.ends_with(']') {
            section = l[1..l.len() - 1].to_string();
            continue;
        }
        let (k, v) = l
            .split_once('=')
            .unwrap_or_else(|| panic!("{SYSTEMD_UNIT}: not key=value: {l}"));
        assert!(
            !section.is_empty(),
            "{SYSTEMD_UNIT}: {k} before any section"
        );
        out.entry(section.clone())
            .or_default()
            .push((k.trim().to_string(), v.trim().to_string()));
    }
    out
}

/// systemd's time spans as used here: "45s", "2min", "1min 30s", or plain seconds.
fn systemd_span(v: &str) -> Duration {
    if let Ok(secs) = v.parse::<u64>() {
        return Duration::from_secs(secs);
    }
    humantime::parse_duration(v).unwrap_or_else(|e| panic!("{SYSTEMD_UNIT}: time span {v}: {e}"))
}

/// The defaults the real loader applies to a configuration that sets nothing in [server].
fn default_config() -> Config {
    Config::from_str(
        Path::new("defaults.toml"),
        "[listen]\nhttp = \"127.0.0.1:8080\"\n[upstream]\nurl = \"http://127.0.0.1:3000\"\n\
         [categories.essential]\nrequired = true\ncookies = [\"session\"]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn systemd_unit_runs_reloads_and_stops_consentry() {
    let unit = systemd_unit();
    let service = unit
        .get("Service")
        .unwrap_or_else(|| panic!("{SYSTEMD_UNIT}: no [Service]"));
    let all = |k: &str| -> Vec<&str> {
        service
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let one = |k: &str| -> &str {
        let v = all(k);
        assert_eq!(v.len(), 1, "{SYSTEMD_UNIT}: expected one {k}=, found {v:?}");
        v[0]
    };

    let entry = {
        let instrs = dockerfile();
        exec_form(instr(&instrs, "ENTRYPOINT")[0])[0].clone()
    };
    let exec: Vec<String> = one("ExecStart")
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(
        exec[0], entry,
        "{SYSTEMD_UNIT}: the binary's path, as in the image"
    );
    assert_eq!(
        config_arg(&exec[1..], SYSTEMD_UNIT),
        docker_config_path(),
        "{SYSTEMD_UNIT}: the configuration path, as in the image"
    );
    assert_eq!(
        exec.len(),
        4,
        "{SYSTEMD_UNIT}: ExecStart is `run --config PATH`"
    );

    // Reload: SIGHUP to the main process, last (after an optional `consentry check`).
    let reloads = all("ExecReload");
    let hup = reloads.last().expect("ExecReload");
    let words: Vec<&str> = hup.split_whitespace().collect();
    assert!(
        words[0].ends_with("/kill")
            && (words.contains(&"-HUP") || words.contains(&"-SIGHUP") || hup.contains("-s HUP"))
            && words.last() == Some(&"$MAINPID"),
        "{SYSTEMD_UNIT}: the last ExecReload must send SIGHUP to $MAINPID: {hup}"
    );
    for r in &reloads[..reloads.len() - 1] {
        let w: Vec<String> = r.split_whitespace().map(String::from).collect();
        assert_eq!(w[0], entry);
        assert_eq!(w[1], "check", "{SYSTEMD_UNIT}: {r}");
        assert_eq!(
            w[2..],
            ["--config".to_string(), docker_config_path()],
            "{SYSTEMD_UNIT}: {r} checks another file"
        );
    }

    // Stop: SIGTERM, and time for the default drain.
    let kill = all("KillSignal");
    assert!(
        kill.is_empty() || kill == ["SIGTERM"],
        "{SYSTEMD_UNIT}: KillSignal"
    );
    let defaults = default_config();
    let stop = systemd_span(one("TimeoutStopSec"));
    assert!(
        stop > defaults.server.shutdown_grace,
        "{SYSTEMD_UNIT}: TimeoutStopSec {stop:?} must exceed the default shutdown_grace {:?}",
        defaults.server.shutdown_grace
    );
    assert_eq!(one("Restart"), "on-failure");

    // One descriptor per client connection and one per upstream connection, at the default
    // connection limit, with room to spare.
    let nofile: u64 = one("LimitNOFILE").parse().expect("LimitNOFILE is a number");
    assert!(nofile >= 65536);
    assert!(
        nofile > 2 * defaults.server.max_connections as u64,
        "{SYSTEMD_UNIT}: LimitNOFILE {nofile} is below two descriptors per connection at max_connections {}",
        defaults.server.max_connections
    );

    // Hardening.
    let yes = |k: &str| {
        let v = one(k);
        assert!(
            matches!(v, "yes" | "true" | "on" | "1"),
            "{SYSTEMD_UNIT}: {k}={v}"
        );
    };
    yes("NoNewPrivileges");
    yes("PrivateTmp");
    assert_eq!(one("ProtectSystem"), "strict");
    assert!(matches!(
        one("ProtectHome"),
        "yes" | "true" | "read-only" | "tmpfs"
    ));
    let bounding: BTreeSet<&str> = one("CapabilityBoundingSet").split_whitespace().collect();
    let ambient: BTreeSet<&str> = all("AmbientCapabilities")
        .iter()
        .flat_map(|v| v.split_whitespace())
        .collect();
    assert!(
        ambient.is_subset(&bounding),
        "{SYSTEMD_UNIT}: ambient capabilities outside the bounding set"
    );
    assert!(
        bounding.iter().all(|c| *c == "CAP_NET_BIND_SERVICE"),
        "{SYSTEMD_UNIT}: consentry needs no capability beyond binding low ports"
    );
    let dynamic = all("DynamicUser").first().is_some_and(|v| *v == "yes");
    let user = all("User").first().map(|u| u.to_string());
    assert!(
        dynamic || user.as_deref().is_some_and(|u| u != "root" && u != "0"),
        "{SYSTEMD_UNIT}: run as DynamicUser or a dedicated user"
    );

    let install = unit.get("Install").expect("[Install]");
    assert!(install.contains(&("WantedBy".into(), "multi-user.target".into())));
}
