// JetStream end-to-end tests with the official Node NATS client (npm `nats`
// 2.x: jetstreamManager() for streams and consumers, jetstream() for
// publishing and pull consumers) against the server named by
// E2E_SERVER_KIND / E2E_SERVER_BIN with E2E_JETSTREAM=1: nats-server -js as
// the reference, and shortbusd. Top-level tests only, one TAP line each.
//
// One server for the file; each test owns its streams (names and subjects
// unique to it). Tests that restart or kill the server start their own.
// API errors are asserted by the JetStream error code (`err_code` of the
// error envelope, which the client exposes as error.api_error), never by
// their description text.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  AckPolicy, connect, ConsumerDebugEvents, ErrorCode, headers, nanos, RetentionPolicy,
  StorageType, StringCodec,
} from "nats";

import { closeJetStream, openJetStream, until } from "./js_helpers.mjs";
import { startServer } from "./server.mjs";

const sc = StringCodec();
const T = { timeout: 30_000 };

// JetStream API error codes (nats-server's errors.json).
const JS_STREAM_NOT_FOUND = 10059;
const JS_STREAM_NAME_EXISTS = 10058;
const JS_STREAM_SUBJECT_OVERLAP = 10065;
const JS_NO_MESSAGE_FOUND = 10037;
const JS_SEQUENCE_NOT_FOUND = 10043;
const JS_STREAM_NOT_MATCH = 10060;
const JS_STREAM_WRONG_LAST_MSG_ID = 10070;
const JS_STREAM_WRONG_LAST_SEQUENCE = 10071;

let server;
let nc;
let jsm;
let js;
before(async () => ({ server, nc, jsm, js } = await openJetStream()));
after(() => closeJetStream({ server, nc }));

// Asserts that promise rejects with the JetStream API error errCode.
function rejectsWithCode(promise, errCode) {
  return assert.rejects(promise, (e) => {
    assert.equal(e.api_error?.err_code, errCode,
      `want JetStream error ${errCode}, got ${e.message} ${JSON.stringify(e.api_error)}`);
    return true;
  });
}

async function addStream(config) {
  return jsm.streams.add({ storage: StorageType.File, ...config });
}

async function addPullConsumer(stream, name, config = {}) {
  return jsm.consumers.add(stream, { durable_name: name, ack_policy: AckPolicy.Explicit, ...config });
}

// The messages of one pull request of up to max messages; it ends when max
// arrived or, short of that, when the server expires the request.
async function fetch(consumer, max, expires = 5000, onMessage = () => {}) {
  const got = [];
  for await (const m of await consumer.fetch({ max_messages: max, expires })) {
    got.push(m);
    onMessage(m);
  }
  return got;
}

// Asserts that the consumer has nothing to deliver now: a no_wait pull
// request (through the client's older pull API) ends without a message, by
// the server's status reply (404), within a bound.
async function assertNothingToDeliver(stream, durable) {
  const got = [];
  const messages = js.fetch(stream, durable, { batch: 1, no_wait: true });
  let unanswered = false;
  const timer = setTimeout(() => { unanswered = true; messages.stop(); }, 5000);
  try {
    for await (const m of messages) got.push(m);
  } finally {
    clearTimeout(timer);
  }
  assert.equal(unanswered, false, "no answer to a no_wait pull request within 5 s");
  assert.deepEqual(got.map((m) => m.seq), [], "a no_wait pull delivered messages");
}

const seqs = (msgs) => msgs.map((m) => m.seq);

test("creates a stream and reads its info", T, async () => {
  const si = await addStream({ name: "CREATE", subjects: ["create.>"] });
  assert.equal(si.config.name, "CREATE");
  assert.deepEqual(si.config.subjects, ["create.>"]);
  assert.equal(si.config.retention, RetentionPolicy.Limits);
  assert.equal(si.config.storage, StorageType.File);
  assert.equal(si.state.messages, 0);
  assert.equal(si.state.last_seq, 0);

  await js.publish("create.one", sc.encode("x"));
  const info = await jsm.streams.info("CREATE");
  assert.equal(info.config.name, "CREATE");
  assert.deepEqual(info.config.subjects, ["create.>"]);
  assert.equal(info.state.messages, 1);
  assert.equal(info.state.first_seq, 1);
  assert.equal(info.state.last_seq, 1);
  assert.ok(info.state.bytes > 0, `state.bytes ${info.state.bytes}`);
  assert.ok(Number.isFinite(Date.parse(info.created)), `created '${info.created}'`);
  assert.ok((await jsm.streams.names().next()).includes("CREATE"));

  // Creating it again with the same configuration is not an error.
  await addStream({ name: "CREATE", subjects: ["create.>"] });
  await rejectsWithCode(addStream({ name: "CREATE", subjects: ["other.>"] }), JS_STREAM_NAME_EXISTS);
  await rejectsWithCode(addStream({ name: "OVERLAP", subjects: ["create.one"] }),
    JS_STREAM_SUBJECT_OVERLAP);
  await rejectsWithCode(jsm.streams.info("NO_SUCH_STREAM"), JS_STREAM_NOT_FOUND);
});

test("publish with ack: sequences 1..n", T, async () => {
  await addStream({ name: "PUB", subjects: ["pub.*"] });
  const n = 20;
  for (let i = 1; i <= n; i++) {
    const ack = await js.publish(i % 2 ? "pub.odd" : "pub.even", sc.encode(`m${i}`));
    assert.deepEqual({ stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate },
      { stream: "PUB", seq: i, duplicate: false });
  }
  const { state } = await jsm.streams.info("PUB");
  assert.equal(state.messages, n);
  assert.equal(state.first_seq, 1);
  assert.equal(state.last_seq, n);
  // No stream captures this subject: nobody answers.
  await assert.rejects(js.publish("nostream.here", sc.encode("x"), { timeout: 2000 }),
    (e) => e.code === ErrorCode.NoResponders);
});

test("duplicate detection by message id", T, async () => {
  await addStream({ name: "DEDUP", subjects: ["dedup.>"] });
  const first = await js.publish("dedup.a", sc.encode("1"), { msgID: "id-1" });
  assert.equal(first.seq, 1);
  assert.equal(first.duplicate, false);
  const again = await js.publish("dedup.a", sc.encode("1 again"), { msgID: "id-1" });
  assert.equal(again.stream, "DEDUP");
  assert.equal(again.seq, 1, "a duplicate acknowledges the original sequence");
  assert.equal(again.duplicate, true);
  const second = await js.publish("dedup.b", sc.encode("2"), { msgID: "id-2" });
  assert.equal(second.seq, 2);
  assert.equal(second.duplicate, false);
  const { state } = await jsm.streams.info("DEDUP");
  assert.equal(state.messages, 2);
  assert.equal(sc.decode((await jsm.streams.getMessage("DEDUP", { seq: 1 })).data), "1");
});

test("expected stream, last sequence, last subject sequence and last msg id", T, async () => {
  await addStream({ name: "EXPECT", subjects: ["expect.>"] });
  const pub = (subject, expect, msgID) =>
    js.publish(subject, sc.encode(subject), msgID ? { expect, msgID } : { expect });
  assert.equal((await pub("expect.a", {})).seq, 1);

  await rejectsWithCode(pub("expect.a", { lastSequence: 5 }), JS_STREAM_WRONG_LAST_SEQUENCE);
  assert.equal((await pub("expect.b", { lastSequence: 1 })).seq, 2);
  await rejectsWithCode(pub("expect.a", { lastSequence: 1 }), JS_STREAM_WRONG_LAST_SEQUENCE);

  // expect.a was last stored at 1, expect.b at 2.
  await rejectsWithCode(pub("expect.a", { lastSubjectSequence: 2 }), JS_STREAM_WRONG_LAST_SEQUENCE);
  assert.equal((await pub("expect.a", { lastSubjectSequence: 1 })).seq, 3);
  await rejectsWithCode(pub("expect.a", { lastSubjectSequence: 1 }), JS_STREAM_WRONG_LAST_SEQUENCE);
  assert.equal((await pub("expect.b", { lastSubjectSequence: 2 })).seq, 4);

  await rejectsWithCode(pub("expect.a", { streamName: "OTHER" }), JS_STREAM_NOT_MATCH);
  assert.equal((await pub("expect.a", { streamName: "EXPECT" })).seq, 5);

  assert.equal((await pub("expect.c", {}, "order-1")).seq, 6);
  await rejectsWithCode(pub("expect.c", { lastMsgID: "order-0" }, "order-2"),
    JS_STREAM_WRONG_LAST_MSG_ID);
  assert.equal((await pub("expect.c", { lastMsgID: "order-1" }, "order-2")).seq, 7);
  await rejectsWithCode(pub("expect.c", { lastMsgID: "order-1" }, "order-3"),
    JS_STREAM_WRONG_LAST_MSG_ID);

  // Rejected publishes stored nothing.
  const { state } = await jsm.streams.info("EXPECT");
  assert.equal(state.messages, 7);
  assert.equal(state.last_seq, 7);
});

test("pull fetch with a filter subject", T, async () => {
  await addStream({ name: "FILTER", subjects: ["flt.>"] });
  for (const s of ["flt.a.1", "flt.b.1", "flt.a.2", "flt.b.2", "flt.a.3"]) {
    await js.publish(s, sc.encode(s));
  }
  await addPullConsumer("FILTER", "only-a", { filter_subject: "flt.a.*" });
  const ci = await jsm.consumers.info("FILTER", "only-a");
  assert.equal(ci.config.filter_subject, "flt.a.*");
  assert.equal(ci.num_pending, 3);

  const consumer = await js.consumers.get("FILTER", "only-a");
  const got = await fetch(consumer, 3, 5000, (m) => m.ack());
  assert.deepEqual(got.map((m) => [m.subject, m.seq, sc.decode(m.data)]),
    [["flt.a.1", 1, "flt.a.1"], ["flt.a.2", 3, "flt.a.2"], ["flt.a.3", 5, "flt.a.3"]]);
  await assertNothingToDeliver("FILTER", "only-a");

  await js.publish("flt.b.3", sc.encode("b"));
  await js.publish("flt.a.4", sc.encode("a"));
  const later = await fetch(consumer, 1);
  assert.deepEqual(later.map((m) => [m.subject, m.seq]), [["flt.a.4", 7]]);
  await later[0].ackAck();
  await assertNothingToDeliver("FILTER", "only-a");
});

test("ack, nak and redelivery", T, async () => {
  await addStream({ name: "NAK", subjects: ["nak.>"] });
  await addPullConsumer("NAK", "c", { ack_wait: nanos(30_000) });
  const consumer = await js.consumers.get("NAK", "c");
  await js.publish("nak.one", sc.encode("payload"));

  const [first] = await fetch(consumer, 1);
  assert.equal(first.seq, 1);
  assert.equal(first.info.deliveryCount, 1);
  assert.equal(first.redelivered, false);
  assert.equal(first.info.stream, "NAK");
  assert.equal(first.info.consumer, "c");
  first.nak();

  // Redelivered at once, long before the 30 s ack wait.
  const started = Date.now();
  const [again] = await fetch(consumer, 1);
  assert.ok(again, "no redelivery after a nak");
  assert.ok(Date.now() - started < 5000);
  assert.equal(again.seq, 1);
  assert.equal(sc.decode(again.data), "payload");
  assert.equal(again.info.deliveryCount, 2);
  assert.equal(again.redelivered, true);
  assert.equal(await again.ackAck(), true);

  await assertNothingToDeliver("NAK", "c");
  const ci = await jsm.consumers.info("NAK", "c");
  assert.equal(ci.num_ack_pending, 0);
  assert.equal(ci.ack_floor.stream_seq, 1);
});

test("nak with a delay redelivers no sooner than the delay", T, async () => {
  await addStream({ name: "NAKDELAY", subjects: ["nakdelay.>"] });
  await addPullConsumer("NAKDELAY", "c", { ack_wait: nanos(30_000) });
  const consumer = await js.consumers.get("NAKDELAY", "c");
  await js.publish("nakdelay.one", sc.encode("x"));

  const [m] = await fetch(consumer, 1);
  const delay = 800;
  const naked = Date.now();
  m.nak(delay);
  const [again] = await fetch(consumer, 1, 5000);
  const waited = Date.now() - naked;
  assert.ok(again, "no redelivery after a nak with delay");
  assert.equal(again.seq, 1);
  assert.equal(again.info.deliveryCount, 2);
  assert.ok(waited >= delay - 50, `redelivered after ${waited} ms, before the ${delay} ms delay`);
  assert.ok(waited < 5000);
  await again.ackAck();
});

test("working (+WPI) extends the ack wait", T, async () => {
  const ackWait = 1500;
  await addStream({ name: "WPI", subjects: ["wpi.>"] });
  await addPullConsumer("WPI", "c", { ack_wait: nanos(ackWait) });
  const consumer = await js.consumers.get("WPI", "c");
  await js.publish("wpi.one", sc.encode("x"));

  const [m] = await fetch(consumer, 1);
  assert.equal(m.info.deliveryCount, 1);
  // Kept in progress for twice the ack wait: not redelivered meanwhile.
  let lastWorking = Date.now();
  m.working();
  const ticker = setInterval(() => { m.working(); lastWorking = Date.now(); }, ackWait / 5);
  let during;
  try {
    during = await fetch(consumer, 1, 2 * ackWait);
  } finally {
    clearInterval(ticker);
  }
  assert.deepEqual(seqs(during), [], "redelivered while the client sent +WPI");
  // Without more +WPI, it is redelivered once the ack wait passes.
  const [again] = await fetch(consumer, 1, 5 * ackWait);
  const quiet = Date.now() - lastWorking;
  assert.ok(again, "not redelivered after the extended ack wait");
  assert.equal(again.seq, 1);
  assert.equal(again.info.deliveryCount, 2);
  assert.ok(quiet >= ackWait - 100, `redelivered ${quiet} ms after the last +WPI`);
  await again.ackAck();
});

test("term stops redelivery; an unacknowledged message is redelivered after ack wait", T,
  async () => {
    await addStream({ name: "TERM", subjects: ["term.>"] });
    await addPullConsumer("TERM", "c", { ack_wait: nanos(1000) });
    const consumer = await js.consumers.get("TERM", "c");
    await js.publish("term.a", sc.encode("a"));
    await js.publish("term.b", sc.encode("b"));

    const first = await fetch(consumer, 2);
    assert.deepEqual(seqs(first), [1, 2]);
    first[0].term();  // seq 2 is left unacknowledged
    await until(async () => (await jsm.consumers.info("TERM", "c")).num_ack_pending === 1,
      5000, "the terminated message to leave ack pending");

    // Up to 2, acknowledging each: only seq 2 comes back, once.
    const later = await fetch(consumer, 2, 2500, (m) => m.ack());
    assert.deepEqual(later.map((m) => [m.seq, m.info.deliveryCount]), [[2, 2]]);
    await until(async () => (await jsm.consumers.info("TERM", "c")).num_ack_pending === 0,
      5000, "the ack of seq 2");
  });

test("consumer info: num_pending and num_ack_pending", T, async () => {
  await addStream({ name: "CINFO", subjects: ["cinfo.>"] });
  for (let i = 1; i <= 5; i++) await js.publish(`cinfo.${i}`, sc.encode(String(i)));
  await addPullConsumer("CINFO", "c", { ack_wait: nanos(30_000) });
  let ci = await jsm.consumers.info("CINFO", "c");
  assert.equal(ci.stream_name, "CINFO");
  assert.equal(ci.name, "c");
  assert.equal(ci.config.durable_name, "c");
  assert.equal(ci.config.ack_policy, AckPolicy.Explicit);
  assert.equal(ci.num_pending, 5);
  assert.equal(ci.num_ack_pending, 0);
  assert.equal(ci.delivered.stream_seq, 0);

  const consumer = await js.consumers.get("CINFO", "c");
  const got = await fetch(consumer, 3);
  assert.deepEqual(seqs(got), [1, 2, 3]);
  assert.deepEqual(got.map((m) => m.info.pending), [4, 3, 2]);
  ci = await jsm.consumers.info("CINFO", "c");
  assert.equal(ci.num_pending, 2);
  assert.equal(ci.num_ack_pending, 3);
  assert.equal(ci.delivered.consumer_seq, 3);
  assert.equal(ci.delivered.stream_seq, 3);

  await got[0].ackAck();
  ci = await jsm.consumers.info("CINFO", "c");
  assert.equal(ci.num_ack_pending, 2);
  assert.equal(ci.ack_floor.stream_seq, 1);
  await got[2].ackAck();
  await got[1].ackAck();
  ci = await jsm.consumers.info("CINFO", "c");
  assert.equal(ci.num_ack_pending, 0);
  assert.equal(ci.ack_floor.stream_seq, 3);

  await js.publish("cinfo.6", sc.encode("6"));
  ci = await jsm.consumers.info("CINFO", "c");
  assert.equal(ci.num_pending, 3);
});

test("work-queue retention removes acknowledged messages", T, async () => {
  await addStream({ name: "WQ", subjects: ["wq.>"], retention: RetentionPolicy.Workqueue });
  assert.equal((await jsm.streams.info("WQ")).config.retention, RetentionPolicy.Workqueue);
  await addPullConsumer("WQ", "workers", { ack_wait: nanos(30_000) });
  for (let i = 1; i <= 4; i++) await js.publish(`wq.job.${i}`, sc.encode(`job ${i}`));
  const consumer = await js.consumers.get("WQ", "workers");
  const jobs = await fetch(consumer, 4);
  assert.deepEqual(seqs(jobs), [1, 2, 3, 4]);
  await jobs[0].ackAck();
  await jobs[2].ackAck();

  await until(async () => (await jsm.streams.info("WQ")).state.messages === 2, 5000,
    "acknowledged jobs to be removed");
  await rejectsWithCode(jsm.streams.getMessage("WQ", { seq: 1 }), JS_NO_MESSAGE_FOUND);
  await rejectsWithCode(jsm.streams.getMessage("WQ", { seq: 3 }), JS_NO_MESSAGE_FOUND);
  assert.equal(sc.decode((await jsm.streams.getMessage("WQ", { seq: 2 })).data), "job 2");
  const { state } = await jsm.streams.info("WQ");
  assert.equal(state.first_seq, 2);
  assert.equal(state.last_seq, 4);
  // Sequences go on from the last one ever stored.
  assert.equal((await js.publish("wq.job.5", sc.encode("job 5"))).seq, 5);
});

test("message get by sequence and last by subject", T, async () => {
  await addStream({ name: "GET", subjects: ["get.>"] });
  const h = headers();
  h.set("X-Order", "first");
  await js.publish("get.a", sc.encode("a1"), { headers: h });
  await js.publish("get.b", sc.encode("b1"));
  await js.publish("get.a", sc.encode("a2"));

  const m1 = await jsm.streams.getMessage("GET", { seq: 1 });
  assert.equal(m1.subject, "get.a");
  assert.equal(m1.seq, 1);
  assert.equal(sc.decode(m1.data), "a1");
  assert.equal(m1.header.get("X-Order"), "first");
  assert.ok(Math.abs(m1.time.getTime() - Date.now()) < 60_000, `time ${m1.time.toISOString()}`);

  const m2 = await jsm.streams.getMessage("GET", { seq: 2 });
  assert.deepEqual([m2.subject, m2.seq, sc.decode(m2.data)], ["get.b", 2, "b1"]);

  const lastA = await jsm.streams.getMessage("GET", { last_by_subj: "get.a" });
  assert.deepEqual([lastA.subject, lastA.seq, sc.decode(lastA.data)], ["get.a", 3, "a2"]);
  const lastB = await jsm.streams.getMessage("GET", { last_by_subj: "get.b" });
  assert.equal(lastB.seq, 2);

  await rejectsWithCode(jsm.streams.getMessage("GET", { seq: 99 }), JS_NO_MESSAGE_FOUND);
  await rejectsWithCode(jsm.streams.getMessage("GET", { last_by_subj: "get.none" }),
    JS_NO_MESSAGE_FOUND);
  await rejectsWithCode(jsm.streams.getMessage("NO_SUCH_STREAM", { seq: 1 }), JS_STREAM_NOT_FOUND);
});

test("delete message", T, async () => {
  await addStream({ name: "DEL", subjects: ["del.>"] });
  for (let i = 1; i <= 5; i++) await js.publish(`del.${i}`, sc.encode(String(i)));

  assert.equal(await jsm.streams.deleteMessage("DEL", 3), true);
  assert.equal(await jsm.streams.deleteMessage("DEL", 4, false), true);  // no_erase
  await rejectsWithCode(jsm.streams.getMessage("DEL", { seq: 3 }), JS_NO_MESSAGE_FOUND);
  await rejectsWithCode(jsm.streams.getMessage("DEL", { seq: 4 }), JS_NO_MESSAGE_FOUND);
  await rejectsWithCode(jsm.streams.deleteMessage("DEL", 3), JS_SEQUENCE_NOT_FOUND);
  const { state } = await jsm.streams.info("DEL");
  assert.equal(state.messages, 3);
  assert.equal(state.first_seq, 1);
  assert.equal(state.last_seq, 5);

  // A consumer skips the deleted sequences.
  await addPullConsumer("DEL", "c");
  const got = await fetch(await js.consumers.get("DEL", "c"), 3);
  assert.deepEqual(seqs(got), [1, 2, 5]);
});

test("purge: by subject, keeping the newest, and all", T, async () => {
  await addStream({ name: "PURGE", subjects: ["purge.>"] });
  for (const s of ["purge.a", "purge.b", "purge.a", "purge.b", "purge.a", "purge.b"]) {
    await js.publish(s, sc.encode(s));
  }
  const info = async () => (await jsm.streams.info("PURGE")).state;

  let r = await jsm.streams.purge("PURGE", { filter: "purge.a" });
  assert.deepEqual([r.success, r.purged], [true, 3]);
  assert.equal((await info()).messages, 3);
  await rejectsWithCode(jsm.streams.getMessage("PURGE", { last_by_subj: "purge.a" }),
    JS_NO_MESSAGE_FOUND);

  r = await jsm.streams.purge("PURGE", { keep: 1 });  // seqs 2, 4, 6 -> 6
  assert.deepEqual([r.success, r.purged], [true, 2]);
  let state = await info();
  assert.deepEqual([state.messages, state.first_seq, state.last_seq], [1, 6, 6]);

  for (const s of ["purge.a", "purge.a", "purge.b"]) await js.publish(s, sc.encode(s));  // 7, 8, 9
  r = await jsm.streams.purge("PURGE", { filter: "purge.a", keep: 1 });
  assert.deepEqual([r.success, r.purged], [true, 1]);
  assert.equal((await jsm.streams.getMessage("PURGE", { last_by_subj: "purge.a" })).seq, 8);
  await rejectsWithCode(jsm.streams.getMessage("PURGE", { seq: 7 }), JS_NO_MESSAGE_FOUND);
  assert.equal((await info()).messages, 3);

  r = await jsm.streams.purge("PURGE");
  assert.deepEqual([r.success, r.purged], [true, 3]);
  state = await info();
  assert.deepEqual([state.messages, state.first_seq, state.last_seq], [0, 10, 9]);
  // Sequences are never reused.
  assert.equal((await js.publish("purge.a", sc.encode("after"))).seq, 10);
});

test("ordered consumer reads stored then live messages without gap or duplicate", T, async () => {
  await addStream({ name: "ORDERED", subjects: ["ordered.>"] });
  const stored = 50;
  const live = 50;
  for (let i = 1; i <= stored; i++) await js.publish(`ordered.${i % 3}`, sc.encode(String(i)));

  const oc = await js.consumers.get("ORDERED");
  const messages = await oc.consume({ max_messages: 20 });
  const got = [];
  let publishing = null;
  for await (const m of messages) {
    got.push([m.seq, sc.decode(m.data)]);
    if (got.length === stored) {
      // Caught up: the rest is published while the consumer follows.
      publishing = (async () => {
        for (let i = stored + 1; i <= stored + live; i++) {
          await js.publish(`ordered.${i % 3}`, sc.encode(String(i)));
        }
      })();
    }
    if (got.length === stored + live) break;
  }
  await publishing;
  const want = Array.from({ length: stored + live }, (_, i) => [i + 1, String(i + 1)]);
  assert.deepEqual(got, want);
  await oc.delete();
});

test("fetch with expires on an empty stream returns nothing within the bound", T, async () => {
  await addStream({ name: "EMPTY", subjects: ["empty.>"] });
  await addPullConsumer("EMPTY", "c");
  const consumer = await js.consumers.get("EMPTY", "c");
  await assertNothingToDeliver("EMPTY", "c");

  const expires = 1000;
  const started = Date.now();
  const messages = await consumer.fetch({ max_messages: 10, expires });
  // The server ends an expired request with a status message saying how
  // much of it went unused (408 with Nats-Pending-Messages); the client
  // reports that as a discard.
  const discards = [];
  (async () => {
    for await (const s of await messages.status()) {
      if (s.type === ConsumerDebugEvents.Discard) discards.push(s.data);
    }
  })();
  const got = [];
  for await (const m of messages) got.push(m);
  const took = Date.now() - started;
  assert.deepEqual(seqs(got), []);
  assert.ok(took >= expires - 100, `ended after ${took} ms, before expiring`);
  assert.ok(took < expires + 1000, `ended after ${took} ms`);
  await until(() => discards.length > 0, 1000, "the server's end of the expired request");
  assert.equal(discards[0].msgsLeft, 10);
});

// --- tests with a server of their own ---

test("durable consumer resumes after a server restart", T, async (t) => {
  const own = await startServer();
  t.after(() => own.close());
  let conn = await connect({ servers: own.url, timeout: 5000 });
  try {
    const m = await conn.jetstreamManager();
    await m.streams.add({ name: "DURABLE", subjects: ["durable.>"], storage: StorageType.File });
    await m.consumers.add("DURABLE", { durable_name: "resume", ack_policy: AckPolicy.Explicit });
    const j = conn.jetstream();
    for (let i = 1; i <= 6; i++) await j.publish(`durable.${i}`, sc.encode(String(i)));
    const first = await fetch(await j.consumers.get("DURABLE", "resume"), 3);
    assert.deepEqual(seqs(first), [1, 2, 3]);
    for (const msg of first) assert.equal(await msg.ackAck(), true);
  } finally {
    await conn.close();
  }

  const status = await own.stop();
  assert.equal(status.signal, null, `server ended by ${status.signal}`);
  await own.restart();

  conn = await connect({ servers: own.url, timeout: 5000 });
  try {
    const m = await conn.jetstreamManager();
    const j = conn.jetstream();
    const ci = await m.consumers.info("DURABLE", "resume");
    assert.equal(ci.num_pending, 3);
    assert.equal(ci.num_ack_pending, 0);
    assert.equal(ci.ack_floor.stream_seq, 3);
    assert.equal(ci.delivered.stream_seq, 3);
    const rest = await fetch(await j.consumers.get("DURABLE", "resume"), 3);
    assert.deepEqual(rest.map((msg) => [msg.seq, msg.info.deliveryCount, sc.decode(msg.data)]),
      [[4, 1, "4"], [5, 1, "5"], [6, 1, "6"]]);
    for (const msg of rest) await msg.ackAck();
    assert.equal((await j.publish("durable.7", sc.encode("7"))).seq, 7);
  } finally {
    await conn.close();
  }
});

test("acknowledged publishes survive kill -9", T, async (t) => {
  const own = await startServer({ shortbusdArgs: ["--sync=always"] });
  t.after(() => own.close());
  const n = 200;
  let acked = 0;
  let conn = await connect({ servers: own.url, timeout: 5000 });
  try {
    const m = await conn.jetstreamManager();
    await m.streams.add({ name: "CRASH", subjects: ["crash.>"], storage: StorageType.File });
    const j = conn.jetstream();
    // Pipelined: every acknowledgement counts, whichever order they come in.
    await Promise.all(Array.from({ length: n }, (_, i) =>
      j.publish(`crash.${i % 7}`, sc.encode(`m${i + 1}`)).then(() => { acked++; })));
  } finally {
    await conn.close();
  }
  assert.equal(acked, n);

  const status = await own.kill();
  assert.equal(status.signal, "SIGKILL");
  await own.restart();

  conn = await connect({ servers: own.url, timeout: 5000 });
  try {
    const m = await conn.jetstreamManager();
    const { state } = await m.streams.info("CRASH");
    assert.equal(state.messages, acked);
    assert.equal(state.first_seq, 1);
    assert.equal(state.last_seq, acked);
    const last = await m.streams.getMessage("CRASH", { seq: acked });
    assert.equal(last.seq, acked);
    assert.ok(/^m\d+$/.test(sc.decode(last.data)));
    assert.equal((await conn.jetstream().publish("crash.0", sc.encode("after"))).seq, acked + 1);
  } finally {
    await conn.close();
  }
});
