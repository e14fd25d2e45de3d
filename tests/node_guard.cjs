// Test-only egress guard for Node: `node --require tests/node_guard.cjs app.mjs`.
// Refuses (and reports EGRESS-BLOCKED on stderr) any name lookup other than localhost and
// any connection outside loopback, so a Node client that ignores HTTPS_PROXY fails here
// instead of reaching the real api.openai.com.
"use strict";
const dns = require("node:dns");
const net = require("node:net");

const MARKER = "EGRESS-BLOCKED";

function isLoopback(host) {
  if (host === undefined || host === null || host === "" || host === "localhost") return true;
  const h = String(host).replace(/^\[|\]$/g, "");
  if (net.isIPv4(h)) return h.startsWith("127.");
  if (net.isIPv6(h)) return h === "::1" || h.startsWith("::ffff:127.");
  return false;
}

function refuse(what) {
  process.stderr.write(`${MARKER}: ${what}\n`);
  return Object.assign(new Error(`${MARKER}: ${what}`), { code: "ECONNREFUSED" });
}

const lookup = dns.lookup;
dns.lookup = function guardedLookup(hostname, options, callback) {
  if (!isLoopback(hostname)) {
    const cb = typeof options === "function" ? options : callback;
    const err = refuse(`lookup of ${hostname}`);
    process.nextTick(() => cb(err));
    return {};
  }
  return lookup.apply(this, arguments);
};

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(...args) {
  let options = args[0];
  if (Array.isArray(options)) options = options[0]; // already normalized by net/tls
  const host = typeof options === "object" && options !== null ? (options.path ? "localhost" : options.host) : args[1];
  if (!isLoopback(host)) {
    const err = refuse(`connection to ${host}`);
    process.nextTick(() => this.destroy(err));
    return this;
  }
  return connect.apply(this, args);
};
