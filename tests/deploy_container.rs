//! The container image (`Dockerfile`, `.dockerignore`, `deploy/docker/`) checked against the
//! manifests and the crate, and the deployment guide against the files it documents.
//!
//! Every file is required: a missing one fails its test, it is never skipped.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::deploy::dockerfile::*;
use common::deploy::pod::*;
use common::deploy::*;
use consentry::config::Config;

// ---------------------------------------------------------------------------------------------
// The Dockerfile

#[test]
fn dockerfile_builds_in_two_stages_and_runs_without_a_shell() {
    let instrs = dockerfile();
    let froms = instr(&instrs, "FROM");
    assert_eq!(
        froms.len(),
        2,
        "Dockerfile: a build stage and a runtime stage"
    );
    let build = froms[0].args.to_ascii_lowercase();
    let (build_image, build_name) = build
        .split_once(" as ")
        .expect("Dockerfile: the build stage is named");
    assert!(
        ["rust:1-bookworm", "rust:1-slim-bookworm"].contains(&build_image.trim()),
        "Dockerfile: build image {build_image}: Debian 12, like the runtime image, so glibc matches"
    );
    assert_eq!(
        froms[1].args, "gcr.io/distroless/cc-debian12:nonroot",
        "Dockerfile: runtime image"
    );

    // Order: the manifests, a dependency build against stubs, then the sources and the build.
    let pos = |pred: &dyn Fn(&Instr) -> bool, what: &str| -> usize {
        instrs
            .iter()
            .position(pred)
            .unwrap_or_else(|| panic!("Dockerfile: no {what}"))
    };
    let copy_manifest = pos(
        &|i| i.op == "COPY" && i.args.contains("Cargo.toml") && i.args.contains("Cargo.lock"),
        "COPY of Cargo.toml and Cargo.lock",
    );
    let copy_src = pos(
        &|i| i.op == "COPY" && i.args.starts_with("src "),
        "COPY src",
    );
    let deps = pos(
        &|i| i.op == "RUN" && i.args.contains("cargo build --release --locked"),
        "RUN cargo build --release --locked",
    );
    assert!(
        copy_manifest < deps && deps < copy_src,
        "Dockerfile: the dependency build must come between the manifests and the sources"
    );
    assert!(
        instrs[copy_src..]
            .iter()
            .any(|i| i.op == "RUN" && i.args.contains("cargo build --release --locked")),
        "Dockerfile: no release build after the sources are copied"
    );
    // Cargo refuses a manifest whose declared targets have no file: the stub step must create
    // one for each (a new [[bench]] in Cargo.toml must be added there).
    let stub_step = &instrs[deps].args;
    for target in declared_targets() {
        assert!(
            stub_step.contains(&target),
            "Dockerfile:{}: the dependency step creates no stub for {target}, which Cargo.toml declares",
            instrs[deps].line
        );
    }

    // The runtime stage: no RUN (no shell), exec-form ENTRYPOINT/CMD, numeric user.
    let runtime_start = instrs.iter().rposition(|i| i.op == "FROM").expect("FROM");
    let runtime = &instrs[runtime_start..];
    assert!(
        !runtime
            .iter()
            .any(|i| i.op == "RUN" || i.op == "HEALTHCHECK"),
        "Dockerfile: the distroless runtime stage has no shell for RUN or HEALTHCHECK"
    );
    assert!(instr(&instrs, "HEALTHCHECK").is_empty());
    let copy_bin = runtime
        .iter()
        .find(|i| i.op == "COPY" && i.args.starts_with(&format!("--from={}", build_name.trim())))
        .expect("Dockerfile: the binary is copied from the build stage");
    let entry = instr(runtime, "ENTRYPOINT");
    assert_eq!(entry.len(), 1);
    let entry = exec_form(entry[0]);
    assert_eq!(entry, ["/usr/local/bin/consentry"]);
    assert!(
        copy_bin.args.ends_with(&entry[0]),
        "Dockerfile: the binary is not copied to {}",
        entry[0]
    );
    let user = instr(runtime, "USER");
    assert_eq!(user.len(), 1);
    assert_eq!(
        user[0].args,
        format!("{NONROOT}:{NONROOT}"),
        "Dockerfile: a numeric non-root user, the one the manifests' runAsUser names"
    );
    if let Some(s) = instr(runtime, "STOPSIGNAL").first() {
        assert_eq!(s.args, "SIGTERM");
    }
    let cmd = exec_form(instr(runtime, "CMD")[0]);
    assert_eq!(cmd.len(), 3, "Dockerfile: CMD is `run --config PATH`");
}

/// Target files that Cargo.toml declares explicitly (cargo checks that they exist).
fn declared_targets() -> Vec<String> {
    let manifest: toml::Value = toml::from_str(&read("Cargo.toml")).expect("Cargo.toml");
    let package = manifest["package"]["name"].as_str().unwrap().to_string();
    let mut out = vec![manifest
        .get("lib")
        .and_then(|l| l.get("path"))
        .and_then(|p| p.as_str())
        .unwrap_or("src/lib.rs")
        .to_string()];
    for (table, dir) in [
        ("bin", ""),
        ("bench", "benches"),
        ("test", "tests"),
        ("example", "examples"),
    ] {
        for t in manifest
            .get(table)
            .and_then(|t| t.as_array())
            .into_iter()
            .flatten()
        {
            let name = t["name"].as_str().unwrap();
            let path = match t.get("path").and_then(|p| p.as_str()) {
                Some(p) => p.to_string(),
                None if table == "bin" && name == package => "src/main.rs".into(),
                None if table == "bin" => format!("src/bin/{name}.rs"),
                None => format!("{dir}/{name}.rs"),
            };
            out.push(path);
        }
    }
    out
}

#[test]
fn dockerfile_command_ports_and_mount_path_match_the_manifests() {
    let instrs = dockerfile();
    let path = docker_config_path();
    let dir = Path::new(&path)
        .parent()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(dir, "/etc/consentry", "the documented mount path");
    let readme = read(DEPLOY_README);
    assert!(
        readme.contains(&path) && readme.contains(&format!("{dir}:")),
        "{DEPLOY_README}: document the mount path {dir} and the file {path}"
    );

    // The Deployment's args start with the image's CMD.
    let d = main_deployment();
    let args: Vec<String> = list_at(&d.container, &["args"], "deployment.yaml")
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let cmd = exec_form(instr(&instrs, "CMD")[0]);
    assert_eq!(
        args[..cmd.len()],
        cmd[..],
        "deployment.yaml: args vs the image's CMD"
    );

    // EXPOSE: exactly the ports the ConfigMap's listeners use, which the pod declares.
    let exposed: BTreeSet<u16> = instr(&instrs, "EXPOSE")
        .iter()
        .flat_map(|i| i.args.split_whitespace())
        .map(|p| p.trim_end_matches("/tcp").parse().expect("EXPOSE port"))
        .collect();
    let listen: BTreeSet<u16> = [
        d.config.listen.http.unwrap().port(),
        d.config.admin.listen.unwrap().port(),
    ]
    .into();
    assert_eq!(
        exposed, listen,
        "Dockerfile EXPOSE vs the ConfigMap's listeners"
    );
    let declared: BTreeSet<u16> = list_at(&d.container, &["ports"], "deployment.yaml")
        .iter()
        .map(|p| int_at(p, &["containerPort"], "deployment.yaml") as u16)
        .collect();
    assert_eq!(
        exposed, declared,
        "Dockerfile EXPOSE vs the container ports"
    );

    // The sample configuration for `docker run` loads and listens on the exposed ports.
    let sample = Config::from_str(Path::new(&path), &read(DOCKER_CONFIG))
        .unwrap_or_else(|e| panic!("{DOCKER_CONFIG}: {e}"));
    for addr in [sample.listen.http.unwrap(), sample.admin.listen.unwrap()] {
        assert!(
            addr.ip().is_unspecified(),
            "{DOCKER_CONFIG}: {addr} is unreachable from outside the container"
        );
        assert!(
            exposed.contains(&addr.port()),
            "{DOCKER_CONFIG}: port {} is not exposed",
            addr.port()
        );
    }
}

#[test]
fn dockerignore_keeps_build_outputs_out_and_the_sources_in() {
    let patterns: Vec<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_end_matches('/').to_string())
        .collect();
    let ignored = |path: &str| -> bool {
        let comps: Vec<&str> = path.split('/').collect();
        patterns.iter().any(|p| {
            if let Some(any) = p.strip_prefix("**/") {
                comps.contains(&any)
            } else {
                (1..=comps.len()).any(|n| comps[..n].join("/") == *p)
            }
        })
    };
    for must in [
        ".git",
        "target",
        "target/release",
        "fuzz/target",
        "fuzz/corpus",
        "fuzz/artifacts",
    ] {
        assert!(ignored(must), ".dockerignore: {must} should be ignored");
    }
    // Everything the Dockerfile copies from the context exists and is not ignored.
    for i in dockerfile()
        .iter()
        .filter(|i| i.op == "COPY" && !i.args.starts_with("--"))
    {
        let mut parts: Vec<&str> = i.args.split_whitespace().collect();
        parts.pop(); // the destination
        for src in parts {
            assert!(
                root().join(src).exists(),
                "Dockerfile:{}: {src} does not exist",
                i.line
            );
            assert!(
                !ignored(src),
                "Dockerfile:{}: {src} is excluded by .dockerignore",
                i.line
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The deployment guide

#[test]
fn deployment_guide_names_every_file_it_documents() {
    let readme = read(DEPLOY_README);
    let mut files: Vec<PathBuf> = vec![PathBuf::from("Dockerfile"), PathBuf::from(".dockerignore")];
    for dir in [K8S, "deploy/systemd", "deploy/grafana", "deploy/docker"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}")) {
            files.push(Path::new(dir).join(e.unwrap().file_name()));
        }
    }
    for f in files {
        let f = f.to_str().unwrap();
        let short = f.strip_prefix("deploy/").unwrap_or(f);
        let base = Path::new(f).file_name().unwrap().to_str().unwrap();
        assert!(
            readme.contains(f) || readme.contains(short) || readme.contains(base),
            "{DEPLOY_README}: does not mention {f}"
        );
    }
    for command in [
        "consentry demo",
        "docker build -t consentry .",
        "kubectl apply -k deploy/kubernetes",
        "systemctl reload consentry",
    ] {
        assert!(
            readme.contains(command),
            "{DEPLOY_README}: does not show `{command}`"
        );
    }
}
