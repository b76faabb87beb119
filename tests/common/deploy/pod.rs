//! The consentry container of a pod, checked against the ConfigMap it mounts.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use consentry::config::Config;
use serde_json::Value;

use super::dockerfile::config_arg;
use super::*;

pub struct Checked {
    pub config: Config,
    pub config_path: String,
    pub pod: Value,
    pub container: Value,
    pub pod_labels: BTreeMap<String, String>,
    pub prestop_sleep: i64,
}

/// The TOML of a ConfigMap key, loaded with the real loader as if from `path`.
pub fn configmap_config(cm: &Value, path: &str, ctx: &str) -> Config {
    let file = Path::new(path)
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or_else(|| panic!("{ctx}: --config {path} has no file name"));
    let text = text_at(cm, &["data", file], ctx);
    Config::from_str(Path::new(path), text)
        .unwrap_or_else(|e| panic!("{ctx}: the ConfigMap's {file} does not load: {e}"))
}

/// Resolves a probe's or Service's port (a number or a container port name) to a number.
pub fn resolve_port(port: &Value, containers: &[Value], ctx: &str) -> u16 {
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

pub fn named_port(container: &Value, port_name: &str, ctx: &str) -> u16 {
    resolve_port(
        &Value::String(port_name.into()),
        std::slice::from_ref(container),
        ctx,
    )
}

pub fn prestop_sleep(container: &Value, ctx: &str) -> i64 {
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

pub fn check_consentry_pod(workload: &Value, configmaps: &[&Value], file: &str) -> Checked {
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

pub fn main_deployment() -> Checked {
    let cms = k8s("configmap.yaml");
    let deploy = k8s("deployment.yaml");
    let d = only(&deploy, "Deployment", "deployment.yaml");
    check_consentry_pod(d, &cms.iter().collect::<Vec<_>>(), "deployment.yaml")
}
