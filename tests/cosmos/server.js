#!/usr/bin/env node
// Test-only launcher for @vercel/cosmosdb-server (an in-memory Cosmos DB server).
//
// Usage: node tests/cosmos/server.js [port]   (or COSMOS_TEST_PORT=...; 0 = any free port)
// Prints one line "PORT <n>" on stdout once it listens on 127.0.0.1, then serves until
// stdin closes or it gets SIGTERM/SIGINT, so a parent that dies never leaves it behind.
//
// The package's own CLI answers every request with "connection: close", which makes each
// SDK call pay a fresh TLS handshake (~20x slower); `keepAlive: true` keeps connections open.
"use strict";

let createHttpsServer;
try {
  ({ createHttpsServer } = require("@vercel/cosmosdb-server"));
} catch (error) {
  process.stderr.write(
    `cannot load @vercel/cosmosdb-server (${error.message}); run \`make install\` (npm ci)\n`
  );
  process.exit(2);
}

const port = Number.parseInt(process.argv[2] ?? process.env.COSMOS_TEST_PORT ?? "0", 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`invalid port: ${process.argv[2] ?? process.env.COSMOS_TEST_PORT}\n`);
  process.exit(2);
}

const server = createHttpsServer({ keepAlive: true });
server.keepAliveTimeout = 60_000;
server.on("error", (error) => {
  process.stderr.write(`cosmosdb-server: ${error.message}\n`);
  process.exit(1);
});
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`PORT ${server.address().port}\n`);
});

const stop = () => {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();
