// End-to-end tests with the official Node NATS client (npm `nats` 2.x)
// against the server named by E2E_SERVER_KIND / E2E_SERVER_BIN: the same
// scenarios as ../nats_c_test.cc. Top-level tests only, so that the TAP that
// meson reads has one line per test.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connect, Empty, ErrorCode, Events, headers, StringCodec } from "nats";

import { startServer } from "./server.mjs";

const sc = StringCodec();
const T = { timeout: 30_000 };

// What a test opened, closed when it ends: connections first, then servers
// (a connection whose server went first would sit in its reconnect wait).
const opened = new WeakMap();
function resources(t) {
  if (!opened.has(t)) {
    const r = { conns: [], servers: [] };
    opened.set(t, r);
    t.after(async () => {
      await Promise.all(r.conns.map((nc) => nc.close()));
      await Promise.all(r.servers.map((s) => s.close()));
    });
  }
  return opened.get(t);
}

// A connection closed when test t ends.
async function open(t, url, options = {}) {
  const nc = await connect({ servers: url, timeout: 5000, ...options });
  resources(t).conns.push(nc);
  return nc;
}

// A server of its own for test t, stopped when t ends.
async function ownServer(t, options = {}) {
  const s = await startServer(options);
  resources(t).servers.push(s);
  return s;
}

// Resolves when predicate() holds, polling; rejects after ms.
async function until(predicate, ms, what) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

// Collects what a subscription receives, through its callback.
function collect(nc, subject, opts = {}) {
  const got = [];
  const sub = nc.subscribe(subject, { ...opts, callback: (err, m) => { if (!err) got.push(m); } });
  return { sub, got };
}

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.close(); });

test("connects over TCP and reads INFO", T, async (t) => {
  const nc = await open(t, server.url);
  assert.ok(nc.info.server_id, "INFO without server_id");
  assert.equal(nc.info.proto, 1);
  assert.equal(nc.info.headers, true);
  assert.equal(nc.info.max_payload, 1024 * 1024);
});

test("flush is a PING/PONG round trip", T, async (t) => {
  const nc = await open(t, server.url);
  for (let i = 0; i < 20; i++) await nc.flush();
  const rtt = await nc.rtt();
  assert.ok(rtt >= 0 && rtt < 1000, `rtt ${rtt} ms`);
});

test("publish/subscribe across connections", T, async (t) => {
  const sub = await open(t, server.url);
  const pub = await open(t, server.url);
  const { got } = collect(sub, "e2e.pubsub");
  await sub.flush();
  pub.publish("e2e.pubsub", sc.encode("hello"));
  pub.publish("e2e.other", sc.encode("not for us"));
  pub.publish("e2e.pubsub", Empty);
  await pub.flush();
  await sub.flush();
  assert.deepEqual(got.map((m) => [m.subject, sc.decode(m.data), m.reply ?? ""]),
    [["e2e.pubsub", "hello", ""], ["e2e.pubsub", "", ""]]);
});

test("wildcards * and >", T, async (t) => {
  const nc = await open(t, server.url);
  const star = collect(nc, "w.*.x");
  const tail = collect(nc, "w.>");
  const exact = collect(nc, "w.a.x");
  for (const s of ["w.a.x", "w.b.x", "w.a.b.x", "w.a", "w", "v.a.x", "w.a.x.y"]) {
    nc.publish(s, sc.encode(s));
  }
  await nc.flush();
  const subjects = (c) => c.got.map((m) => m.subject);
  assert.deepEqual(subjects(star), ["w.a.x", "w.b.x"]);
  assert.deepEqual(subjects(tail), ["w.a.x", "w.b.x", "w.a.b.x", "w.a", "w.a.x.y"]);
  assert.deepEqual(subjects(exact), ["w.a.x"]);
});

test("queue group delivers each message once across members", T, async (t) => {
  const members = [];
  for (let i = 0; i < 3; i++) {
    const nc = await open(t, server.url);
    members.push({ nc, ...collect(nc, "q.work", { queue: "workers" }) });
    await nc.flush();
  }
  const pub = await open(t, server.url);
  const plain = collect(pub, "q.work");  // outside the group: sees every message
  const n = 300;
  for (let i = 0; i < n; i++) pub.publish("q.work", sc.encode(String(i)));
  await pub.flush();
  for (const m of members) await m.nc.flush();
  const times = new Map();
  for (const [i, m] of members.entries()) {
    assert.ok(m.got.length > 0, `member ${i} received nothing of ${n}`);
    for (const msg of m.got) {
      const k = sc.decode(msg.data);
      times.set(k, (times.get(k) ?? 0) + 1);
    }
  }
  assert.equal(times.size, n);
  for (const [k, c] of times) assert.equal(c, 1, `message ${k} delivered ${c} times`);
  assert.equal(plain.got.length, n);
});

test("headers round trip", T, async (t) => {
  const nc = await open(t, server.url);
  const { got } = collect(nc, "h.subject");
  const h = headers();
  h.set("X-Trace", "abc 123");
  h.append("X-Multi", "one");
  h.append("X-Multi", "two");
  nc.publish("h.subject", sc.encode("body"), { headers: h });
  await nc.flush();
  assert.equal(got.length, 1);
  const m = got[0];
  assert.equal(sc.decode(m.data), "body");
  assert.ok(m.headers, "message arrived without headers");
  assert.equal(m.headers.get("X-Trace"), "abc 123");
  assert.deepEqual(m.headers.values("X-Multi"), ["one", "two"]);
  assert.equal(m.headers.has("X-Absent"), false);
});

test("request/reply", T, async (t) => {
  const responder = await open(t, server.url);
  responder.subscribe("svc.echo", {
    callback: (err, m) => { if (!err) m.respond(sc.encode("echo:" + sc.decode(m.data))); },
  });
  await responder.flush();
  const nc = await open(t, server.url);
  for (let i = 0; i < 10; i++) {
    const reply = await nc.request("svc.echo", sc.encode(`ping ${i}`), { timeout: 2000 });
    assert.equal(sc.decode(reply.data), `echo:ping ${i}`);
  }
});

test("request without responders fails fast with no-responders", T, async (t) => {
  const nc = await open(t, server.url);
  const start = Date.now();
  await assert.rejects(nc.request("nobody.listens", sc.encode("hi"), { timeout: 5000 }),
    (e) => e.code === ErrorCode.NoResponders);
  assert.ok(Date.now() - start < 1000, "no-responders must not wait for the timeout");
});

test("subscription with max messages unsubscribes after N", T, async (t) => {
  const nc = await open(t, server.url);
  const limited = collect(nc, "auto.unsub", { max: 3 });
  const watcher = collect(nc, "auto.unsub");  // proves all 10 were published
  for (let i = 0; i < 10; i++) nc.publish("auto.unsub", sc.encode(String(i)));
  await nc.flush();
  assert.equal(watcher.got.length, 10);
  assert.deepEqual(limited.got.map((m) => sc.decode(m.data)), ["0", "1", "2"]);
  assert.equal(limited.sub.isClosed(), true);
  // With the watcher gone, a request finds nobody. (nats.js sends UNSUB 1 3,
  // and after the third message a plain UNSUB 1 for a subscription the
  // server already dropped, which must pass without an error; the C test
  // proves the server drops it by itself.)
  watcher.sub.unsubscribe();
  await assert.rejects(nc.request("auto.unsub", Empty, { timeout: 2000 }),
    (e) => e.code === ErrorCode.NoResponders);
  await nc.flush();
  assert.equal(nc.isClosed(), false);
});

test("max payload", T, async (t) => {
  const nc = await open(t, server.url);
  const max = nc.info.max_payload;
  assert.ok(max > 0);
  const { got } = collect(nc, "big");
  nc.publish("big", new Uint8Array(max));
  await nc.flush();
  assert.equal(got.length, 1, "a payload of exactly max_payload must be delivered");
  assert.equal(got[0].data.length, max);
  assert.throws(() => nc.publish("big", new Uint8Array(max + 1)),
    (e) => e.code === ErrorCode.MaxPayloadExceeded);
  await nc.flush();  // the connection is still fine
});

test("many messages arrive, all and in order", T, async (t) => {
  const n = 20_000;
  const sub = await open(t, server.url);
  const pub = await open(t, server.url);
  let next = 0;
  let outOfOrder = 0;
  sub.subscribe("many", {
    callback: (err, m) => {
      if (err) return;
      if (new DataView(m.data.buffer, m.data.byteOffset).getUint32(0) !== next) outOfOrder++;
      next++;
    },
  });
  await sub.flush();
  for (let i = 0; i < n; i++) {
    // A buffer each: the client keeps a reference until it writes.
    const buf = new Uint8Array(4);
    new DataView(buf.buffer).setUint32(0, i);
    pub.publish("many", buf);
  }
  await pub.flush();
  await until(() => next >= n, 20_000, `${n} messages (have ${next})`);
  await sub.flush();
  assert.equal(next, n);
  assert.equal(outOfOrder, 0);
});

// --- tests with a server of their own ---

test("client reconnects after the server restarts on the same port", T, async (t) => {
  const own = await ownServer(t);
  const nc = await open(t, own.url,
    { maxReconnectAttempts: -1, reconnectTimeWait: 50, reconnectJitter: 0 });
  const events = [];
  (async () => { for await (const s of nc.status()) events.push(s.type); })();
  const { got } = collect(nc, "re.connect");
  nc.publish("re.connect", sc.encode("before"));
  await nc.flush();
  assert.deepEqual(got.map((m) => sc.decode(m.data)), ["before"]);

  const port = own.port;
  // SIGTERM ends the server by itself, without the SIGKILL that follows
  // 10 s later. shortbusd exits 0; nats-server 2.9.10 exits 1.
  const status = await own.stop();
  assert.equal(status.signal, null, `server ended by ${status.signal}`);
  if (own.target.kind === "shortbusd") assert.equal(status.code, 0);
  await until(() => events.includes(Events.Disconnect), 10_000, "disconnect");
  await own.restart();
  assert.equal(own.port, port);
  await until(() => events.includes(Events.Reconnect), 10_000, "reconnect");
  await nc.flush();
  // The client re-sent its SUB: a fresh connection's publish reaches it.
  const pub = await open(t, own.url);
  pub.publish("re.connect", sc.encode("after"));
  await pub.flush();
  await until(() => got.length === 2, 5000, "the message after reconnecting");
  assert.equal(sc.decode(got[1].data), "after");
});

function rejectsAuth(promise) {
  return assert.rejects(promise, (e) => e.code === ErrorCode.AuthorizationViolation);
}

test("token authentication", T, async (t) => {
  const own = await ownServer(t, { token: "s3cret-token" });
  const nc = await open(t, own.url, { token: "s3cret-token" });
  await nc.flush();
  await rejectsAuth(open(t, own.url, { token: "wrong", maxReconnectAttempts: 0 }));
  await rejectsAuth(open(t, own.url, { maxReconnectAttempts: 0 }));
});

test("user/password authentication", T, async (t) => {
  const own = await ownServer(t, { user: "alice", password: "pa55 word" });
  const nc = await open(t, own.url, { user: "alice", pass: "pa55 word" });
  await nc.flush();
  await rejectsAuth(open(t, own.url, { user: "alice", pass: "wrong" }));
  await rejectsAuth(open(t, own.url, { user: "bob", pass: "pa55 word" }));
  await rejectsAuth(open(t, own.url, {}));
});
