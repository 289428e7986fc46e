# One image for every part that runs in a cluster: `tokenwarden operator`, the injected
# `tokenwarden sidecar` and the `tokenwarden capture` init container (iptables included).
#   docker build -t tokenwarden:dev .
#
# Base pinned by tag only (Node 20 on Debian 12 slim, the Docker official image's
# `20-bookworm-slim` line); this file carries no digest because none was obtained. To pin by
# digest, resolve one and pass it (node:20-bookworm-slim@sha256:...) with --build-arg BASE_IMAGE=:
#   docker buildx imagetools inspect node:20-bookworm-slim --format '{{json .Manifest.Digest}}'
#   crane digest node:20-bookworm-slim
# Without Docker or a registry, hack/image/build.sh builds the same image from Debian packages.
ARG BASE_IMAGE=node:20-bookworm-slim

# --- build: dev dependencies and the TypeScript compiler, output in dist/
FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY cmd ./cmd
COPY src ./src
COPY hack ./hack
COPY bench ./bench
RUN npm run build

# --- deps: production dependencies only
FROM ${BASE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime
FROM ${BASE_IMAGE}
# iptables (nft and legacy variants, IPv4 and IPv6) for `tokenwarden capture`; nothing else.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iptables \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
# No NODE_OPTIONS: `tokenwarden sidecar` applies its own V8 settings from --memory-budget
# (src/sidecar/v8-settings.ts), so the image runs exactly what the benchmark measures.
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist/cmd ./dist/cmd
COPY --from=build /src/dist/src ./dist/src
COPY package.json ./
COPY crds ./crds
# `tokenwarden` on PATH (the compiled entry point keeps its `#!/usr/bin/env node` line).
RUN chmod 0755 /app/dist/cmd/tokenwarden.js && ln -s /app/dist/cmd/tokenwarden.js /usr/local/bin/tokenwarden
# Non-root numeric UID/GID 15080: the sidecar's UID, which the capture rules exempt
# (SIDECAR_UID in docs/contracts/in-cluster.md). No writes outside mounted volumes, so every
# container runs with a read-only root filesystem. The capture init container alone runs as
# UID 0 (runAsUser: 0 in the injected spec) with NET_ADMIN and NET_RAW.
USER 15080:15080
EXPOSE 15080 15090 15091 15443
ENTRYPOINT ["tokenwarden"]
CMD ["--help"]
