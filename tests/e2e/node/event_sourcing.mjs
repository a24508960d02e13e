// An event-sourced `orders` aggregate on a JetStream stream, with the
// official Node client (npm `nats` 2.x). The caller connects and passes the
// client's `jsm` (nc.jetstreamManager()) and `js` (nc.jetstream()) objects.
//
// Model: stream ORDERS captures `orders.>`; the events of order <id> are the
// messages on subject `orders.<id>`, payload JSON `{"type": ..., ...}`. The
// version of an order is the stream sequence of its last event (0: no
// event yet). Sequences only grow and are never reused, so "version still
// v" means "nobody appended to this order since I read it".

export const STREAM = "ORDERS";
const PREFIX = "orders.";
const WRONG_LAST_SEQUENCE = 10071;  // JetStream API error code

// Thrown by append() when the order moved past expectedVersion: load it
// again, decide again, append again.
export class ConcurrencyError extends Error {
  constructor(orderId, expectedVersion) {
    super(`order ${orderId} is no longer at version ${expectedVersion}`);
    this.name = "ConcurrencyError";
    this.orderId = orderId;
    this.expectedVersion = expectedVersion;
  }
}

// Creates ORDERS, or checks that it exists with this configuration.
// Retention by limits with no limit set: events are kept until deleted.
export async function ensureStream(jsm) {
  await jsm.streams.add({
    name: STREAM,
    subjects: [`${PREFIX}>`],
    storage: "file",
    retention: "limits",
  });
}

function subjectOf(orderId) {
  // One subject token: no '.', no wildcard, no space.
  if (!/^[A-Za-z0-9_-]+$/.test(orderId)) throw new Error(`bad order id '${orderId}'`);
  return PREFIX + orderId;
}

const encoder = new TextEncoder();

// Appends event to the order if its version is still expectedVersion;
// resolves to the new version (the event's stream sequence).
export async function append(js, orderId, event, expectedVersion) {
  try {
    const ack = await js.publish(subjectOf(orderId), encoder.encode(JSON.stringify(event)), {
      expect: { lastSubjectSequence: expectedVersion },
    });
    return ack.seq;
  } catch (e) {
    if (e.api_error?.err_code === WRONG_LAST_SEQUENCE) {
      throw new ConcurrencyError(orderId, expectedVersion);
    }
    throw e;
  }
}

// The state after event; state is undefined before the first event.
export function apply(state, event) {
  switch (event.type) {
    case "created":
      return { status: "open", customer: event.customer, items: [], total: 0 };
    case "item_added":
      return {
        ...state,
        items: [...state.items, { sku: event.sku, qty: event.qty }],
        total: state.total + event.qty * event.price,
      };
    case "paid":
      return { ...state, status: "paid" };
    case "shipped":
      return { ...state, status: "shipped" };
    default:
      throw new Error(`unknown event type '${event.type}'`);
  }
}

// Replays the events of one order stored now and folds them: resolves to
// { state, version } (state undefined and version 0 for an unknown order).
export async function load(js, orderId) {
  let state;
  let version = 0;
  const consumer = await js.consumers.get(STREAM, { filterSubjects: subjectOf(orderId) });
  try {
    // Creating the consumer counts the order's events: none, nothing to read.
    if ((await consumer.info(true)).num_pending === 0) return { state, version };
    for await (const m of await consumer.consume()) {
      state = apply(state, m.json());
      version = m.seq;
      if (m.info.pending === 0) break;  // caught up
    }
    return { state, version };
  } finally {
    await consumer.delete();
  }
}

// Loads the order, asks decide(state) for the next event and appends it at
// the version it loaded; on a conflict, starts over. Resolves to the new
// version.
export async function execute(js, orderId, decide, attempts = 5) {
  for (let i = 1; ; i++) {
    const { state, version } = await load(js, orderId);
    try {
      return await append(js, orderId, decide(state), version);
    } catch (e) {
      if (!(e instanceof ConcurrencyError) || i === attempts) throw e;
    }
  }
}

// Delivers every event of the log from stream sequence fromSeq (1: from
// the start), in order, then each new one as it is appended, each once:
// await onEvent({ seq, orderId, event }) before the next. Resolves to
// { done, stop }: done settles when following ends (rejected with
// onEvent's error if one threw, which ends it); stop() ends it and
// resolves as done does, once the last onEvent returned.
export async function follow(js, fromSeq, onEvent) {
  const consumer = await js.consumers.get(STREAM, { opt_start_seq: fromSeq });
  const messages = await consumer.consume();
  const done = (async () => {
    try {
      for await (const m of messages) {
        await onEvent({ seq: m.seq, orderId: m.subject.slice(PREFIX.length), event: m.json() });
      }
    } finally {
      await consumer.delete().catch(() => {});
    }
  })();
  return {
    done,
    stop() {
      messages.stop();
      return done;
    },
  };
}
