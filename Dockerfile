# syntax=docker/dockerfile:1
# Chime: build the TypeScript once, then ship only compiled code and production dependencies.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY sdk/package.json sdk/
COPY server/package.json server/
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY sdk sdk
COPY server server
# The server and SDK, then the dashboard bundled into server/dist/ui.
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    CHIME_LISTEN=0.0.0.0:7070 \
    CHIME_LOG_FORMAT=json
WORKDIR /app
COPY package.json package-lock.json ./
COPY sdk/package.json sdk/
COPY server/package.json server/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/sdk/dist sdk/dist
# server/dist includes the dashboard's static files (server/dist/ui).
COPY --from=build /app/server/dist server/dist
USER node
EXPOSE 7070
# Ready means NATS is connected and the store is loaded; the port follows CHIME_LISTEN.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const p=(process.env.CHIME_LISTEN||'').split(':').pop()||'7070';fetch('http://127.0.0.1:'+p+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node is PID 1's only child via exec form, so SIGTERM reaches Chime, which drains and exits.
ENTRYPOINT ["node", "server/dist/cli.js"]
CMD ["serve"]
