//! `consentry demo`: the demo site and the proxy in front of it, on loopback.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::site::{self, SiteOptions, DEMO_COOKIES, SCRIPT_COOKIE};
use crate::config::Config;
use crate::server::{self, Options};

/// The pattern the demo configuration uses for a demo cookie: globs for the families that carry
/// an id in their name, so the demo shows both kinds of rule.
fn pattern(name: &str) -> String {
    for family in ["_ga_", "_gcl_"] {
        if name.starts_with(family) {
            return format!("{family}*");
        }
    }
    name.to_string()
}

/// The demo's configuration: the demo site's cookies in the four categories.
pub fn config_text(upstream: SocketAddr, http: SocketAddr, admin: SocketAddr) -> String {
    let mut cats: Vec<(&str, Vec<String>)> =
        site::CATEGORIES.iter().map(|c| (*c, Vec::new())).collect();
    for c in DEMO_COOKIES.iter().chain(std::iter::once(&SCRIPT_COOKIE)) {
        if let Some(cat) = c.category {
            if let Some((_, list)) = cats.iter_mut().find(|(n, _)| *n == cat) {
                let p = pattern(c.name);
                if !list.contains(&p) {
                    list.push(p);
                }
            }
        }
    }
    let mut text = format!(
        "# The configuration `consentry demo` runs with.\n\
         [listen]\nhttp = \"{http}\"\n\n[admin]\nlisten = \"{admin}\"\n\n\
         [server]\nshutdown_grace = \"2s\"\n\n\
         [upstream]\nurl = \"http://{upstream}\"\n\n\
         [consent]\nmode = \"enforce\"\nundecided = \"deny\"\nunclassified = \"deny\"\ngpc = [\"advertising\"]\n"
    );
    for (name, list) in cats {
        text.push_str(&format!("\n[categories.{name}]\n"));
        if name == "essential" {
            text.push_str("required = true\n");
        }
        let quoted: Vec<String> = list.iter().map(|p| format!("\"{p}\"")).collect();
        text.push_str(&format!("cookies = [{}]\n", quoted.join(", ")));
    }
    text
}

/// Binds `preferred`, or any free loopback port when it is taken.
async fn bind_or_any(preferred: u16) -> std::io::Result<TcpListener> {
    match TcpListener::bind(("127.0.0.1", preferred)).await {
        Ok(l) => Ok(l),
        Err(_) => TcpListener::bind("127.0.0.1:0").await,
    }
}

/// A started demo.
pub struct Demo {
    pub proxy: server::Running,
    pub site: SocketAddr,
    site_stop: CancellationToken,
    site_task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Demo {
    /// Starts the site and the proxy: the proxy on `port` (or a free port when taken), admin on
    /// `admin_port` (likewise).
    pub async fn start(port: u16, admin_port: u16) -> std::io::Result<Demo> {
        let site_listener = TcpListener::bind("127.0.0.1:0").await?;
        let site_addr = site_listener.local_addr()?;
        // Reserve the proxy's ports, then hand their addresses to the configuration.
        let http = bind_or_any(port).await?;
        let admin = bind_or_any(admin_port).await?;
        let (http_addr, admin_addr) = (http.local_addr()?, admin.local_addr()?);
        drop((http, admin));
        let config = Config::from_str(
            Path::new("(demo)"),
            &config_text(site_addr, http_addr, admin_addr),
        )
        .map_err(|e| std::io::Error::other(e.to_string()))?;
        let proxy = server::start(
            config,
            Options {
                debug_headers: true,
            },
        )
        .await?;
        let site_stop = CancellationToken::new();
        let opts = Arc::new(SiteOptions {
            admin_url: format!("http://{admin_addr}"),
        });
        let site_task = tokio::spawn(site::serve(site_listener, opts, site_stop.clone()));
        Ok(Demo {
            proxy,
            site: site_addr,
            site_stop,
            site_task,
        })
    }

    /// The instructions printed for a newcomer.
    pub(crate) fn instructions(&self) -> String {
        let http = self.proxy.http.expect("the demo listens on http");
        let admin = self.proxy.admin.expect("the demo has an admin listener");
        format!(
            "consentry demo is running.\n\n\
             \x20 Shop, behind the proxy:      http://{http}/\n\
             \x20 Same shop, no proxy:         http://{site}/   (compare what it sets)\n\
             \x20 Parent-domain cleanup:       http://demo.localtest.me:{port}/   (resolves to 127.0.0.1 where DNS is available)\n\
             \x20 Status page and metrics:     http://{admin}/   http://{admin}/metrics\n\n\
             Open the shop, reject or accept cookies in the banner, and watch the panel: it lists the\n\
             cookies your browser holds and what consentry removed or expired on each page view.\n\
             Try it offline too:  consentry explain --cookie 'consentry=analytics' --set-cookie '_fbp=fb.1; Path=/'\n\n\
             Press Ctrl-C to stop.\n",
            site = self.site,
            port = http.port(),
        )
    }

    /// Stops the proxy (draining) and the site.
    pub async fn stop(self) {
        self.proxy.drain().await;
        self.site_stop.cancel();
        let _ = self.site_task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_config_is_valid_and_classifies_every_demo_cookie() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let c = Config::from_str(Path::new("demo"), &config_text(a, a, a)).unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let p = &c.policy;
        for cookie in DEMO_COOKIES.iter().chain(std::iter::once(&SCRIPT_COOKIE)) {
            let class = p.classify(cookie.name.as_bytes());
            let got = p.category_of(class).map(|id| p.categories.name(id));
            assert_eq!(got, cookie.category, "{}", cookie.name);
        }
    }
}
