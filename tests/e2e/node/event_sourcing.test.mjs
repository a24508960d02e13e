// The event-sourcing example (event_sourcing.mjs, shown whole in
// docs/event-sourcing.md) run against the server named by E2E_SERVER_KIND /
// E2E_SERVER_BIN with E2E_JETSTREAM=1: nats-server -js as the reference,
// and shortbusd; and the doc's `nc -U` session replayed against shortbusd.
// Top-level tests only, one TAP line each; each test starts from a new,
// empty ORDERS stream, so sequences start at 1.
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import { after, before, beforeEach, test } from "node:test";
import { connect } from "nats";

import {
  append, ConcurrencyError, ensureStream, execute, follow, load, STREAM,
} from "./event_sourcing.mjs";
import { closeJetStream, openJetStream, until } from "./js_helpers.mjs";
import { target } from "./server.mjs";

const T = { timeout: 30_000 };

let server;
let nc;
let jsm;
let js;
before(async () => ({ server, nc, jsm, js } = await openJetStream()));
after(() => closeJetStream({ server, nc }));
beforeEach(async () => {
  await jsm.streams.delete(STREAM).catch(() => {});
  await ensureStream(jsm);
});

async function consumerNames() {
  const names = [];
  for await (const ci of await jsm.consumers.list(STREAM)) names.push(ci.name);
  return names;
}

const created = (customer) => ({ type: "created", customer });
const item = (sku, qty, price) => ({ type: "item_added", sku, qty, price });

const doc = () => fs.readFileSync(new URL("../../../docs/event-sourcing.md", import.meta.url), "utf8");

// The contents of the doc's fenced blocks of language lang.
const FENCE = "```";
const blocks = (lang) => [...doc().matchAll(new RegExp(`^${FENCE}${lang}\\n([\\s\\S]*?)^${FENCE}$`, "gm"))]
  .map((m) => m[1]);

test("the doc shows event_sourcing.mjs verbatim", () => {
  const code = fs.readFileSync(new URL("./event_sourcing.mjs", import.meta.url), "utf8");
  assert.ok(blocks("js").includes(code),
    "docs/event-sourcing.md has no ```js block equal to tests/e2e/node/event_sourcing.mjs");
});

// The exchanges of an `nc -C` transcript (its lines after INFO): [what was
// typed, what the server answered], as bytes on the wire. Answers are the
// lines starting +, -ERR, MSG, HMSG, PONG; a (H)PUB or (H)MSG line takes
// the following lines its size covers.
function exchanges(lines) {
  const out = [];
  for (let i = 0; i < lines.length;) {
    const line = lines[i++];
    let bytes = line + "\r\n";
    if (/^H?(PUB|MSG) /.test(line)) {
      const size = Number(line.split(" ").at(-1));
      let payload = lines[i++];
      while (payload.length < size) payload += "\r\n" + lines[i++];
      assert.equal(payload.length, size, `payload of '${line}'`);
      bytes += payload + "\r\n";
    }
    const answer = /^(\+|-ERR|MSG |HMSG |PONG)/.test(line);
    if (!answer && (out.length === 0 || out.at(-1)[1] !== "")) out.push([bytes, ""]);
    else out.at(-1)[answer ? 1 : 0] += bytes;
  }
  return out;
}

test("the doc's nc -U session, replayed", {
  ...T, skip: target().kind !== "shortbusd" && "human verbs (ADDSTREAM, REPLAY) are shortbusd's",
}, async () => {
  const session = blocks("text").find((b) => b.startsWith("$ nc -CU "));
  assert.ok(session, "docs/event-sourcing.md has no ```text block starting '$ nc -CU '");
  const lines = session.split("\n").slice(0, -1);
  assert.match(lines[1], /^INFO \{/);
  await jsm.streams.delete(STREAM);  // the session creates it

  const socket = net.connect({ host: "127.0.0.1", port: server.port });
  let received = "";
  socket.setEncoding("latin1");
  socket.on("data", (d) => { received += d; });
  try {
    await until(() => received.includes("\r\n"), 5000, "INFO");
    assert.match(received, /^INFO \{.*\}\s*\r\n$/);
    for (const [typed, answer] of exchanges(lines.slice(2))) {
      received = "";
      socket.write(typed);
      await until(() => received.length >= answer.length, 5000, `the answer to ${JSON.stringify(typed)}`);
      assert.equal(received, answer, `answer to ${JSON.stringify(typed)}`);
    }
  } finally {
    socket.destroy();
  }
});

test("append: versions are stream sequences; a stale version is a ConcurrencyError", T, async () => {
  assert.equal(await append(js, "42", created("ada"), 0), 1);
  assert.equal(await append(js, "7", created("bob"), 0), 2);
  assert.equal(await append(js, "42", item("tea", 2, 3), 1), 3);
  // Another order's event moved the stream, not order 42's version.
  assert.equal(await append(js, "7", item("cup", 1, 5), 2), 4);
  assert.equal(await append(js, "42", item("pot", 1, 20), 3), 5);

  for (const stale of [0, 1, 3, 4, 6]) {
    await assert.rejects(append(js, "42", { type: "paid" }, stale), (e) => {
      assert.ok(e instanceof ConcurrencyError, `version ${stale}: ${e}`);
      assert.deepEqual([e.orderId, e.expectedVersion], ["42", stale]);
      return true;
    });
  }
  assert.equal((await jsm.streams.info(STREAM)).state.last_seq, 5, "a refused append was stored");
  await assert.rejects(append(js, "4.2", created("x"), 0), /bad order id/);
});

test("load folds one order's history into state and version", T, async () => {
  assert.deepEqual(await load(js, "42"), { state: undefined, version: 0 });

  await append(js, "42", created("ada"), 0);
  await append(js, "7", created("bob"), 0);
  await append(js, "42", item("tea", 2, 3), 1);
  await append(js, "7", item("cup", 1, 5), 2);
  await append(js, "42", item("pot", 1, 20), 3);
  await append(js, "42", { type: "paid" }, 5);

  assert.deepEqual(await load(js, "42"), {
    state: {
      status: "paid", customer: "ada", total: 26,
      items: [{ sku: "tea", qty: 2 }, { sku: "pot", qty: 1 }],
    },
    version: 6,
  });
  assert.deepEqual(await load(js, "7"), {
    state: { status: "open", customer: "bob", total: 5, items: [{ sku: "cup", qty: 1 }] },
    version: 4,
  });
  assert.deepEqual(await load(js, "8"), { state: undefined, version: 0 });
  assert.deepEqual(await consumerNames(), [], "load left a consumer behind");
});

test("two writers race on one version: one wins, the other conflicts, reloads and succeeds", T, async () => {
  const nc2 = await connect({ servers: server.url, timeout: 5000 });
  try {
    const writers = [js, nc2.jetstream()];

    // A new order: both create it at version 0.
    let results = await Promise.allSettled(
      writers.map((w, i) => append(w, "42", created(`writer${i}`), 0)));
    let won = results.filter((r) => r.status === "fulfilled");
    let lost = results.filter((r) => r.status === "rejected");
    assert.deepEqual([won.length, lost.length], [1, 1], JSON.stringify(results));
    assert.ok(lost[0].reason instanceof ConcurrencyError, String(lost[0].reason));
    assert.equal(won[0].value, 1);

    // Both add an item at the version they loaded.
    const loaded = await Promise.all(writers.map((w) => load(w, "42")));
    assert.deepEqual(loaded[0], loaded[1]);
    const { version } = loaded[0];
    results = await Promise.allSettled(
      writers.map((w, i) => append(w, "42", item(`sku${i}`, 1, 10), version)));
    won = results.findIndex((r) => r.status === "fulfilled");
    const loser = 1 - won;
    assert.ok(won >= 0 && results[loser].status === "rejected", JSON.stringify(results));
    assert.ok(results[loser].reason instanceof ConcurrencyError, String(results[loser].reason));
    const winnerVersion = results[won].value;
    assert.equal(winnerVersion, 2);

    // The loser reloads: it sees the winner's item, and its append succeeds.
    const again = await load(writers[loser], "42");
    assert.equal(again.version, winnerVersion);
    assert.deepEqual(again.state.items, [{ sku: `sku${won}`, qty: 1 }]);
    assert.equal(await append(writers[loser], "42", item(`sku${loser}`, 1, 10), again.version), 3);

    const final = await load(js, "42");
    assert.equal(final.version, 3);
    assert.deepEqual(final.state.items, [{ sku: `sku${won}`, qty: 1 }, { sku: `sku${loser}`, qty: 1 }]);
    assert.equal(final.state.total, 20);
  } finally {
    await nc2.close();
  }
});

test("execute retries on conflict: n concurrent writers all succeed once", T, async () => {
  await append(js, "9", created("ada"), 0);
  const n = 4;
  const conns = await Promise.all(
    Array.from({ length: n }, () => connect({ servers: server.url, timeout: 5000 })));
  try {
    // A writer conflicts only when another appended in between, so n
    // attempts always suffice for n writers.
    const versions = await Promise.all(conns.map((c, i) =>
      execute(c.jetstream(), "9", () => item(`w${i}`, 1, 1), n)));
    assert.deepEqual([...versions].sort((a, b) => a - b), [2, 3, 4, 5]);
  } finally {
    await Promise.all(conns.map((c) => c.close()));
  }
  const { state, version } = await load(js, "9");
  assert.equal(version, 5);
  assert.deepEqual(state.items.map((i) => i.sku).sort(), ["w0", "w1", "w2", "w3"]);
});

test("follow catches up the whole log, then follows live: in order, once each", T, async () => {
  const want = [];
  const versions = new Map();
  async function add(orderId, event) {
    const seq = await append(js, orderId, event, versions.get(orderId) ?? 0);
    versions.set(orderId, seq);
    want.push({ seq, orderId, event });
  }
  for (let i = 0; i < 30; i++) {
    const id = `o${i % 3}`;
    await add(id, versions.has(id) ? item(`s${i}`, 1, i) : created(`c${i}`));
  }

  const got = [];
  const from1 = await follow(js, 1, async (e) => { got.push(e); });
  const got11 = [];
  const from11 = await follow(js, 11, (e) => { got11.push(e); });
  await until(() => got.length >= 30 && got11.length >= 20, 10_000, "catch-up");

  // Live: appended after both caught up. The last is a marker: delivery is
  // in order, so a gap or a repeat before it shows once it has arrived.
  for (let i = 30; i < 40; i++) {
    const id = `o${i % 4}`;  // o3 is a new order
    await add(id, versions.has(id) ? item(`s${i}`, 1, i) : created(`c${i}`));
  }
  const last = want.at(-1).seq;
  await until(() => got.at(-1)?.seq >= last && got11.at(-1)?.seq >= last, 10_000, "live events");

  await from1.stop();
  await from11.stop();
  assert.deepEqual(got, want);
  assert.deepEqual(got11, want.slice(10));
  assert.deepEqual(await consumerNames(), [], "follow left a consumer behind after stop()");
});

test("follow ends with the handler's error", T, async () => {
  await append(js, "1", created("ada"), 0);
  await append(js, "1", item("tea", 1, 1), 1);
  const seen = [];
  const f = await follow(js, 1, (e) => {
    seen.push(e.seq);
    if (e.seq === 2) throw new Error("projection failed");
  });
  await assert.rejects(f.done, /projection failed/);
  await assert.rejects(f.stop(), /projection failed/);
  assert.deepEqual(seen, [1, 2]);
  assert.deepEqual(await consumerNames(), [], "follow left a consumer behind after an error");
});
