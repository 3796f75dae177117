# syntax=docker/dockerfile:1
# Build stage: full toolchain, compiles TypeScript.
FROM node:20.20-bookworm-slim AS build
WORKDIR /function
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The build compiles the XRD's and the input's schemas into dist/validators.cjs.
COPY scripts/compile-validators.mjs ./scripts/
COPY apis/definition.yaml ./apis/definition.yaml
COPY package/input ./package/input
RUN npm run build

# Dependency stage: production dependencies only.
FROM node:20.20-bookworm-slim AS deps
WORKDIR /function
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Runtime: distroless Node 20, no shell, no package manager, non-root.
FROM gcr.io/distroless/nodejs20-debian12:nonroot
WORKDIR /function
ENV NODE_ENV=production
COPY --from=deps /function/node_modules ./node_modules
COPY --from=build /function/dist ./dist
COPY package.json ./
# The function validates against the XRD and its input CRD at run time: one source of truth.
COPY apis/definition.yaml ./apis/definition.yaml
COPY package/input ./package/input
USER 65532:65532
EXPOSE 9443 8080
# A 1 MiB young generation keeps RSS near 100 MiB under load at no measured cost in throughput
# (BENCHMARKS.md).
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=1", "dist/main.js", \
  "--metrics-address=:8080"]
