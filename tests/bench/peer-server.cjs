// peer-server.cjs — starts the PeerJS server (npm package `peer`) for make bench-signal.
//
// The library's own PeerServer(), as an application embeds it, rather than the `peerjs` command: the
// command logs a line per connect and disconnect to stdout, a cost staffroom-signal does not pay in the
// benchmark either (it runs with --log-level warn). Options are the library's; only the limits a load
// test must raise are changed:
//   concurrent_limit: the default 5000 peers would refuse the idle runs;
//   alive_timeout: left at the library default (90 s); our peers send HEARTBEAT every 5 s like the
//   PeerJS browser client.
//
//   node peer-server.cjs PORT
"use strict";
const path = require("path");
const { PeerServer } = require("peer");
// The package does not export its package.json: read it from the file the resolver found.
const version = require(path.join(path.dirname(require.resolve("peer")), "..", "package.json")).version;

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: node peer-server.cjs PORT");
  process.exit(2);
}
const server = PeerServer({ host: "127.0.0.1", port, path: "/", key: "peerjs", concurrent_limit: 1000000 }, () => {
  console.log(`peer-server listening on 127.0.0.1:${port} (peer ${version})`);
});
server.on("error", (e) => console.error("peer-server:", e && e.message));
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
