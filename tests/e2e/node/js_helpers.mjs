// What the Node JetStream tests (jetstream.test.mjs, event_sourcing.test.mjs)
// share: a server with JetStream and one connection to it, and bounded
// waits on a condition.
import { connect } from "nats";

import { startServer } from "./server.mjs";

// Starts the server under test (./server.mjs) and connects to it:
// { server, nc, jsm (jetstreamManager()), js (jetstream()) }.
export async function openJetStream() {
  const server = await startServer();
  const nc = await connect({ servers: server.url, timeout: 5000 });
  return { server, nc, jsm: await nc.jetstreamManager(), js: nc.jetstream() };
}

// Closes what openJetStream opened (either may be undefined): the
// connection first, so that it does not wait to reconnect.
export async function closeJetStream({ server, nc }) {
  await nc?.close();
  await server?.close();
}

// Resolves when (await) predicate() holds, polling every 10 ms; rejects
// after ms.
export async function until(predicate, ms, what) {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
