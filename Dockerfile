# The medivote-operator images: one multi-stage build on Debian bookworm, two targets sharing one runtime stage.
#
#   docker build -t medivote/operator:0.1.0 .                  # default (last) target: entrypoint medivote-controller
#   docker build --target agent -t medivote/agent:0.1.0 .      # the injected sidecar: entrypoint medivote-agent
#
# Both images hold both binaries (the agent ships in the operator's image); they differ only in their entrypoint,
# because the operator injects the agent with `args` and no `command`.
#
# Contracts checked without a Docker engine (tests/packaging/test_dockerfile.py, test_runtime_libs.py):
#   - the build stage runs scripts/setup.sh, the set-up that CI runs (.ci/run -> scripts/test.sh -> setup.sh);
#   - the runtime stage installs a Debian package for every shared library that `ldd` lists for the two binaries;
#   - numeric non-root user 65532, exec-form entrypoints (no shell needed at run time), OCI labels.

FROM debian:bookworm AS build
WORKDIR /src
# .dockerignore keeps build trees, VCS data and caches out of the context.
COPY . .
# Installs scripts/debian-packages.txt and builds into build/ with MEDIVOTE_JOBS (default 2) jobs.
RUN scripts/setup.sh
RUN install -d /out && install -s -m 0755 build/medivote-controller build/medivote-agent build/kubectl-medivote /out/

FROM debian:bookworm-slim AS runtime
# The runtime libraries of the binaries (Debian package of each library `ldd` lists; libc6 comes with the base).
# scripts/runtime_libs.py prints this list from the built binaries.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libbrotli1 \
      libcivetweb1 \
      libcpprest2.10 \
      libfmt9 \
      libgcc-s1 \
      libjemalloc2 \
      libprometheus-cpp-core1.0 \
      libprometheus-cpp-pull1.0 \
      libsimdjson14 \
      libssl3 \
      libstdc++6 \
      libyaml-cpp0.7 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/medivote-controller /out/medivote-agent /usr/local/bin/
# The distroless "nonroot" uid/gid: no entry in /etc/passwd is needed, and runAsNonRoot can verify a number.
USER 65532:65532
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.vendor="MediVote" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim" \
      org.opencontainers.image.documentation="docs/install.md"

FROM runtime AS agent
LABEL org.opencontainers.image.title="medivote-agent" \
      org.opencontainers.image.description="In-pod shutdown agent: forwards the operator's shutdown call to the service on loopback"
EXPOSE 9901
ENTRYPOINT ["/usr/local/bin/medivote-agent"]

FROM runtime AS operator
LABEL org.opencontainers.image.title="medivote-operator" \
      org.opencontainers.image.description="Kubernetes operator: application-aware, tiered pod shutdown for the MediVote services"
# The kubectl plugin (docs/kubectl-plugin.md), for `kubectl cp` or `kubectl exec ... kubectl-medivote status`.
COPY --from=build /out/kubectl-medivote /usr/local/bin/
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/medivote-controller"]
