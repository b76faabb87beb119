//! The deployment material checked against the code it deploys: the Dockerfile, the Kubernetes
//! manifests, the systemd unit and the Grafana dashboard are parsed, and what they say about
//! configuration paths, ports, admin endpoints, shutdown timing and metric names is compared with
//! the real configuration loader, the admin listener and the metrics the binary exports.
//!
//! Every file is required: a missing one fails its test, it is never skipped.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use consentry::config::Config;
use consentry::metrics::{Metrics, PolicyMetrics};
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

// ---------------------------------------------------------------------------------------------
// Files

const K8S: &str = "deploy/kubernetes";
const SYSTEMD_UNIT: &str = "deploy/systemd/consentry.service";
const DASHBOARD: &str = "deploy/grafana/consentry-dashboard.json";
const DOCKER_CONFIG: &str = "deploy/docker/consentry.toml";
const DEPLOY_README: &str = "deploy/README.md";

/// The UID and GID of the distroless `nonroot` user.
const NONROOT: i64 = 65532;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel))
        .unwrap_or_else(|e| panic!("{rel}: cannot read it ({e}); the file is required"))
}

// ---------------------------------------------------------------------------------------------
// YAML, read into serde_json values for easy navigation

fn yaml_to_json(y: &Yaml, ctx: &str) -> Value {
    match y {
        Yaml::Real(s) => Value::from(
            s.parse::<f64>()
                .unwrap_or_else(|_| panic!("{ctx}: bad float {s}")),
        ),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => {
            // Kubernetes reads manifests as YAML 1.1, where these plain scalars are booleans;
            // this parser (YAML 1.2) would read them as strings. Forbid the ambiguity.
            let lower = s.to_ascii_lowercase();
            assert!(
                !["yes", "no", "on", "off", "y", "n"].contains(&lower.as_str()),
                "{ctx}: {s:?} is a boolean to YAML 1.1 parsers and a string to YAML 1.2 ones: write true/false"
            );
            Value::String(s.clone())
        }
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(|x| yaml_to_json(x, ctx)).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        other => panic!("{ctx}: a mapping key is not a string: {other:?}"),
                    };
                    let ctx = format!("{ctx}.{key}");
                    let v = yaml_to_json(v, &ctx);
                    (key, v)
                })
                .collect(),
        ),
        Yaml::Null => Value::Null,
        Yaml::Alias(_) => panic!("{ctx}: YAML aliases are not used in these manifests"),
        Yaml::BadValue => panic!("{ctx}: unreadable YAML value"),
    }
}

/// The documents of one YAML file. Parse errors (duplicate keys included) fail the test.
fn yaml_docs(rel: &str) -> Vec<Value> {
    let text = read(rel);
    let docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert!(!docs.is_empty(), "{rel}: no YAML document");
    docs.iter()
        .enumerate()
        .map(|(i, d)| {
            let v = yaml_to_json(d, &format!("{rel}#{i}"));
            assert!(v.is_object(), "{rel}: document {i} is not a mapping");
            v
        })
        .collect()
}

fn opt<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for key in path {
        cur = match cur {
            Value::Object(m) => m.get(*key)?,
            Value::Array(a) => a.get(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn at<'a>(v: &'a Value, path: &[&str], ctx: &str) -> &'a Value {
    opt(v, path).unwrap_or_else(|| panic!("{ctx}: {} is missing", path.join(".")))
}

fn text_at<'a>(v: &'a Value, path: &[&str], ctx: &str) -> &'a str {
    at(v, path, ctx)
        .as_str()
        .unwrap_or_else(|| panic!("{ctx}: {} is not a string", path.join(".")))
}

fn int_at(v: &Value, path: &[&str], ctx: &str) -> i64 {
    at(v, path, ctx)
        .as_i64()
        .unwrap_or_else(|| panic!("{ctx}: {} is not an integer", path.join(".")))
}

fn list_at<'a>(v: &'a Value, path: &[&str], ctx: &str) -> &'a Vec<Value> {
    at(v, path, ctx)
        .as_array()
        .unwrap_or_else(|| panic!("{ctx}: {} is not a list", path.join(".")))
}

fn kind(doc: &Value) -> &str {
    doc["kind"].as_str().unwrap_or("")
}

fn name(doc: &Value) -> &str {
    doc["metadata"]["name"].as_str().unwrap_or("")
}

fn labels(v: &Value, path: &[&str], ctx: &str) -> BTreeMap<String, String> {
    at(v, path, ctx)
        .as_object()
        .unwrap_or_else(|| panic!("{ctx}: {} is not a mapping", path.join(".")))
        .iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .unwrap_or_else(|| panic!("{ctx}: label {k} is not a string"));
            (k.clone(), v.to_string())
        })
        .collect()
}

fn is_subset(small: &BTreeMap<String, String>, big: &BTreeMap<String, String>) -> bool {
    !small.is_empty() && small.iter().all(|(k, v)| big.get(k) == Some(v))
}

fn only<'a>(docs: &'a [Value], k: &str, file: &str) -> &'a Value {
    let found: Vec<&Value> = docs.iter().filter(|d| kind(d) == k).collect();
    assert_eq!(found.len(), 1, "{file}: expected exactly one {k}");
    found[0]
}

/// Memory quantities in bytes ("32Mi", "128Mi", "1Gi", plain bytes).
fn memory_bytes(q: &str, ctx: &str) -> u64 {
    let units = [
        ("Ki", 1u64 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("K", 1000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
    ];
    for (suffix, mult) in units {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<u64>().unwrap_or_else(|_| panic!("{ctx}: {q}")) * mult;
        }
    }
    q.parse().unwrap_or_else(|_| panic!("{ctx}: {q}"))
}

// ---------------------------------------------------------------------------------------------
// The Dockerfile

#[derive(Debug)]
struct Instr {
    op: String,
    args: String,
    line: usize,
}

/// Instructions with continuation lines joined and comments dropped.
fn dockerfile() -> Vec<Instr> {
    let text = read("Dockerfile");
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('#') || (cur.is_empty() && t.is_empty()) {
            continue;
        }
        if cur.is_empty() {
            start = i + 1;
        }
        if let Some(part) = t.strip_suffix('\\') {
            cur.push_str(part);
            cur.push(' ');
            continue;
        }
        cur.push_str(t);
        let (op, args) = cur.split_once(char::is_whitespace).unwrap_or((&cur, ""));
        out.push(Instr {
            op: op.to_ascii_uppercase(),
            args: args.trim().to_string(),
            line: start,
        });
        cur.clear();
    }
    assert!(
        cur.trim().is_empty(),
        "Dockerfile: ends inside a continued line"
    );
    out
}

/// An exec-form (JSON array) argument list. The runtime image has no shell, so a shell-form
/// ENTRYPOINT or CMD could not start.
fn exec_form(i: &Instr) -> Vec<String> {
    serde_json::from_str(&i.args).unwrap_or_else(|_| {
        panic!(
            "Dockerfile:{}: {} must be in exec form (a JSON array): the runtime image has no shell",
            i.line, i.op
        )
    })
}

fn instr<'a>(instrs: &'a [Instr], op: &str) -> Vec<&'a Instr> {
    instrs.iter().filter(|i| i.op == op).collect()
}

/// The image's configuration path: the argument after `--config` in CMD.
fn docker_config_path() -> String {
    let instrs = dockerfile();
    let cmd = instr(&instrs, "CMD");
    assert_eq!(cmd.len(), 1, "Dockerfile: expected one CMD");
    config_arg(&exec_form(cmd[0]), "Dockerfile CMD")
}

fn config_arg(args: &[String], ctx: &str) -> String {
    assert_eq!(
        args.first().map(String::as_str),
        Some("run"),
        "{ctx}: the command must be `run`: {args:?}"
    );
    let i = args
        .iter()
        .position(|a| a == "--config")
        .unwrap_or_else(|| panic!("{ctx}: no --config argument: {args:?}"));
    args.get(i + 1)
        .unwrap_or_else(|| panic!("{ctx}: --config without a path"))
        .clone()
}

// ---------------------------------------------------------------------------------------------
// The consentry container of a pod, checked against the ConfigMap it mounts

struct Checked {
    config: Config,
    config_path: String,
    pod: Value,
    container: Value,
    pod_labels: BTreeMap<String, String>,
    prestop_sleep: i64,
}

/// The TOML of a ConfigMap key, loaded with the real loader as if from `path`.
fn configmap_config(cm: &Value, path: &str, ctx: &str) -> Config {
    let file = Path::new(path)
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or_else(|| panic!("{ctx}: --config {path} has no file name"));
    let text = text_at(cm, &["data", file], ctx);
    Config::from_str(Path::new(path), text)
        .unwrap_or_else(|e| panic!("{ctx}: the ConfigMap's {file} does not load: {e}"))
}

/// Resolves a probe's or Service's port (a number or a container port name) to a number.
fn resolve_port(port: &Value, containers: &[Value], ctx: &str) -> u16 {
    if let Some(n) = port.as_u64() {
        return u16::try_from(n).unwrap_or_else(|_| panic!("{ctx}: port {n}"));
    }
    let wanted = port
        .as_str()
        .unwrap_or_else(|| panic!("{ctx}: port {port} is neither a number nor a name"));
    let found: Vec<i64> = containers
        .iter()
        .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
        .filter(|p| p["name"].as_str() == Some(wanted))
        .map(|p| int_at(&p, &["containerPort"], ctx))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{ctx}: port name {wanted:?} must name exactly one container port in the pod"
    );
    found[0] as u16
}

fn named_port(container: &Value, port_name: &str, ctx: &str) -> u16 {
    resolve_port(
        &Value::String(port_name.into()),
        std::slice::from_ref(container),
        ctx,
    )
}

fn prestop_sleep(container: &Value, ctx: &str) -> i64 {
    let Some(lifecycle) = opt(container, &["lifecycle"]) else {
        return 0;
    };
    assert!(
        opt(lifecycle, &["postStart"]).is_none(),
        "{ctx}: no postStart hook: the image has no shell or tools to run one"
    );
    let Some(pre) = opt(lifecycle, &["preStop"]) else {
        return 0;
    };
    let keys: Vec<&String> = pre
        .as_object()
        .expect("preStop is a mapping")
        .keys()
        .collect();
    assert_eq!(
        keys,
        ["sleep"],
        "{ctx}: the preStop hook must be the kubelet's `sleep` action: the image has no shell for exec"
    );
    let s = int_at(pre, &["sleep", "seconds"], ctx);
    assert!(s > 0, "{ctx}: preStop sleep must be positive");
    s
}

fn check_consentry_pod(workload: &Value, configmaps: &[&Value], file: &str) -> Checked {
    let ctx = format!("{file}: Deployment {}", name(workload));
    let ctx = ctx.as_str();
    assert_eq!(text_at(workload, &["apiVersion"], ctx), "apps/v1");
    let pod = at(workload, &["spec", "template", "spec"], ctx).clone();
    let pod_labels = labels(workload, &["spec", "template", "metadata", "labels"], ctx);
    let selector = labels(workload, &["spec", "selector", "matchLabels"], ctx);
    assert!(
        is_subset(&selector, &pod_labels),
        "{ctx}: the selector {selector:?} does not select the pod template's labels {pod_labels:?}"
    );
    let containers = list_at(&pod, &["containers"], ctx).clone();
    let matching: Vec<&Value> = containers
        .iter()
        .filter(|c| c["name"].as_str() == Some("consentry"))
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "{ctx}: expected one container named consentry"
    );
    let c = matching[0].clone();

    // The image: the Dockerfile's ENTRYPOINT runs, with the arguments below.
    let image = text_at(&c, &["image"], ctx);
    let (image_name, tag) = image
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{ctx}: image {image} has no tag"));
    assert!(image_name.ends_with("consentry"), "{ctx}: image {image}");
    assert_eq!(
        tag,
        env!("CARGO_PKG_VERSION"),
        "{ctx}: the image tag should be the crate's version"
    );
    assert!(
        opt(&c, &["command"]).is_none(),
        "{ctx}: `command` would replace the image's ENTRYPOINT; set `args` only"
    );
    let args: Vec<String> = list_at(&c, &["args"], ctx)
        .iter()
        .map(|a| a.as_str().expect("args are strings").to_string())
        .collect();
    let config_path = config_arg(&args, ctx);
    // Anything besides `run --config PATH` must be an option `run` accepts.
    let mut rest = args.iter().skip(1);
    while let Some(a) = rest.next() {
        match a.as_str() {
            "--config" => {
                rest.next();
            }
            "--log-format" => {
                let f = rest.next().map(String::as_str);
                assert!(
                    matches!(f, Some("json" | "text")),
                    "{ctx}: --log-format {f:?}"
                );
            }
            other => panic!("{ctx}: unexpected argument {other:?}"),
        }
    }
    if let Some(env) = opt(&c, &["env"]) {
        for e in env.as_array().expect("env is a list") {
            assert!(
                e.get("value").is_none_or(Value::is_string),
                "{ctx}: env {} must be a string (quote it)",
                e["name"]
            );
        }
    }

    // The configuration: mounted as a directory from a ConfigMap, never through subPath.
    let dir = Path::new(&config_path)
        .parent()
        .and_then(|d| d.to_str())
        .expect("the config path has a directory")
        .to_string();
    let mounts = list_at(&c, &["volumeMounts"], ctx);
    let mount = mounts
        .iter()
        .find(|m| m["mountPath"].as_str() == Some(dir.as_str()))
        .unwrap_or_else(|| panic!("{ctx}: nothing is mounted at {dir}, where --config points"));
    assert!(
        opt(mount, &["subPath"]).is_none() && opt(mount, &["subPathExpr"]).is_none(),
        "{ctx}: a subPath mount never sees ConfigMap updates; mount the directory"
    );
    assert_eq!(
        mount["readOnly"],
        Value::Bool(true),
        "{ctx}: mount the configuration read-only"
    );
    let volume_name = text_at(mount, &["name"], ctx);
    let volume = list_at(&pod, &["volumes"], ctx)
        .iter()
        .find(|v| v["name"].as_str() == Some(volume_name))
        .unwrap_or_else(|| panic!("{ctx}: no volume named {volume_name}"));
    let cm_name = text_at(volume, &["configMap", "name"], ctx);
    assert!(
        opt(volume, &["configMap", "items"]).is_none(),
        "{ctx}: list no `items`: every key of the ConfigMap (includes too) should be a file"
    );
    let cm = configmaps
        .iter()
        .find(|cm| name(cm) == cm_name)
        .unwrap_or_else(|| panic!("{ctx}: the ConfigMap {cm_name} is not among the manifests"));
    let config = configmap_config(cm, &config_path, &format!("{file}: ConfigMap {cm_name}"));

    // Listeners: reachable from outside the container, on the ports the pod declares.
    let http = config.listen.http.expect("the ConfigMap sets listen.http");
    let admin = config
        .admin
        .listen
        .expect("the ConfigMap keeps the admin listener");
    for (key, addr) in [("listen.http", http), ("admin.listen", admin)] {
        assert!(
            addr.ip().is_unspecified(),
            "{ctx}: {key} is {addr}; in a container it must bind 0.0.0.0 (or [::]) to be reachable"
        );
    }
    assert_eq!(named_port(&c, "http", ctx), http.port(), "{ctx}: port http");
    assert_eq!(
        named_port(&c, "admin", ctx),
        admin.port(),
        "{ctx}: port admin"
    );

    // Probes on the admin listener.
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        let get = at(&c, &[probe, "httpGet"], ctx);
        assert_eq!(text_at(get, &["path"], ctx), path, "{ctx}: {probe} path");
        assert_eq!(
            resolve_port(at(get, &["port"], ctx), &containers, ctx),
            admin.port(),
            "{ctx}: {probe} must target the admin listener"
        );
        assert!(
            get.get("scheme").is_none_or(|s| s == "HTTP"),
            "{ctx}: the admin listener is plain HTTP"
        );
    }

    // Shutdown: the kubelet waits for the preStop sleep plus the drain before it kills.
    let sleep = prestop_sleep(&c, ctx);
    let grace = int_at(&pod, &["terminationGracePeriodSeconds"], ctx);
    let needed = Duration::from_secs(sleep as u64) + config.server.shutdown_grace;
    assert!(
        Duration::from_secs(grace as u64) > needed,
        "{ctx}: terminationGracePeriodSeconds {grace} must exceed the preStop sleep ({sleep}s) plus shutdown_grace ({:?})",
        config.server.shutdown_grace
    );

    // Security.
    let pod_sc = opt(&pod, &["securityContext"])
        .cloned()
        .unwrap_or(Value::Null);
    let sc = at(&c, &["securityContext"], ctx);
    let either = |key: &str| sc.get(key).or_else(|| pod_sc.get(key)).cloned();
    assert_eq!(
        either("runAsNonRoot"),
        Some(Value::Bool(true)),
        "{ctx}: runAsNonRoot"
    );
    assert_eq!(
        either("runAsUser").and_then(|v| v.as_i64()),
        Some(NONROOT),
        "{ctx}: runAsUser should be the image's numeric nonroot user, so runAsNonRoot can be verified"
    );
    assert_eq!(
        either("seccompProfile").map(|p| p["type"].clone()),
        Some(Value::String("RuntimeDefault".into())),
        "{ctx}: seccompProfile"
    );
    assert_eq!(
        sc["allowPrivilegeEscalation"],
        Value::Bool(false),
        "{ctx}: allowPrivilegeEscalation"
    );
    assert_eq!(
        sc["readOnlyRootFilesystem"],
        Value::Bool(true),
        "{ctx}: readOnlyRootFilesystem"
    );
    assert_ne!(sc["privileged"], Value::Bool(true), "{ctx}: privileged");
    let drop = list_at(sc, &["capabilities", "drop"], ctx);
    assert!(
        drop.contains(&Value::String("ALL".into())),
        "{ctx}: drop ALL capabilities"
    );
    if http.port() >= 1024 && admin.port() >= 1024 {
        assert!(
            opt(sc, &["capabilities", "add"]).is_none(),
            "{ctx}: ports above 1024 need no capability"
        );
    }

    // Resources.
    text_at(&c, &["resources", "requests", "cpu"], ctx);
    let req = memory_bytes(text_at(&c, &["resources", "requests", "memory"], ctx), ctx);
    let lim = memory_bytes(text_at(&c, &["resources", "limits", "memory"], ctx), ctx);
    assert!(req <= lim, "{ctx}: memory request above the limit");

    Checked {
        config,
        config_path,
        pod,
        container: c,
        pod_labels,
        prestop_sleep: sleep,
    }
}

fn k8s(file: &str) -> Vec<Value> {
    yaml_docs(&format!("{K8S}/{file}"))
}

fn main_deployment() -> Checked {
    let cms = k8s("configmap.yaml");
    let deploy = k8s("deployment.yaml");
    let d = only(&deploy, "Deployment", "deployment.yaml");
    check_consentry_pod(d, &cms.iter().collect::<Vec<_>>(), "deployment.yaml")
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

#[test]
fn kubernetes_manifests_parse_and_have_the_expected_kinds() {
    let expected: BTreeMap<&str, Vec<(&str, &str)>> = [
        ("configmap.yaml", vec![("v1", "ConfigMap")]),
        ("deployment.yaml", vec![("apps/v1", "Deployment")]),
        ("service.yaml", vec![("v1", "Service")]),
        ("pdb.yaml", vec![("policy/v1", "PodDisruptionBudget")]),
        (
            "hpa.yaml",
            vec![("autoscaling/v2", "HorizontalPodAutoscaler")],
        ),
        (
            "servicemonitor.yaml",
            vec![("monitoring.coreos.com/v1", "ServiceMonitor")],
        ),
        (
            "kustomization.yaml",
            vec![("kustomize.config.k8s.io/v1beta1", "Kustomization")],
        ),
        (
            "sidecar.yaml",
            vec![
                ("v1", "ConfigMap"),
                ("apps/v1", "Deployment"),
                ("v1", "Service"),
            ],
        ),
    ]
    .into_iter()
    .collect();
    // Every file in the directory is one of these: nothing goes unchecked.
    let present: BTreeSet<String> = std::fs::read_dir(root().join(K8S))
        .unwrap_or_else(|e| panic!("{K8S}: {e}"))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let wanted: BTreeSet<String> = expected.keys().map(|k| k.to_string()).collect();
    assert_eq!(
        present, wanted,
        "{K8S}: the files differ from the ones checked"
    );

    for (file, kinds) in &expected {
        let docs = k8s(file);
        let got: Vec<(&str, &str)> = docs
            .iter()
            .map(|d| (d["apiVersion"].as_str().unwrap_or(""), kind(d)))
            .collect();
        assert_eq!(&got, kinds, "{file}: apiVersion/kind");
        for d in &docs {
            if kind(d) == "Kustomization" {
                continue;
            }
            let n = name(d);
            assert!(
                !n.is_empty()
                    && n.len() <= 63
                    && n.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !n.starts_with('-')
                    && !n.ends_with('-'),
                "{file}: {} has no valid metadata.name: {n:?}",
                kind(d)
            );
            assert!(
                opt(d, &["metadata", "namespace"]).is_none(),
                "{file}: leave the namespace to `kubectl -n` or kustomize"
            );
        }
    }
}

#[test]
fn kustomization_lists_every_manifest_but_the_sidecar_example() {
    let k = &k8s("kustomization.yaml")[0];
    let resources: BTreeSet<&str> = list_at(k, &["resources"], "kustomization.yaml")
        .iter()
        .map(|r| r.as_str().expect("resources are paths"))
        .collect();
    let expected: BTreeSet<&str> = [
        "configmap.yaml",
        "deployment.yaml",
        "service.yaml",
        "pdb.yaml",
        "hpa.yaml",
        "servicemonitor.yaml",
    ]
    .into_iter()
    .collect();
    assert_eq!(resources, expected, "kustomization.yaml resources");
    // configMapGenerator would add a hash to the name and roll the pods on every change instead
    // of letting consentry reload in place; the manifests document the in-place reload.
    assert!(
        opt(k, &["configMapGenerator"]).is_none(),
        "kustomization.yaml: the ConfigMap is a plain resource, reloaded in place"
    );
    let deploy = main_deployment();
    let image = text_at(&deploy.container, &["image"], "deployment.yaml");
    let image_name = image.rsplit_once(':').unwrap().0;
    let images = list_at(k, &["images"], "kustomization.yaml");
    let entry = images
        .iter()
        .find(|i| i["name"].as_str() == Some(image_name))
        .unwrap_or_else(|| panic!("kustomization.yaml: no images entry for {image_name}"));
    assert_eq!(
        entry["newTag"].as_str(),
        Some(env!("CARGO_PKG_VERSION")),
        "kustomization.yaml: newTag should be the crate's version"
    );
}

#[test]
fn configmap_is_a_configuration_the_real_loader_accepts() {
    let d = main_deployment();
    let c = &d.config;
    assert_eq!(
        d.config_path,
        docker_config_path(),
        "deployment.yaml: --config differs from the image's CMD"
    );
    // The upstream is the application's Service, not something inside this pod.
    assert_eq!(c.upstream.authority.host(), "shop");
    assert!(!c.upstream.https);
    // The one expected warning: the admin listener is not loopback and has no token.
    for w in &c.warnings {
        assert!(
            w.contains("admin.listen"),
            "configmap.yaml: unexpected warning: {w}"
        );
    }
    assert!(c.server.workers >= 1);

    // The same categories and cookie rules as the example configuration.
    let example_path = root().join("config/consentry.toml");
    let example = Config::load(&example_path).unwrap_or_else(|e| panic!("{e}"));
    let rules = |c: &Config| -> BTreeSet<(String, bool, String)> {
        let p = &c.policy;
        p.matcher
            .rules()
            .iter()
            .map(|r| {
                (
                    p.categories.name(r.category).to_string(),
                    p.categories.required().contains(r.category),
                    r.pattern.to_string(),
                )
            })
            .collect()
    };
    assert_eq!(
        rules(c),
        rules(&example),
        "configmap.yaml: the categories differ from config/consentry.toml"
    );
}

#[test]
fn deployment_replicas_probes_and_security() {
    let d = main_deployment();
    let deploy = k8s("deployment.yaml");
    let dep = only(&deploy, "Deployment", "deployment.yaml");
    let replicas = int_at(dep, &["spec", "replicas"], "deployment.yaml");
    assert_eq!(replicas, 2, "deployment.yaml: replicas");
    assert_eq!(
        d.pod["automountServiceAccountToken"],
        Value::Bool(false),
        "deployment.yaml: consentry needs no API token"
    );
    assert!(
        d.prestop_sleep > 0,
        "deployment.yaml: a preStop sleep covers endpoint propagation"
    );
    // A rollout never takes serving capacity away.
    assert_eq!(
        opt(
            dep,
            &["spec", "strategy", "rollingUpdate", "maxUnavailable"]
        )
        .and_then(Value::as_i64),
        Some(0)
    );
}

#[test]
fn service_and_servicemonitor_reach_the_named_ports() {
    let d = main_deployment();
    let containers = list_at(&d.pod, &["containers"], "deployment.yaml").clone();
    let svc_docs = k8s("service.yaml");
    let svc = only(&svc_docs, "Service", "service.yaml");
    let selector = labels(svc, &["spec", "selector"], "service.yaml");
    assert!(
        is_subset(&selector, &d.pod_labels),
        "service.yaml: the selector does not match the Deployment's pods"
    );
    let ports = list_at(svc, &["spec", "ports"], "service.yaml");
    let by_name = |n: &str| -> &Value {
        ports
            .iter()
            .find(|p| p["name"].as_str() == Some(n))
            .unwrap_or_else(|| panic!("service.yaml: no port named {n}"))
    };
    let http = by_name("http");
    assert_eq!(int_at(http, &["port"], "service.yaml"), 80);
    assert_eq!(
        resolve_port(
            at(http, &["targetPort"], "service.yaml"),
            &containers,
            "service.yaml"
        ),
        d.config.listen.http.unwrap().port()
    );
    let admin = by_name("admin");
    let admin_port = d.config.admin.listen.unwrap().port();
    assert_eq!(
        int_at(admin, &["port"], "service.yaml"),
        i64::from(admin_port)
    );
    assert_eq!(
        resolve_port(
            at(admin, &["targetPort"], "service.yaml"),
            &containers,
            "service.yaml"
        ),
        admin_port
    );

    let sm_docs = k8s("servicemonitor.yaml");
    let sm = only(&sm_docs, "ServiceMonitor", "servicemonitor.yaml");
    let sm_selector = labels(
        sm,
        &["spec", "selector", "matchLabels"],
        "servicemonitor.yaml",
    );
    let svc_labels = labels(svc, &["metadata", "labels"], "service.yaml");
    assert!(
        is_subset(&sm_selector, &svc_labels),
        "servicemonitor.yaml: the selector does not match the Service's labels"
    );
    let endpoints = list_at(sm, &["spec", "endpoints"], "servicemonitor.yaml");
    assert_eq!(endpoints.len(), 1);
    let ep = &endpoints[0];
    assert_eq!(text_at(ep, &["port"], "servicemonitor.yaml"), "admin");
    assert_eq!(text_at(ep, &["path"], "servicemonitor.yaml"), "/metrics");
    assert!(ep.get("scheme").is_none_or(|s| s == "http"));
}

#[test]
fn pdb_and_hpa_target_the_deployment() {
    let d = main_deployment();
    let deploy = k8s("deployment.yaml");
    let dep = only(&deploy, "Deployment", "deployment.yaml");
    let replicas = int_at(dep, &["spec", "replicas"], "deployment.yaml");

    let pdb_docs = k8s("pdb.yaml");
    let pdb = only(&pdb_docs, "PodDisruptionBudget", "pdb.yaml");
    assert_eq!(int_at(pdb, &["spec", "minAvailable"], "pdb.yaml"), 1);
    assert!(
        is_subset(
            &labels(pdb, &["spec", "selector", "matchLabels"], "pdb.yaml"),
            &d.pod_labels
        ),
        "pdb.yaml: the selector does not match the Deployment's pods"
    );

    let hpa_docs = k8s("hpa.yaml");
    let hpa = only(&hpa_docs, "HorizontalPodAutoscaler", "hpa.yaml");
    let target = at(hpa, &["spec", "scaleTargetRef"], "hpa.yaml");
    assert_eq!(target["apiVersion"], "apps/v1");
    assert_eq!(target["kind"], "Deployment");
    assert_eq!(target["name"].as_str(), Some(name(dep)));
    let min = int_at(hpa, &["spec", "minReplicas"], "hpa.yaml");
    let max = int_at(hpa, &["spec", "maxReplicas"], "hpa.yaml");
    assert_eq!(
        min, replicas,
        "hpa.yaml: minReplicas should match the Deployment"
    );
    assert!(min < max);
    // With minAvailable 1, a single replica could never be evicted.
    assert!(min >= 2, "hpa.yaml: minReplicas must leave the PDB room");
    let metrics = list_at(hpa, &["spec", "metrics"], "hpa.yaml");
    let cpu = metrics
        .iter()
        .find(|m| m["type"] == "Resource" && m["resource"]["name"] == "cpu")
        .expect("hpa.yaml: a CPU resource metric");
    assert_eq!(cpu["resource"]["target"]["type"], "Utilization");
    let pct = int_at(
        cpu,
        &["resource", "target", "averageUtilization"],
        "hpa.yaml",
    );
    assert!((1..=100).contains(&pct));
    // Utilization is relative to the request: every container needs one.
    for c in list_at(&d.pod, &["containers"], "deployment.yaml") {
        text_at(c, &["resources", "requests", "cpu"], "deployment.yaml");
    }
}

#[test]
fn sidecar_pod_fronts_its_application_over_loopback() {
    let file = "sidecar.yaml";
    let docs = k8s(file);
    let cms: Vec<&Value> = docs.iter().filter(|d| kind(d) == "ConfigMap").collect();
    let dep = only(&docs, "Deployment", file);
    let d = check_consentry_pod(dep, &cms, file);
    assert_eq!(d.config_path, docker_config_path(), "{file}: --config");
    let up = &d.config.upstream.authority;
    let up_ip: std::net::IpAddr = up.host().parse().expect("the sidecar's upstream is an IP");
    assert!(
        up_ip.is_loopback(),
        "{file}: the application is reached over loopback"
    );
    let app_port = up.port_u16().expect("the upstream names its port");

    let containers = list_at(&d.pod, &["containers"], file).clone();
    let apps: Vec<&Value> = containers
        .iter()
        .filter(|c| c["name"].as_str() != Some("consentry"))
        .collect();
    assert!(!apps.is_empty(), "{file}: no application container");
    let grace = int_at(&d.pod, &["terminationGracePeriodSeconds"], file);
    for app in &apps {
        let ctx = format!("{file}: container {}", app["name"]);
        // Reachable only through consentry: the application declares no port a Service could use.
        assert!(
            opt(app, &["ports"]).is_none(),
            "{ctx}: the application listens on loopback only and should declare no port"
        );
        // Both containers are told to stop at once; the application must outlive the drain.
        let sleep = prestop_sleep(app, &ctx);
        let drain = Duration::from_secs(d.prestop_sleep as u64) + d.config.server.shutdown_grace;
        assert!(
            Duration::from_secs(sleep as u64) >= drain,
            "{ctx}: preStop sleep {sleep}s must cover consentry's sleep and drain ({drain:?})"
        );
        assert!(
            grace > sleep,
            "{ctx}: terminationGracePeriodSeconds must exceed the sleep"
        );
    }

    let svc = only(&docs, "Service", file);
    assert!(
        is_subset(&labels(svc, &["spec", "selector"], file), &d.pod_labels),
        "{file}: the Service does not select the pod"
    );
    let consentry_ports: BTreeSet<u16> = [
        d.config.listen.http.unwrap().port(),
        d.config.admin.listen.unwrap().port(),
    ]
    .into();
    let mut targets = BTreeSet::new();
    for p in list_at(svc, &["spec", "ports"], file) {
        let t = resolve_port(at(p, &["targetPort"], file), &containers, file);
        assert_ne!(t, app_port, "{file}: the Service must not bypass consentry");
        assert!(
            consentry_ports.contains(&t),
            "{file}: port {t} is not consentry's"
        );
        targets.insert(t);
    }
    assert!(targets.contains(&d.config.listen.http.unwrap().port()));
    let http = list_at(svc, &["spec", "ports"], file)
        .iter()
        .find(|p| p["name"] == "http")
        .expect("sidecar Service port http");
    assert_eq!(
        resolve_port(&http["targetPort"], &containers, file),
        named_port(&d.container, "http", file)
    );
}

/// The manifests' admin paths, asked of a real admin listener started from each ConfigMap (with
/// its addresses moved to loopback port 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_paths_named_by_the_manifests_answer() {
    let mut cases = Vec::new();
    let main = main_deployment();
    let sm_docs = k8s("servicemonitor.yaml");
    let sm = only(&sm_docs, "ServiceMonitor", "servicemonitor.yaml");
    let metrics_path = text_at(
        sm,
        &["spec", "endpoints", "0", "path"],
        "servicemonitor.yaml",
    );
    cases.push(("deployment.yaml", main));
    let side_docs = k8s("sidecar.yaml");
    let cms: Vec<&Value> = side_docs
        .iter()
        .filter(|d| kind(d) == "ConfigMap")
        .collect();
    cases.push((
        "sidecar.yaml",
        check_consentry_pod(
            only(&side_docs, "Deployment", "sidecar.yaml"),
            &cms,
            "sidecar.yaml",
        ),
    ));
    let client = common::client();
    for (file, d) in cases {
        let mut config = d.config.clone();
        config.listen.http = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.admin.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        let running = consentry::server::start(config, Default::default())
            .await
            .unwrap_or_else(|e| panic!("{file}: cannot start: {e}"));
        let admin = running.admin.expect("admin listener");
        let mut paths = vec![metrics_path.to_string()];
        for probe in ["readinessProbe", "livenessProbe"] {
            paths.push(text_at(&d.container, &[probe, "httpGet", "path"], file).to_string());
        }
        for path in paths {
            let (status, body) = common::admin_get(&client, admin, &path).await;
            assert_eq!(
                status, 200,
                "{file}: GET {path} on the admin listener: {body}"
            );
            if path == metrics_path {
                assert!(
                    body.contains("consentry_build_info"),
                    "{file}: {path}: {body}"
                );
            }
        }
        assert!(running.drain().await, "{file}: drain");
    }
}

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

// ---------------------------------------------------------------------------------------------
// Grafana

/// The metric families of the contract (PRODUCT.md) and their types.
const CONTRACT: &[(&str, &str)] = &[
    ("consentry_set_cookie_blocked_total", "counter"),
    ("consentry_set_cookie_would_block_total", "counter"),
    ("consentry_set_cookie_passed_total", "counter"),
    ("consentry_cookie_deletions_total", "counter"),
    ("consentry_request_cookies_stripped_total", "counter"),
    ("consentry_consent_total", "counter"),
    ("consentry_gpc_requests_total", "counter"),
    ("consentry_http_requests_total", "counter"),
    ("consentry_http_request_duration_seconds", "histogram"),
    ("consentry_upstream_errors_total", "counter"),
    ("consentry_config_reloads_total", "counter"),
    ("consentry_build_info", "gauge"),
];

/// What the binary exports: every family (name -> type) and every sample name, from a metrics
/// registry that has seen one enforcing and one report-only request (label sets are created on
/// first use, and the text format leaves out families with none).
fn exported() -> (BTreeMap<String, String>, BTreeSet<String>) {
    let metrics = Metrics::new();
    let text = read(&format!("{K8S}/configmap.yaml"));
    let cm_docs = YamlLoader::load_from_str(&text).unwrap();
    let toml = cm_docs[0]["data"]["consentry.toml"]
        .as_str()
        .unwrap()
        .to_string();
    let report_only = toml.replace("mode = \"enforce\"", "mode = \"report-only\"");
    assert_ne!(toml, report_only);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for text in [toml, report_only] {
        let config = Config::from_str(Path::new("consentry.toml"), &text).unwrap();
        let policy = &*config.policy;
        let pm = PolicyMetrics::new(&metrics, policy);
        let consent = policy.decide("consentry=functional; _ga=GA1.2; _fbp=fb.1", false);
        pm.consent(&consent);
        let mut obs = pm.observer(&metrics, policy);
        let mut headers = http::HeaderMap::new();
        for line in [
            "_ga=GA1.2.3.4; Path=/",
            "ZD-settings=x; Path=/",
            "invented=1",
        ] {
            headers.append(http::header::SET_COOKIE, line.parse().unwrap());
        }
        policy.filter_set_cookies(&consent, &mut headers, now, &mut obs);
        let plan = policy.plan_request(&consent, "_ga=GA1.2; _fbp=fb.1; session=abc");
        policy.cleanup_lines(&plan, "www.example.com", &mut obs);
        policy.report_stripped(&plan, &mut obs);
    }
    metrics.gpc.inc();
    metrics.duration.observe(0.01);

    let rendered = metrics.render();
    let mut families = BTreeMap::new();
    let mut samples = BTreeSet::new();
    for line in rendered.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').unwrap();
            families.insert(name.to_string(), ty.to_string());
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            samples.insert(line[..end].to_string());
        }
    }
    (families, samples)
}

fn metric_names(expr: &str) -> BTreeSet<String> {
    // Drop string literals (label values, regexes) first.
    let mut code = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for ch in expr.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if ch == '\\' && q != '`' {
                    escaped = true;
                } else if ch == q {
                    quote = None;
                }
            }
            None if matches!(ch, '"' | '\'' | '`') => quote = Some(ch),
            None => code.push(ch),
        }
    }
    assert!(quote.is_none(), "unterminated string in {expr}");
    consentry_words(&code)
}

/// Words that start with `consentry_`.
fn consentry_words(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut word = String::new();
    for ch in code.chars().chain(std::iter::once(' ')) {
        if ch.is_ascii_alphanumeric() || ch == '_' || ch == ':' {
            word.push(ch);
        } else {
            // A colon may be part of a (recorded) metric name, but not its last character.
            let w = word.trim_end_matches(':');
            if w.starts_with("consentry_") {
                names.insert(w.to_string());
            }
            word.clear();
        }
    }
    names
}

fn balanced(expr: &str) -> bool {
    let mut stack = Vec::new();
    let mut quote = None;
    for ch in expr.chars() {
        if let Some(q) = quote {
            if ch == q {
                quote = None;
            }
            continue;
        }
        let open = match ch {
            '"' => {
                quote = Some(ch);
                continue;
            }
            '(' | '[' | '{' => {
                stack.push(ch);
                continue;
            }
            ')' => '(',
            ']' => '[',
            '}' => '{',
            _ => continue,
        };
        if stack.pop() != Some(open) {
            return false;
        }
    }
    stack.is_empty() && quote.is_none()
}

/// Every panel, rows' nested panels included.
fn panels(dash: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dash["panels"].as_array().expect("panels") {
        out.push(p);
        if let Some(inner) = p["panels"].as_array() {
            out.extend(inner.iter());
        }
    }
    out
}

#[test]
fn the_exported_metrics_are_the_contract() {
    let (families, samples) = exported();
    for (name, ty) in CONTRACT {
        assert_eq!(
            families.get(*name).map(String::as_str),
            Some(*ty),
            "the binary does not export {name} as a {ty}"
        );
    }
    assert!(samples.contains("consentry_http_request_duration_seconds_bucket"));
    assert!(samples.contains("consentry_http_request_duration_seconds_sum"));
    assert!(samples.contains("consentry_http_request_duration_seconds_count"));
}

#[test]
fn dashboard_queries_only_exported_metrics_and_uses_them_all() {
    let text = read(DASHBOARD);
    let dash: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{DASHBOARD}: {e}"));
    let (families, samples) = exported();

    let schema = dash["schemaVersion"].as_i64().expect("schemaVersion");
    assert!(
        (36..=41).contains(&schema),
        "{DASHBOARD}: schemaVersion {schema}"
    );
    assert!(dash["uid"].is_string() && dash["title"].is_string());

    // The data source is chosen at import (or provisioning) through the DS_PROMETHEUS variable.
    let vars = dash["templating"]["list"]
        .as_array()
        .expect("templating.list");
    let ds_var = vars
        .iter()
        .find(|v| v["name"] == "DS_PROMETHEUS")
        .unwrap_or_else(|| panic!("{DASHBOARD}: no DS_PROMETHEUS variable"));
    assert_eq!(ds_var["type"], "datasource");
    assert_eq!(ds_var["query"], "prometheus");
    let ds_ok = |ds: &Value| ds["uid"] == "${DS_PROMETHEUS}" && ds["type"] == "prometheus";

    let mut exprs: Vec<(String, String)> = Vec::new();
    for v in vars.iter().filter(|v| v["type"] == "query") {
        assert!(
            ds_ok(&v["datasource"]),
            "{DASHBOARD}: variable {} data source",
            v["name"]
        );
        let q = v["query"]["query"]
            .as_str()
            .or(v["query"].as_str())
            .expect("variable query");
        exprs.push((format!("variable {}", v["name"]), q.to_string()));
    }
    let mut ids = BTreeSet::new();
    for p in panels(&dash) {
        let title = p["title"].as_str().unwrap_or("?").to_string();
        assert!(
            ids.insert(p["id"].as_i64().expect("panel id")),
            "{DASHBOARD}: duplicate panel id in {title}"
        );
        let g = &p["gridPos"];
        let (x, w) = (
            g["x"].as_i64().expect("gridPos.x"),
            g["w"].as_i64().expect("gridPos.w"),
        );
        assert!(
            x >= 0 && w > 0 && x + w <= 24,
            "{DASHBOARD}: {title}: gridPos"
        );
        if p["type"] == "row" {
            continue;
        }
        assert!(ds_ok(&p["datasource"]), "{DASHBOARD}: {title}: data source");
        let targets = p["targets"]
            .as_array()
            .unwrap_or_else(|| panic!("{DASHBOARD}: {title}: no targets"));
        assert!(!targets.is_empty(), "{DASHBOARD}: {title}: no targets");
        let mut refs = BTreeSet::new();
        for t in targets {
            assert!(
                t.get("datasource").is_none_or(ds_ok),
                "{DASHBOARD}: {title}: target data source"
            );
            assert!(
                refs.insert(t["refId"].as_str().expect("refId")),
                "{DASHBOARD}: {title}: duplicate refId"
            );
            let e = t["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("{DASHBOARD}: {title}: a target without expr"));
            exprs.push((title.clone(), e.to_string()));
        }
    }

    let mut used = BTreeSet::new();
    for (where_, e) in &exprs {
        assert!(
            !e.contains("__name__"),
            "{DASHBOARD}: {where_}: name matchers cannot be checked: {e}"
        );
        assert!(
            balanced(e),
            "{DASHBOARD}: {where_}: unbalanced brackets: {e}"
        );
        let names = metric_names(e);
        assert!(
            !names.is_empty(),
            "{DASHBOARD}: {where_}: no consentry metric in {e}"
        );
        for n in names {
            assert!(
                samples.contains(&n),
                "{DASHBOARD}: {where_}: {n} is not a metric consentry exports"
            );
            used.insert(n);
        }
    }
    // Anywhere else in the file (descriptions), names must be real too.
    for n in consentry_words(&text) {
        let family_or_sample = samples.contains(&n) || families.contains_key(&n);
        assert!(
            family_or_sample,
            "{DASHBOARD}: mentions {n}, which consentry does not export"
        );
    }
    for (family, ty) in CONTRACT {
        let series: Vec<String> = if *ty == "histogram" {
            ["_bucket", "_sum", "_count"]
                .iter()
                .map(|s| format!("{family}{s}"))
                .collect()
        } else {
            vec![family.to_string()]
        };
        assert!(
            series.iter().any(|s| used.contains(s)),
            "{DASHBOARD}: no panel shows {family}"
        );
    }
    // Quantiles come from the histogram's buckets, aggregated by `le`.
    assert!(exprs
        .iter()
        .any(|(_, e)| e.contains("histogram_quantile(0.5")
            && e.contains("consentry_http_request_duration_seconds_bucket")
            && e.contains("by (le)")));
    assert!(exprs
        .iter()
        .any(|(_, e)| e.contains("histogram_quantile(0.99")));
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
