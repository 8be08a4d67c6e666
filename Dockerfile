# syntax=docker/dockerfile:1
# Build with the full toolchain, run on distroless Node 24: no shell, no package manager, only the
# production dependencies and the compiled output, as the non-root user 65532 ("nonroot").

FROM node:24-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
# The `node` devDependency pins Node 24 for npm scripts on machines with an older node; the image's
# own Node 24 makes it unnecessary here, and --omit=dev below drops it.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM gcr.io/distroless/nodejs24-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build --chown=65532:65532 /src/package.json ./package.json
COPY --from=build --chown=65532:65532 /src/node_modules ./node_modules
COPY --from=build --chown=65532:65532 /src/dist ./dist
USER 65532:65532
EXPOSE 8443 9090
# The distroless image's entrypoint is the node binary itself; exec form, no shell involved.
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/cli/main.js"]
CMD ["serve"]
