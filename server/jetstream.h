// Streams and consumers over the wire: the JetStream API subset the
// official clients use (docs/jetstream.md), stream capture of published
// messages, publish acknowledgements, and delivery to consumers.
//
// Threading: everything runs on the core's thread (the event loop's), as
// the core does: appends (Log::Append makes no system call), consumer
// operations, API requests. Two things come from elsewhere through
// JsHost::Post: a stream's durable callback (publish acknowledgements under
// sync=always wait for it) and nothing else. Consumer state and batched
// deletions are committed to the index once per batch of events (a Post
// after the first change), never per message.
//
// Subjects it answers (all others pass through untouched):
//   $JS.API.>            API requests (jetstream_api.cc)
//   $JS.ACK.<stream>.<consumer>.<deliveries>.<sseq>.<cseq>.<ts>.<pending>
//                        acknowledgements of delivered messages
//   $JS.FC.<stream>.<consumer>.<n>   flow control replies of push consumers
//   any subject a stream captures    appended, then acknowledged
#ifndef SHORTBUS_SERVER_JETSTREAM_H_
#define SHORTBUS_SERVER_JETSTREAM_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "index/store.h"
#include "server/js_config.h"
#include "server/js_errors.h"
#include "server/js_host.h"
#include "server/publish_observer.h"
#include "server/server_core.h"
#include "server/sublist.h"

namespace shortbus::server {

class JetStream : public PublishObserver {
 public:
  // `store`, `core` and `host` outlive this object.
  JetStream(index::Store* store, ServerCore* core, JsHost* host, JsDefaults defaults);
  ~JetStream() override;
  JetStream(const JetStream&) = delete;
  JetStream& operator=(const JetStream&) = delete;

  // Takes over the streams and consumers of the store. Call once, on the
  // core's thread, before serving.
  absl::Status Start();
  // Commits consumer state and cancels timers; nothing is delivered after.
  void Stop();

  bool OnPublish(const PublishedMessage& message) override;

  // ---- For the human verbs and tests (core thread) ----
  struct StreamSummary {
    std::string name;
    std::vector<std::string> subjects;
    uint64_t messages = 0, bytes = 0, first_seq = 0, last_seq = 0;
    int64_t first_ts = 0, last_ts = 0;
    size_t consumers = 0;
  };
  std::vector<std::string> StreamNames() const;
  // False when there is no such stream.
  bool Summarize(const std::string& name, StreamSummary* out);
  // The JSON of STREAM.INFO / CONSUMER.INFO (an error envelope when absent).
  std::string StreamInfoJson(const std::string& name);
  std::string ConsumerInfoJson(const std::string& stream, const std::string& consumer);
  // Creates a stream from a STREAM.CREATE body; the response JSON.
  std::string CreateStreamJson(const std::string& name, std::string_view body);
  // Where a read of stored messages starts: a sequence, else a time
  // (since_ns > 0), else the last `last_n` matching messages.
  struct ReadStart {
    uint64_t seq = 0;
    int64_t since_ns = 0;
    uint64_t last_n = 0;
  };
  // Calls fn for each stored message of `stream` from `start` whose subject
  // matches `filter` (empty: all), at most `limit`, until fn returns false;
  // returns the sequence a continuation would start from. NotFound for no
  // such stream.
  absl::StatusOr<uint64_t> ReadStored(const std::string& stream, const ReadStart& start, const std::string& filter,
                                      uint64_t limit, const std::function<bool(const engine::Record&)>& fn);

 private:
  struct Stream;
  struct Consumer;
  struct PullRequest;

  // ---- publish path (jetstream.cc) ----
  void Capture(Stream* s, const PublishedMessage& m);
  void SendPubAck(std::string_view reply, std::string_view stream, uint64_t seq, bool duplicate);
  void SendPubError(std::string_view reply, std::string_view stream, const JsError& e);
  void OnDurable(uint64_t stream_id, uint64_t seq);
  // sync=always: the log's sync is asked for once per turn of the loop,
  // after every publish that turn brought (a read holds hundreds), so that
  // one group commit covers them all (engine::LogOptions::sync_on_append).
  void WantSync(Stream* s);
  void RequestSyncs();
  // Writes what this turn's publishes staged (engine::LogOptions::defer_publish)
  // and makes it readable. Called before anything reads a stream or its last
  // sequence, and at the end of the turn; a no-op when nothing is staged.
  void PublishStaged();
  void AfterAppend(Stream* s, uint64_t seq, std::string_view subject);
  void EnforcePerSubject(Stream* s, uint64_t seq, std::string_view subject);
  // After deletions and purges: consumers count their pending anew.
  void ForgetPendingCounts(Stream* s);

  // ---- API (jetstream_api.cc) ----
  void HandleApi(std::string_view api, const PublishedMessage& m);
  void Respond(std::string_view reply, const std::string& json);
  std::string ErrorJson(std::string_view type, const JsError& e);
  // An error's description as clients see it: paths inside the data
  // directory relative to it, so that a client learns which file failed
  // and how, not where the daemon keeps its data.
  std::string ForClient(std::string_view description) const;
  std::string AccountInfo(std::string_view type);
  std::string StreamCreate(std::string_view type, const std::string& name, std::string_view body, bool update);
  std::string StreamInfo(std::string_view type, Stream* s);
  std::string StreamDelete(std::string_view type, const std::string& name);
  std::string StreamPurge(std::string_view type, Stream* s, std::string_view body);
  std::string StreamNamesOrList(std::string_view type, std::string_view body, bool list);
  std::string MsgGet(std::string_view type, Stream* s, std::string_view body);
  std::string MsgDelete(std::string_view type, Stream* s, std::string_view body);
  std::string ConsumerCreate(std::string_view type, Stream* s, const std::string& name,
                             const std::string& subject_filter, std::string_view body);
  std::string ConsumerInfo(std::string_view type, Consumer* c);
  std::string ConsumerDelete(std::string_view type, Stream* s, const std::string& name);
  std::string ConsumerNamesOrList(std::string_view type, Stream* s, std::string_view body, bool list);

  // ---- consumers (jetstream_consumers.cc) ----
  void NextRequest(Consumer* c, std::string_view reply, std::string_view body);
  void HandleAck(std::string_view subject, const PublishedMessage& m);
  void HandleFlowControl(std::string_view subject);
  // Delivers what it can: to waiting pull requests, or to the push subject.
  void Deliver(Consumer* c);
  bool SendOne(Consumer* c, std::string_view to, const index::Delivery& d);
  void SendStatus(std::string_view to, int code, std::string_view text,
                  const std::vector<std::pair<std::string_view, std::string>>& extra = {},
                  std::string_view reply = {});
  // Expires pull requests, sends heartbeats, redelivers; re-arms the timer.
  void OnConsumerTimer(Consumer* c);
  void ArmTimer(Consumer* c);
  void MarkDirty(Consumer* c);
  void CommitDirty();
  void MaybeRemoveAcked(Stream* s, uint64_t seq, std::string_view subject);
  void RemoveFinished(Stream* s, uint64_t upto);
  void DropConsumer(Stream* s, const std::string& name);

  // ---- helpers ----
  Stream* FindStream(std::string_view name);
  Consumer* FindConsumer(Stream* s, std::string_view name);
  absl::Status Adopt(index::StoredStream* stored);
  void AdoptConsumer(Stream* s, index::Consumer* ic);
  void IndexCapture(Stream* s);
  void UnindexCapture(Stream* s);
  JsError CheckOverlap(const std::vector<std::string>& subjects, const std::string& except);
  void LoadDedup(Stream* s);

  index::Store* const store_;
  ServerCore* const core_;
  JsHost* const host_;
  const JsDefaults defaults_;
  bool stopped_ = false;
  uint64_t next_stream_id_ = 1;
  std::map<std::string, std::unique_ptr<Stream>> streams_;
  absl::flat_hash_map<uint64_t, Stream*> streams_by_id_;
  Sublist capture_;  // each stream's subjects -> its Stream (by the Subscription)
  absl::flat_hash_map<const Subscription*, Stream*> capture_owner_;
  std::vector<Consumer*> dirty_;  // consumers with uncommitted state
  bool commit_posted_ = false;
  std::vector<uint64_t> sync_wanted_;  // ids of streams appended to this turn
  bool sync_posted_ = false;
  // Acks that asked for a reply, sent after their consumer's commit
  // succeeded (never for one whose commit failed: a confirmed ack survives
  // a crash). The pointer is only compared, never followed.
  std::vector<std::pair<std::string, const Consumer*>> ack_replies_;
  std::string buf_;        // reused for acknowledgements and ack subjects
  std::string reply_buf_;  // reused for the ack subject of a delivery
  uint64_t api_total_ = 0, api_errors_ = 0;
};

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_JETSTREAM_H_
