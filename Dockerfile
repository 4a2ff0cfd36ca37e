# syntax=docker/dockerfile:1
# Vigil, CPU image (tfjs wasm backend). Used by docker-compose.yml for `vigil` and `publisher`.
#   docker build -t vigil:local .
#   docker run --rm -p 127.0.0.1:8080:8080 vigil:local   # embedded demo + mediamtx stream config
# GPU variant (tfjs-node-gpu, CUDA 11.2): Dockerfile.gpu. Operations guide: docs/operations.md.

# --- build: TypeScript + the viewer bundle, with dev dependencies --------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/ scripts/
COPY src/ src/
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# --- runtime: Debian's ffmpeg (5.1, with libx264 for the publisher) + production node_modules ---
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules/ node_modules/
COPY --from=build /app/dist/ dist/
COPY models/ models/
COPY pipelines/ pipelines/
COPY config/ config/
# /app/prometheus-sd: docker-compose.cluster.yml mounts a named volume there; an empty volume takes
# the owner of the image's folder, so the node user can write the Prometheus file_sd targets.
RUN mkdir -p /app/data /app/prometheus-sd && chown node:node /app/data /app/prometheus-sd
USER node
EXPOSE 8080
CMD ["node", "dist/cli.js", "run", "--config", "/app/config/compose.yaml"]
