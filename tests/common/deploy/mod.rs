//! Reading the deployment material (`Dockerfile`, `deploy/`) for the deploy_* tests: files,
//! YAML documents (read with yaml-rust2 into serde_json values for easy navigation) and the
//! paths into them.

pub mod dockerfile;
pub mod pod;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

// ---------------------------------------------------------------------------------------------
// Files

pub const K8S: &str = "deploy/kubernetes";
pub const SYSTEMD_UNIT: &str = "deploy/systemd/consentry.service";
pub const DASHBOARD: &str = "deploy/grafana/consentry-dashboard.json";
pub const DOCKER_CONFIG: &str = "deploy/docker/consentry.toml";
pub const DEPLOY_README: &str = "deploy/README.md";

/// The UID and GID of the distroless `nonroot` user.
pub const NONROOT: i64 = 65532;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel))
        .unwrap_or_else(|e| panic!("{rel}: cannot read it ({e}); the file is required"))
}

// ---------------------------------------------------------------------------------------------
// YAML, read into serde_json values for easy navigation

pub fn yaml_to_json(y: &Yaml, ctx: &str) -> Value {
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
pub fn yaml_docs(rel: &str) -> Vec<Value> {
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

pub fn opt<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
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

pub fn at<'a>(v: &'a Value, path: &[&str], ctx: &str) -> &'a Value {
    opt(v, path).unwrap_or_else(|| panic!("{ctx}: {} is missing", path.join(".")))
}

pub fn text_at<'a>(v: &'a Value, path: &[&str], ctx: &str) -> &'a str {
    at(v, path, ctx)
        .as_str()
        .unwrap_or_else(|| panic!("{ctx}: {} is not a string", path.join(".")))
}

pub fn int_at(v: &Value, path: &[&str], ctx: &str) -> i64 {
    at(v, path, ctx)
        .as_i64()
        .unwrap_or_else(|| panic!("{ctx}: {} is not an integer", path.join(".")))
}

pub fn list_at<'a>(v: &'a Value, path: &[&str], ctx: &str) -> &'a Vec<Value> {
    at(v, path, ctx)
        .as_array()
        .unwrap_or_else(|| panic!("{ctx}: {} is not a list", path.join(".")))
}

pub fn kind(doc: &Value) -> &str {
    doc["kind"].as_str().unwrap_or("")
}

pub fn name(doc: &Value) -> &str {
    doc["metadata"]["name"].as_str().unwrap_or("")
}

pub fn labels(v: &Value, path: &[&str], ctx: &str) -> BTreeMap<String, String> {
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

pub fn is_subset(small: &BTreeMap<String, String>, big: &BTreeMap<String, String>) -> bool {
    !small.is_empty() && small.iter().all(|(k, v)| big.get(k) == Some(v))
}

pub fn only<'a>(docs: &'a [Value], k: &str, file: &str) -> &'a Value {
    let found: Vec<&Value> = docs.iter().filter(|d| kind(d) == k).collect();
    assert_eq!(found.len(), 1, "{file}: expected exactly one {k}");
    found[0]
}

/// Memory quantities in bytes ("32Mi", "128Mi", "1Gi", plain bytes).
pub fn memory_bytes(q: &str, ctx: &str) -> u64 {
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

pub fn k8s(file: &str) -> Vec<Value> {
    yaml_docs(&format!("{K8S}/{file}"))
}
