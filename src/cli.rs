//! The command line: `run`, `demo`, `check`, `explain`, `import-ocd`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};

use crate::config::{Config, DEFAULT_PATH};
use crate::explain;
use crate::logging::{self, LogFormat};
use crate::server;

#[derive(Debug, Parser)]
#[command(
    name = "consentry",
    version,
    about = "A reverse proxy that enforces cookie consent"
)]
pub struct Cli {
    /// Log output format.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the proxy. SIGHUP reloads the configuration; SIGTERM/SIGINT drain and exit.
    Run {
        #[arg(long, default_value = DEFAULT_PATH)]
        config: PathBuf,
    },
    /// The embedded demo site with the proxy in front, on loopback.
    Demo {
        /// The proxy's port (a free one is used when it is taken).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// The admin listener's port (likewise).
        #[arg(long, default_value_t = 9090)]
        admin_port: u16,
    },
    /// Validate and summarise the configuration; exit 1 with the error on a bad file.
    Check {
        #[arg(long, default_value = DEFAULT_PATH)]
        config: PathBuf,
    },
    /// Decide offline, with no network, exactly as the proxy would.
    Explain {
        #[arg(long, default_value = DEFAULT_PATH)]
        config: PathBuf,
        /// The request's Cookie header.
        #[arg(long)]
        cookie: Option<String>,
        /// The request carries `Sec-GPC: 1`.
        #[arg(long)]
        gpc: bool,
        /// The request's host (decides the cleanup domains).
        #[arg(long)]
        host: Option<String>,
        /// A response Set-Cookie line (repeatable).
        #[arg(long = "set-cookie")]
        set_cookie: Vec<String>,
        /// An HTML page: print what the proxy makes of it (with --json, a `page` list instead).
        #[arg(long)]
        html: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Turn an Open Cookie Database CSV into [categories.*] TOML (printed, or written to --output).
    ImportOcd {
        /// The CSV file.
        file: PathBuf,
        /// Write the TOML here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config } => {
            logging::init(cli.log_format);
            run(config)
        }
        Command::Check { config } => check(&config),
        Command::Demo { port, admin_port } => {
            logging::init(cli.log_format);
            demo(port, admin_port)
        }
        Command::ImportOcd { file, output } => import_ocd(&file, output.as_deref()),
        Command::Explain {
            config,
            cookie,
            gpc,
            host,
            set_cookie,
            html,
            json,
        } => {
            let cfg = match Config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let input = explain::Input {
                cookie,
                gpc,
                host,
                set_cookie,
            };
            let mut e = explain::explain(&cfg.policy, &input, now);
            if let Some(path) = html {
                let page = match std::fs::read(&path) {
                    Ok(p) => p,
                    Err(err) => {
                        eprintln!("error: {}: cannot read the file: {err}", path.display());
                        return ExitCode::FAILURE;
                    }
                };
                let p = match explain::explain_page(
                    &cfg.policy,
                    &cfg.page,
                    &input,
                    &page,
                    &crate::page::Prelude::none(),
                ) {
                    Ok(p) => p,
                    Err(err) => {
                        eprintln!("error: {}: {err}", path.display());
                        return ExitCode::FAILURE;
                    }
                };
                if !json {
                    use std::io::Write;
                    let mut out = std::io::stdout().lock();
                    if out.write_all(&p.html).and_then(|_| out.flush()).is_err() {
                        return ExitCode::FAILURE;
                    }
                    return ExitCode::SUCCESS;
                }
                e.page = Some(p.page);
            }
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&e).expect("explanation serializes")
                );
            } else {
                print!("{}", explain::to_text(&e));
            }
            ExitCode::SUCCESS
        }
    }
}

fn demo(port: u16, admin_port: u16) -> ExitCode {
    let rt = match demo_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let demo = match crate::demo::launch::Demo::start(port, admin_port).await {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!("{}", demo.instructions());
        let stop = demo.proxy.shutdown_token();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            stop.cancel();
        });
        let stopping = demo.proxy.shutdown_token();
        {
            use tokio::signal::unix::{signal, SignalKind};
            if let Ok(mut term) = signal(SignalKind::terminate()) {
                let s = stopping.clone();
                tokio::spawn(async move {
                    term.recv().await;
                    s.cancel();
                });
            }
        }
        stopping.cancelled().await;
        demo.stop().await;
        ExitCode::SUCCESS
    })
}

fn import_ocd(file: &std::path::Path, output: Option<&std::path::Path>) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {}: cannot read the file: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    // The database ships a VERSION file beside the CSV; name it in the output when present.
    let version = file
        .parent()
        .and_then(|d| std::fs::read_to_string(d.join("VERSION")).ok())
        .map(|v| v.trim().to_string());
    let source = file.display().to_string();
    let options = crate::ocd::ImportOptions {
        source: Some(&source),
        version: version.as_deref(),
    };
    let import = match crate::ocd::import_with(&text, &options) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    for w in &import.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!(
        "{} patterns from {} rows ({} skipped)",
        import.counts.total_patterns(),
        import.counts.rows,
        import.counts.skipped()
    );
    match output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &import.toml) {
                eprintln!("error: {}: cannot write: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
        None => print!("{}", import.toml),
    }
    ExitCode::SUCCESS
}

fn check(path: &std::path::Path) -> ExitCode {
    match Config::load(path) {
        Ok(c) => {
            print!("{}", summary(&c));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The `check` summary of a valid configuration.
pub(crate) fn summary(c: &Config) -> String {
    use std::fmt::Write;
    let p = &c.policy;
    let mut s = String::new();
    let _ = writeln!(s, "{}: OK", c.path.display());
    let _ = writeln!(
        s,
        "listen: {}{}",
        c.listen.http.map_or(String::new(), |a| format!("http {a}")),
        c.listen
            .https
            .map_or(String::new(), |a| format!(" https {a}"))
    );
    let _ = writeln!(s, "upstream: {}", c.upstream.uri);
    let _ = writeln!(
        s,
        "admin: {}",
        c.admin.listen.map_or("off".to_string(), |a| a.to_string())
    );
    let _ = writeln!(
        s,
        "consent: mode {}, undecided {}, unclassified {}, sources [{}]",
        match p.mode {
            crate::policy::Mode::Enforce => "enforce",
            crate::policy::Mode::ReportOnly => "report-only",
        },
        match p.consent.undecided {
            crate::policy::consent::Undecided::Deny => "deny",
            crate::policy::consent::Undecided::Grant => "grant",
        },
        match p.unclassified {
            crate::policy::Unclassified::Deny => "deny",
            crate::policy::Unclassified::Allow => "allow",
            crate::policy::Unclassified::Category(c) => p.categories.name(c),
        },
        p.consent
            .sources
            .iter()
            .map(|x| x.kind().name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(s, "categories:");
    for id in p.categories.ids() {
        let rules: Vec<_> = p
            .matcher
            .rules()
            .iter()
            .filter(|r| r.category == id)
            .collect();
        let globs = rules.iter().filter(|r| r.is_glob).count();
        let scripts = p
            .scripts
            .rules()
            .iter()
            .filter(|r| r.category == id)
            .count();
        let _ = writeln!(
            s,
            "  {:<20} {:>5} rules ({} exact, {} globs), {} scripts{}",
            p.categories.name(id),
            rules.len(),
            rules.len() - globs,
            globs,
            scripts,
            if p.categories.required().contains(id) {
                "  required"
            } else {
                ""
            }
        );
    }
    let onoff = |b: bool| if b { "on" } else { "off" };
    let _ = writeln!(
        s,
        "page: rewrite {}, guard {}, google consent mode {} ({} script patterns)",
        onoff(c.page.rewrite),
        onoff(c.page.guard),
        onoff(c.page.consent_mode.is_some()),
        p.scripts.rules().len()
    );
    let _ = writeln!(
        s,
        "consent cookies (always essential): {}",
        p.consent_cookies().join(", ")
    );
    if c.warnings.is_empty() {
        let _ = writeln!(s, "warnings: none");
    } else {
        let _ = writeln!(s, "warnings:");
        for w in &c.warnings {
            let _ = writeln!(s, "  - {w}");
        }
    }
    s
}

/// The demo's runtime: the demo site and its vendor stand-ins beside the proxy's worker 0.
fn demo_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

fn run(path: PathBuf) -> ExitCode {
    let config = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Worker 0: this thread's single-threaded runtime, which also runs the admin listener,
    // signals and reloads; `server::start` starts the other workers' threads.
    let rt = match server::workers::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        tokio::spawn(server::clock::run(
            tokio_util::sync::CancellationToken::new(),
        ));
        let running = match server::start(config, server::Options::default()).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("{e}");
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let reloader = running.reloader(path);
        crate::signals::install(&running, reloader.clone());
        let stop = running.shutdown_token();
        tokio::spawn(async move {
            if let Err(e) = crate::watch::run(reloader, stop).await {
                tracing::warn!(error = %e, "cannot watch the configuration files; reload with SIGHUP");
            }
        });
        running.run_until_shutdown().await;
        ExitCode::SUCCESS
    })
}
