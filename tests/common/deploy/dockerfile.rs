//! The Dockerfile, read instruction by instruction.

use super::read;

#[derive(Debug)]
pub struct Instr {
    pub op: String,
    pub args: String,
    pub line: usize,
}

/// Instructions with continuation lines joined and comments dropped.
pub fn dockerfile() -> Vec<Instr> {
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
pub fn exec_form(i: &Instr) -> Vec<String> {
    serde_json::from_str(&i.args).unwrap_or_else(|_| {
        panic!(
            "Dockerfile:{}: {} must be in exec form (a JSON array): the runtime image has no shell",
            i.line, i.op
        )
    })
}

pub fn instr<'a>(instrs: &'a [Instr], op: &str) -> Vec<&'a Instr> {
    instrs.iter().filter(|i| i.op == op).collect()
}

/// The image's configuration path: the argument after `--config` in CMD.
pub fn docker_config_path() -> String {
    let instrs = dockerfile();
    let cmd = instr(&instrs, "CMD");
    assert_eq!(cmd.len(), 1, "Dockerfile: expected one CMD");
    config_arg(&exec_form(cmd[0]), "Dockerfile CMD")
}

pub fn config_arg(args: &[String], ctx: &str) -> String {
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
