# syntax=docker/dockerfile:1
#
# mockcloud image: one image for every process; the command picks the role.
#   docker build -t mockcloud .
#   docker run --rm -p 8000:8000 mockcloud up        # embedded: API + worker, SQLite in /app/.mockcloud
#   docker run --rm mockcloud server|worker|migrate  # distributed: needs DATABASE_URL, AMQP_URL, REDIS_URL
# docker-compose.yml runs the distributed deployment (PostgreSQL, RabbitMQ, Redis, migrate, server, worker).

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: all dependencies (TypeScript, esbuild, types), compile and bundle to dist/ -----------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# The build runs `mockcloud up --memory` once to record the SQLite schema and V8's code cache for
# the server bundle (scripts/bundle.mjs), so it needs better-sqlite3 built for this platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# --ignore-scripts: package.json's `prepare` runs `npm run build`, which cannot work before the
# sources are copied; the native module is built on its own.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3
COPY . .
RUN npm run build

# ---- prod-deps: production dependencies only, native modules built for this platform ------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
# better-sqlite3 downloads a prebuilt binary when one exists; the toolchain is the fallback.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 \
 && npm cache clean --force

# ---- runtime: production dependencies, compiled code, the API description; non-root -------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    MOCKCLOUD_HOST=0.0.0.0 \
    MOCKCLOUD_PORT=8000
WORKDIR /app
# Code and dependencies stay owned by root (read-only to the process); only the embedded data
# directory (`mockcloud up`) is writable by the `node` user.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The server reads openapi.yaml at run time from the package root (the directory above dist/); the
# launcher runs the bundle only while package-lock.json is older than it (cli/bundle.ts).
COPY package.json package-lock.json openapi.yaml ./
RUN mkdir -p /app/.mockcloud && chown node:node /app/.mockcloud
USER node
EXPOSE 8000
# Liveness only; docker-compose.yml checks /ready (database, broker, Redis) for the server and
# replaces this check for processes that serve no HTTP (worker, migrate).
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.MOCKCLOUD_PORT||8000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["server"]
