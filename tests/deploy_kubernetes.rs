//! The Kubernetes manifests (`deploy/kubernetes/`) checked against the code they deploy: the
//! ConfigMap loads with the real loader, ports, probes and admin endpoints match the
//! configuration, and shutdown timing covers endpoint propagation.
//!
//! Every file is required: a missing one fails its test, it is never skipped.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use common::deploy::dockerfile::*;
use common::deploy::pod::*;
use common::deploy::*;
use consentry::config::Config;
use serde_json::Value;

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
