// Starts and stops the server under test (nats-server or shortbusd) for the
// Node end-to-end tests. The same launcher as ../server_launcher.cc (keep the
// two in step): loopback only, an ephemeral port, a private temp directory,
// readiness by connecting (bounded), stop by pid (SIGTERM, then SIGKILL after
// a bounded wait), restart on the same port.
//
// The target comes from the environment: E2E_SERVER_KIND ("nats-server" or
// "shortbusd") and E2E_SERVER_BIN (its path), set by ../meson.build;
// E2E_JETSTREAM=1 turns JetStream on (nats-server: -js with its store in
// <dir>/js; shortbusd: always on, its store is --data <dir>/data). Restarts
// keep the private directory, so what was stored is still there.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const START_LIMIT_MS = 10_000;
const STOP_LIMIT_MS = 10_000;
const POLL_MS = 10;

// Every server still running when this process exits is killed.
const live = new Set();
process.on("exit", () => {
  for (const child of live) {
    try { process.kill(child.pid, "SIGKILL"); } catch { /* already gone */ }
  }
});

export function target() {
  const kind = process.env.E2E_SERVER_KIND;
  const binary = process.env.E2E_SERVER_BIN;
  if (!kind || !binary) {
    throw new Error("E2E_SERVER_KIND and E2E_SERVER_BIN are not set (run through meson test)");
  }
  return { kind, binary };
}

function acceptsConnections(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", () => resolve(false));
  });
}

function readOr(file, fallback) {
  try { return fs.readFileSync(file, "utf8"); } catch { return fallback; }
}

export class ServerProcess {
  // options: { token } or { user, password } or {}, and optionally
  //   jetstream: boolean (default: E2E_JETSTREAM === "1"),
  //   shortbusdArgs: extra arguments for shortbusd only (e.g. "--sync=always").
  constructor(options = {}) {
    this.target = target();
    this.options = options;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "shortbus-e2e-node-"));
    this.port = 0;
    this.child = null;
  }

  get jetstream() { return this.options.jetstream ?? process.env.E2E_JETSTREAM === "1"; }

  get url() { return `nats://127.0.0.1:${this.port}`; }

  logTail() {
    const log = readOr(path.join(this.dir, "server.log"), "");
    return log.length > 4000 ? "..." + log.slice(-4000) : log;
  }

  async start() { await this.#startOn(0); }

  async restart() {
    await this.stop();
    const port = this.port;
    await this.#startOn(port);
    if (this.port !== port) throw new Error(`restarted on port ${this.port}, not ${port}`);
  }

  args(port) {
    const { kind } = this.target;
    const o = this.options;
    if (kind === "nats-server") {
      // -p -1: any free port, reported in <dir>/nats-server_<pid>.ports.
      for (const f of fs.readdirSync(this.dir)) {
        if (f.endsWith(".ports")) fs.rmSync(path.join(this.dir, f));
      }
      const args = ["-a", "127.0.0.1", "-p", port === 0 ? "-1" : String(port),
        "--ports_file_dir", this.dir];
      if (o.token) args.push("--auth", o.token);
      if (o.user) args.push("--user", o.user, "--pass", o.password);
      if (this.jetstream) args.push("-js", "-sd", path.join(this.dir, "js"));
      return args;
    }
    if (kind === "shortbusd") {
      const data = path.join(this.dir, "data");
      fs.mkdirSync(data, { recursive: true });
      fs.rmSync(path.join(data, "shortbus.port"), { force: true });
      const args = ["--data", data, "--listen", `tcp://127.0.0.1:${port}`];
      // E2E_SERVER_IO picks the daemon's event loop backend (epoll, uring).
      if (process.env.E2E_SERVER_IO) args.push(`--io=${process.env.E2E_SERVER_IO}`);
      if (o.token || o.user) {
        const authorization = {};
        if (o.token) authorization.token = o.token;
        if (o.user) authorization.users = [{ user: o.user, password: o.password }];
        const config = path.join(this.dir, "config.json");
        fs.writeFileSync(config, JSON.stringify({ authorization }, null, 2) + "\n");
        args.push("--config", config);
      }
      args.push(...(o.shortbusdArgs ?? []));
      return args;
    }
    throw new Error(`unknown server kind '${kind}' (E2E_SERVER_KIND)`);
  }

  // The port the server says it listens on, or 0 when not (yet) known.
  readPort() {
    const { kind, binary } = this.target;
    if (kind === "shortbusd") {
      const s = readOr(path.join(this.dir, "data", "shortbus.port"), "");
      return s.endsWith("\n") ? Number.parseInt(s, 10) : 0;
    }
    const file = path.join(this.dir, `${path.basename(binary)}_${this.child.pid}.ports`);
    const m = /"nats:\/\/[^"]*:(\d+)"/.exec(readOr(file, ""));
    return m ? Number(m[1]) : 0;
  }

  async #startOn(port) {
    if (this.child) throw new Error("already running");
    const log = fs.openSync(path.join(this.dir, "server.log"), "a");
    const child = spawn(this.target.binary, this.args(port), { stdio: ["ignore", log, log] });
    fs.closeSync(log);
    this.child = child;
    live.add(child);
    child.exited = new Promise((resolve) => {
      const ended = (status) => {
        live.delete(child);
        child.status ??= status;
        resolve(child.status);
      };
      child.once("exit", (code, signal) => ended({ code, signal }));
      child.once("error", (e) => ended({ error: e.message }));  // e.g. no such binary
    });
    const deadline = Date.now() + START_LIMIT_MS;
    while (Date.now() < deadline) {
      if (child.status) {
        this.child = null;
        throw new Error(`server exited during start-up (${JSON.stringify(child.status)})\n` +
          `--- server log ---\n${this.logTail()}`);
      }
      const p = this.readPort();
      if (p > 0 && await acceptsConnections(p)) {
        this.port = p;
        return;
      }
      await sleep(POLL_MS);
    }
    await this.stop();
    throw new Error(`server not accepting connections within ${START_LIMIT_MS} ms\n` +
      `--- server log ---\n${this.logTail()}`);
  }

  // SIGTERM, then SIGKILL after a bounded wait; resolves to the exit status.
  async stop() {
    const child = this.child;
    if (!child) return null;
    this.child = null;
    if (!child.status) child.kill("SIGTERM");
    let timer;
    const timeout = new Promise((resolve) => { timer = setTimeout(resolve, STOP_LIMIT_MS, null); });
    let status = await Promise.race([child.exited, timeout]);
    clearTimeout(timer);
    if (status === null) {
      child.kill("SIGKILL");
      status = await child.exited;
    }
    return status;
  }

  // SIGKILL, as a crash would end it; resolves to the exit status. The data
  // directory stays for restart().
  async kill() {
    const child = this.child;
    if (!child) return null;
    this.child = null;
    if (!child.status) child.kill("SIGKILL");
    return child.exited;
  }

  async close() {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// A started server; on failure the error carries the server's log.
export async function startServer(options = {}) {
  const server = new ServerProcess(options);
  try {
    await server.start();
  } catch (e) {
    fs.rmSync(server.dir, { recursive: true, force: true });
    throw e;
  }
  return server;
}
