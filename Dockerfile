# syntax=docker/dockerfile:1
#
# consentry container image.
#
#   docker build -t consentry .
#   docker run --rm -v "$PWD/deploy/docker:/etc/consentry:ro" -p 8080:8080 -p 9090:9090 consentry
#
# (deploy/docker/consentry.toml proxies to host.docker.internal:3000; on Linux add
# --add-host=host.docker.internal:host-gateway to the run command.)
#
# The configuration is read from /etc/consentry/consentry.toml: mount a directory holding
# consentry.toml there (a Kubernetes ConfigMap volume, or `-v DIR:/etc/consentry:ro`). Mount the
# directory rather than the single file: consentry watches the directory and reloads when the file
# changes, and a single-file bind mount does not see an editor's or the kubelet's replace. Inside
# a container both listeners must bind 0.0.0.0 ([listen] http and [admin] listen), or nothing
# outside the container can reach them; deploy/docker/consentry.toml is such a file.

# ---- build ---------------------------------------------------------------------------------
# Debian 12 here and in the runtime image below, so the binary's glibc matches the one it runs on.
FROM rust:1-bookworm AS build
WORKDIR /src

# Dependencies first, against stub sources: this layer is rebuilt only when Cargo.toml or
# Cargo.lock change, not on every source edit. Every target the manifest declares (the binary,
# the library, the [[bench]] targets and the load generator example) needs a file for cargo to accept the manifest.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/classify.rs \
    && echo 'fn main() {}' > benches/filter.rs \
    && echo 'fn main() {}' > benches/consent.rs \
    && echo 'fn main() {}' > benches/page.rs \
    && echo 'fn main() {}' > benches/loadgen.rs \
    && cargo build --release --locked \
    && rm -rf src benches

# The real sources. Touching the crate roots makes them newer than the stub build, whatever
# modification times the build context carried, so cargo rebuilds consentry itself.
COPY src ./src
COPY benches ./benches
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && install -D -m 0755 target/release/consentry /out/consentry

# ---- runtime -------------------------------------------------------------------------------
# glibc and libgcc, no shell, no package manager. TLS is rustls with ring: no OpenSSL needed.
FROM gcr.io/distroless/cc-debian12:nonroot

COPY --from=build /out/consentry /usr/local/bin/consentry

# The image's "nonroot" user, by number so Kubernetes can verify runAsNonRoot.
USER 65532:65532

# 8080: the proxy ([listen] http). 9090: /metrics, /healthz, /readyz ([admin] listen).
EXPOSE 8080 9090

# No HEALTHCHECK: the image has no shell and no HTTP client to run one with, and consentry has no
# self-probe command. Orchestrators probe the admin port instead: GET /healthz (liveness) and
# GET /readyz (readiness, 503 while draining), as deploy/kubernetes/deployment.yaml does.

# SIGTERM (docker stop, the kubelet) drains in-flight requests for up to [server] shutdown_grace
# and exits 0: give `docker stop --time` more than that. SIGHUP reloads the configuration.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/consentry"]
CMD ["run", "--config", "/etc/consentry/consentry.toml"]
