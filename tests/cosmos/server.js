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

// Two gaps of the package against the real service's documented behaviour, closed here
// before the server's routes capture its handlers, so the store can use the real rules:
//  * a point read of a missing document answers 500 (TypeError in its read-document
//    handler); Azure answers 404.
//  * an ORDER BY is served only from a composite index in its exact direction; Azure also
//    serves the fully reversed order from the same index.
function closeGaps() {
  const readDocument = require("@vercel/cosmosdb-server/lib/handler/read-document");
  const { parsePartitionKey } = require("@vercel/cosmosdb-server/lib/utils/get-partition-from-header");
  const original = readDocument.default;
  readDocument.default = (account, req, res, params) => {
    const collection = account.database(params.dbId).collection(params.collId);
    const header = req.headers["x-ms-documentdb-partitionkey"];
    if (collection.read() && header) {
      let key;
      try {
        key = parsePartitionKey(Array.isArray(header) ? header[0] : header, params.docId);
      } catch (error) {
        key = undefined;
      }
      if (key !== undefined && !collection.document(params.docId, key).read()) {
        res.statusCode = 404;
        return { code: "NotFound", message: "Entity with the specified id does not exist in the system." };
      }
    }
    return original(account, req, res, params);
  };
  const helpers = require("@zeit/cosmosdb-query/lib/helpers");
  const sort = helpers.sort;
  const flip = (order) => (order === "descending" ? "ascending" : "descending");
  helpers.sort = (collection, getRid, compositeIndexes, ...orders) => {
    const both = compositeIndexes
      ? compositeIndexes.flatMap((index) => [
          index,
          index.map((entry) => ({ ...entry, order: flip(entry.order ?? "ascending") })),
        ])
      : compositeIndexes;
    return sort(collection, getRid, both, ...orders);
  };
}

let createHttpsServer;
try {
  closeGaps();
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
