// JetStream: the API requests on $JS.API.> (docs/jetstream.md).
#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "server/absl_view.h"
#include "server/jetstream.h"
#include "server/jetstream_state.h"
#include "server/js_headers.h"
#include "server/js_time.h"
#include "server/subject.h"

namespace shortbus::server {
namespace {

constexpr char kTypePrefix[] = "io.nats.jetstream.api.v1.";
constexpr int64_t kNamesPage = 1024;
constexpr int64_t kListPage = 256;
constexpr char kZeroTime[] = "0001-01-01T00:00:00Z";

std::string Type(std::string_view what) { return absl::StrCat(kTypePrefix, Av(what)); }

// An empty body is {}; anything else must be a JSON object.
bool ParseBody(std::string_view body, Json* out) {
  if (body.empty()) {
    *out = Json::object();
    return true;
  }
  *out = Json::parse(body, nullptr, false);
  return !out->is_discarded() && out->is_object();
}

// The paging fields of a NAMES/LIST response; clamps *offset to total.
OrderedJson PageHeader(std::string_view type, int64_t total, int64_t limit, int64_t* offset) {
  *offset = std::min(*offset, total);
  OrderedJson out;
  out["type"] = std::string(type);
  out["total"] = total;
  out["offset"] = *offset;
  out["limit"] = limit;
  return out;
}

std::string RandomName() {
  static uint64_t state = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())) | 1;
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string s(8, '0');
  for (char& c : s) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    c = kAlphabet[state % 62];
  }
  return s;
}

}  // namespace

void JetStream::Respond(std::string_view reply, const std::string& json) {
  PublishedMessage m;
  m.subject = reply;
  m.payload = json;
  core_->PublishInternal(m, {}, /*one_off=*/true);
}

std::string JetStream::ErrorJson(std::string_view type, const JsError& e) {
  ++api_errors_;
  OrderedJson j;
  j["type"] = std::string(type);
  j["error"] = {{"code", e.code}, {"err_code", e.err_code}, {"description", ForClient(e.description)}};
  return DumpJson(j);
}

std::string JetStream::ForClient(std::string_view description) const {
  const std::string& dir = store_->dir();
  if (dir.empty()) return std::string(description);
  return absl::StrReplaceAll(Av(description), {{absl::StrCat(dir, "/"), ""}, {dir, "."}});
}

void JetStream::HandleApi(std::string_view api, const PublishedMessage& m) {
  ++api_total_;
  PublishStaged();
  std::vector<std::string_view> t;
  for (size_t start = 0;;) {
    const size_t dot = api.find('.', start);
    t.push_back(api.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  const std::string_view body = m.payload;
  auto arg = [&](size_t i) { return i < t.size() ? std::string(t[i]) : std::string(); };
  std::string out;
  if (t.size() == 1 && t[0] == "INFO") {
    out = AccountInfo(Type("account_info_response"));
  } else if (t.size() >= 2 && t[0] == "STREAM") {
    const std::string_view op = t[1];
    if (op == "NAMES" && t.size() == 2) {
      out = StreamNamesOrList(Type("stream_names_response"), body, false);
    } else if (op == "LIST" && t.size() == 2) {
      out = StreamNamesOrList(Type("stream_list_response"), body, true);
    } else if ((op == "CREATE" || op == "UPDATE") && t.size() == 3) {
      out = StreamCreate(Type(op == "CREATE" ? "stream_create_response" : "stream_update_response"), arg(2), body,
                         op == "UPDATE");
    } else if (op == "DELETE" && t.size() == 3) {
      out = StreamDelete(Type("stream_delete_response"), arg(2));
    } else if ((op == "INFO" || op == "PURGE") && t.size() == 3) {
      const std::string type = Type(op == "INFO" ? "stream_info_response" : "stream_purge_response");
      Stream* s = FindStream(t[2]);
      if (s == nullptr) {
        out = ErrorJson(type, JsStreamNotFound());
      } else {
        out = op == "INFO" ? StreamInfo(type, s) : StreamPurge(type, s, body);
      }
    } else if (op == "MSG" && t.size() == 4 && (t[2] == "GET" || t[2] == "DELETE")) {
      const std::string type = Type(t[2] == "GET" ? "stream_msg_get_response" : "stream_msg_delete_response");
      Stream* s = FindStream(t[3]);
      if (s == nullptr) {
        out = ErrorJson(type, JsStreamNotFound());
      } else {
        out = t[2] == "GET" ? MsgGet(type, s, body) : MsgDelete(type, s, body);
      }
    }
  } else if (t.size() >= 3 && t[0] == "CONSUMER") {
    const std::string_view op = t[1];
    // CREATE.<s>, CREATE.<s>.<name>, CREATE.<s>.<name>.<filter...>,
    // DURABLE.CREATE.<s>.<name>, INFO/DELETE/MSG.NEXT.<s>.<name>, NAMES/LIST.<s>
    if (op == "MSG" && t.size() == 5 && t[2] == "NEXT") {
      Stream* s = FindStream(t[3]);
      Consumer* c = s == nullptr ? nullptr : FindConsumer(s, t[4]);
      if (c != nullptr) NextRequest(c, m.reply, body);
      return;  // no consumer: no answer at all, as nats-server
    }
    const bool durable_form = op == "DURABLE" && t.size() == 5 && t[2] == "CREATE";
    const std::string stream_name = durable_form ? arg(3) : arg(2);
    Stream* s = FindStream(stream_name);
    std::string type;
    if (op == "CREATE" || durable_form) {
      type = Type("consumer_create_response");
    } else if (op == "INFO" && t.size() == 4) {
      type = Type("consumer_info_response");
    } else if (op == "DELETE" && t.size() == 4) {
      type = Type("consumer_delete_response");
    } else if (op == "NAMES" && t.size() == 3) {
      type = Type("consumer_names_response");
    } else if (op == "LIST" && t.size() == 3) {
      type = Type("consumer_list_response");
    }
    if (type.empty()) {
      // unknown: no answer
    } else if (s == nullptr) {
      out = ErrorJson(type, JsStreamNotFound());
    } else if (op == "CREATE" || durable_form) {
      std::string name = durable_form ? arg(4) : arg(3);
      std::string filter;
      if (!durable_form && t.size() > 4) {
        // CONSUMER.CREATE.<stream>.<name>.<filter, which may hold dots>
        filter = std::string(api.substr(16 + t[2].size() + 1 + t[3].size() + 1));
      }
      Json j;
      if (!ParseBody(body, &j)) {
        out = ErrorJson(type, JsInvalidJson());
      } else {
        if (durable_form && !j.contains("config")) j["config"] = Json::object();
        if (durable_form && j["config"].is_object() && !j["config"].contains("durable_name")) {
          j["config"]["durable_name"] = name;
        }
        if (!durable_form && t.size() == 3 && j.contains("config") && j["config"].is_object() &&
            j["config"].contains("durable_name") && j["config"]["durable_name"].is_string() &&
            !j["config"]["durable_name"].get<std::string>().empty()) {
          out = ErrorJson(type, JsConsumerExpectedEphemeral());
        } else {
          out = ConsumerCreate(type, s, name, filter, DumpJson(j));
        }
      }
    } else if (op == "INFO") {
      Consumer* c = FindConsumer(s, t[3]);
      out = c == nullptr ? ErrorJson(type, JsConsumerNotFound()) : ConsumerInfo(type, c);
    } else if (op == "DELETE") {
      out = ConsumerDelete(type, s, arg(3));
    } else {
      out = ConsumerNamesOrList(type, s, body, op == "LIST");
    }
  }
  if (out.empty()) return;  // an unknown request: no answer, as nats-server
  Respond(m.reply, out);
}

std::string JetStream::AccountInfo(std::string_view type) {
  uint64_t bytes = 0, consumers = 0;
  for (const auto& [name, s] : streams_) {
    bytes += s->stored->log().stats().bytes;
    consumers += s->consumers.size();
  }
  OrderedJson j;
  j["type"] = std::string(type);
  j["memory"] = 0;
  j["storage"] = bytes;
  j["streams"] = streams_.size();
  j["consumers"] = consumers;
  j["limits"] = {{"max_memory", -1},        {"max_storage", -1},
                 {"max_streams", -1},       {"max_consumers", -1},
                 {"max_ack_pending", -1},   {"memory_max_stream_bytes", -1},
                 {"storage_max_stream_bytes", -1}, {"max_bytes_required", false}};
  j["api"] = {{"total", api_total_}, {"errors", api_errors_}};
  return DumpJson(j);
}

std::string JetStream::StreamCreate(std::string_view type, const std::string& name, std::string_view body,
                                    bool update) {
  Json j;
  if (body.empty() || !ParseBody(body, &j)) return ErrorJson(type, JsInvalidJson());
  JsStreamConfig cfg;
  if (JsError e = ParseStreamConfig(j, name, defaults_, &cfg); !e.ok()) return ErrorJson(type, e);
  Stream* existing = FindStream(name);
  if (!update && existing != nullptr) {
    if (existing->config.base == cfg.base) return StreamInfo(type, existing);
    return ErrorJson(type, JsStreamNameInUse());
  }
  if (update && existing == nullptr) return ErrorJson(type, JsStreamNotFound());
  if (JsError e = CheckOverlap(cfg.base.subjects, name); !e.ok()) return ErrorJson(type, e);
  if (update) {
    if (existing->config.storage != cfg.storage) {
      return ErrorJson(type, JsStreamInvalidConfig("stream configuration update can not change storage type"));
    }
    if (existing->config.retention != cfg.retention) {
      return ErrorJson(type, JsStreamInvalidConfig("stream configuration update can not change retention policy"));
    }
    // What a request leaves out keeps its value rather than the default.
    if (!j.contains("segment_size")) cfg.base.segment_size = existing->config.base.segment_size;
    if (!j.contains("compression")) cfg.base.compression = existing->config.base.compression;
    if (!j.contains("sync")) cfg.base.sync = existing->config.base.sync;
    if (!j.contains("sync_interval")) cfg.base.sync_interval = existing->config.base.sync_interval;
    StoreStreamMetadata(&cfg);
    absl::StatusOr<index::StoredStream*> st = store_->UpdateStream(cfg.base);
    if (!st.ok()) return ErrorJson(type, JsStreamUpdate(std::string(st.status().message())));
    UnindexCapture(existing);
    existing->config = cfg;
    existing->per_subject_loaded = false;
    IndexCapture(existing);
    return StreamInfo(type, existing);
  }
  absl::StatusOr<index::StoredStream*> st = store_->CreateStream(cfg.base);
  if (!st.ok()) {
    if (absl::IsAlreadyExists(st.status())) return ErrorJson(type, JsStreamNameInUse());
    if (absl::IsInvalidArgument(st.status())) return ErrorJson(type, JsStreamInvalidConfig(std::string(st.status().message())));
    return ErrorJson(type, JsInternal(std::string(st.status().message())));
  }
  if (absl::Status s = Adopt(*st); !s.ok()) return ErrorJson(type, JsInternal(std::string(s.message())));
  return StreamInfo(type, FindStream(name));
}

bool JetStream::Summarize(const std::string& name, StreamSummary* out) {
  PublishStaged();
  Stream* s = FindStream(name);
  if (s == nullptr) return false;
  engine::Log& log = s->stored->log();
  out->name = name;
  out->subjects = s->config.base.subjects;
  out->messages = s->stored->num_messages();
  out->bytes = log.stats().bytes;
  out->last_seq = log.last_seq();
  out->first_seq = out->last_seq == 0 ? 0 : log.first_seq();  // 0 for a stream never written
  out->first_ts = out->last_ts = 0;
  out->consumers = s->consumers.size();
  if (out->messages == 0 && out->last_seq > 0) out->first_seq = out->last_seq + 1;  // all gone
  engine::Reader* r = s->reader.get();
  engine::Record rec;
  if (out->messages > 0) {
    // The first message that is not deleted, and the last one's time.
    if (s->stored->Seek(r, out->first_seq).ok()) {
      while (r->Next(&rec).ok()) {
        if (s->stored->IsDeleted(rec.sequence)) continue;
        out->first_seq = rec.sequence;
        out->first_ts = rec.timestamp_ns;
        break;
      }
    }
  }
  if (out->last_seq > 0 && s->stored->Seek(r, out->last_seq).ok() && r->Next(&rec).ok()) {
    out->last_ts = rec.timestamp_ns;
  }
  return true;
}

std::string JetStream::StreamInfo(std::string_view type, Stream* s) {
  StreamSummary sum;
  Summarize(s->config.base.name, &sum);
  OrderedJson j;
  j["type"] = std::string(type);
  j["config"] = StreamConfigJson(s->config);
  j["created"] = FormatJsTime(s->stored->entry().created_ns);
  OrderedJson st;
  st["messages"] = sum.messages;
  st["bytes"] = sum.bytes;
  st["first_seq"] = sum.first_seq;
  st["first_ts"] = sum.first_ts != 0 ? FormatJsTime(sum.first_ts) : kZeroTime;
  st["last_seq"] = sum.last_seq;
  st["last_ts"] = sum.last_ts != 0 ? FormatJsTime(sum.last_ts) : kZeroTime;
  // Deletions at the head moved first_seq; only gaps after it count.
  const uint64_t deleted =
      sum.messages > 0 && sum.last_seq >= sum.first_seq ? s->stored->DeletedIn(sum.first_seq, sum.last_seq) : 0;
  if (deleted > 0) st["num_deleted"] = deleted;
  st["consumer_count"] = sum.consumers;
  j["state"] = st;
  return DumpJson(j);
}

std::string JetStream::CreateStreamJson(const std::string& name, std::string_view body) {
  return StreamCreate(Type("stream_create_response"), name, body, false);
}

std::string JetStream::StreamInfoJson(const std::string& name) {
  PublishStaged();
  Stream* s = FindStream(name);
  if (s == nullptr) return ErrorJson(Type("stream_info_response"), JsStreamNotFound());
  return StreamInfo(Type("stream_info_response"), s);
}

std::string JetStream::ConsumerInfoJson(const std::string& stream, const std::string& consumer) {
  PublishStaged();
  const std::string type = Type("consumer_info_response");
  Stream* s = FindStream(stream);
  if (s == nullptr) return ErrorJson(type, JsStreamNotFound());
  Consumer* c = FindConsumer(s, consumer);
  if (c == nullptr) return ErrorJson(type, JsConsumerNotFound());
  return ConsumerInfo(type, c);
}

absl::StatusOr<uint64_t> JetStream::ReadStored(const std::string& stream, const ReadStart& start,
                                               const std::string& filter, uint64_t limit,
                                               const std::function<bool(const engine::Record&)>& fn) {
  PublishStaged();
  Stream* s = FindStream(stream);
  if (s == nullptr) return absl::NotFoundError(absl::StrCat("stream not found: ", stream));
  engine::Log& log = s->stored->log();
  const uint64_t first = log.first_seq(), last = log.last_seq();
  if (last < first) return last + 1;
  engine::Reader* r = s->reader.get();
  engine::Record rec;
  auto wanted = [&](const engine::Record& m) {
    return !s->stored->IsDeleted(m.sequence) && (filter.empty() || SubjectMatches(filter, m.subject));
  };
  uint64_t from = std::max(start.seq, first);
  if (start.seq == 0 && start.since_ns > 0) {
    if (absl::Status st = s->stored->SeekTime(r, start.since_ns); !st.ok()) return st;
    absl::Status st = r->Next(&rec);
    if (!st.ok()) return last + 1;  // nothing that recent
    from = rec.sequence;
  } else if (start.seq == 0 && start.last_n > 0) {
    // The last N matching: one pass keeping the newest N sequences.
    std::deque<uint64_t> newest;
    if (absl::Status st = s->stored->Seek(r, first); !st.ok()) return st;
    while (r->Next(&rec).ok()) {
      if (!wanted(rec)) continue;
      newest.push_back(rec.sequence);
      if (newest.size() > start.last_n) newest.pop_front();
    }
    if (newest.empty()) return last + 1;
    from = newest.front();
  }
  if (from > last) return from;
  if (absl::Status st = s->stored->Seek(r, from); !st.ok()) return st;
  uint64_t sent = 0, next = from;
  while (limit == 0 || sent < limit) {
    absl::Status st = r->Next(&rec);
    if (!st.ok()) break;
    next = rec.sequence + 1;
    if (!wanted(rec)) continue;
    ++sent;
    if (!fn(rec)) break;
  }
  return next;
}

std::vector<std::string> JetStream::StreamNames() const {
  std::vector<std::string> names;
  for (const auto& [name, s] : streams_) names.push_back(name);
  return names;
}

std::string JetStream::StreamDelete(std::string_view type, const std::string& name) {
  Stream* s = FindStream(name);
  if (s == nullptr) return ErrorJson(type, JsStreamNotFound());
  for (auto& [cname, c] : s->consumers) {
    if (c->timer != 0) host_->CancelTimer(c->timer);
    std::erase(dirty_, c.get());
  }
  UnindexCapture(s);
  s->stored->SetLogDurableCallback(nullptr);
  streams_by_id_.erase(s->id);
  s->reader.reset();
  std::unique_ptr<Stream> doomed = std::move(streams_[name]);
  streams_.erase(name);
  absl::Status st = store_->DeleteStream(name);
  if (!st.ok()) return ErrorJson(type, JsInternal(std::string(st.message())));
  OrderedJson j;
  j["type"] = std::string(type);
  j["success"] = true;
  return DumpJson(j);
}

std::string JetStream::StreamPurge(std::string_view type, Stream* s, std::string_view body) {
  Json j;
  OrderedJson out;
  out["type"] = std::string(type);
  auto fail = [&](const JsError& e) {
    ++api_errors_;
    out["error"] = {{"code", e.code}, {"err_code", e.err_code}, {"description", e.description}};
    out["purged"] = 0;
    return DumpJson(out);
  };
  if (!ParseBody(body, &j)) return fail(JsInvalidJson());
  if (s->config.deny_purge) return fail(JsPurgeDenied());
  std::string filter;
  uint64_t seq = 0, keep = 0;
  try {
    if (j.contains("filter")) filter = j["filter"].get<std::string>();
    if (j.contains("seq")) seq = GetInt<uint64_t>(j["seq"]);
    if (j.contains("keep")) keep = GetInt<uint64_t>(j["keep"]);
  } catch (const Json::exception&) {
    return fail(JsInvalidJson());
  }
  if (seq != 0 && keep != 0) return fail(JsBadRequest());
  engine::Log& log = s->stored->log();
  uint64_t purged = 0;
  if (filter.empty() || filter == ">") {
    uint64_t below = log.last_seq() + 1;
    if (seq != 0) below = seq;
    if (keep != 0) {
      // Keep the newest `keep` messages that are not deleted.
      uint64_t kept = 0, at = log.last_seq();
      while (at >= log.first_seq() && at > 0 && kept < keep) {
        if (!s->stored->IsDeleted(at)) ++kept;
        if (kept == keep) break;
        --at;
      }
      below = kept < keep ? log.first_seq() : at;
    }
    absl::StatusOr<uint64_t> n = s->stored->PurgeBefore(below);
    if (!n.ok()) return fail(JsInternal(std::string(n.status().message())));
    purged = *n;
  } else {
    if (!IsValidSubscribeSubject(filter)) return fail(JsBadRequest("invalid purge filter subject"));
    std::vector<uint64_t> matching;
    engine::Reader* r = s->reader.get();
    if (log.last_seq() >= log.first_seq() && s->stored->Seek(r, log.first_seq()).ok()) {
      engine::Record rec;
      while (r->Next(&rec).ok()) {
        if (seq != 0 && rec.sequence >= seq) break;
        if (!s->stored->IsDeleted(rec.sequence) && SubjectMatches(filter, rec.subject)) matching.push_back(rec.sequence);
      }
    }
    if (keep != 0) matching.resize(matching.size() > keep ? matching.size() - keep : 0);
    absl::StatusOr<size_t> n = s->stored->DeleteMessages(matching, true);
    if (!n.ok()) return fail(JsInternal(std::string(n.status().message())));
    purged = *n;
  }
  s->per_subject_loaded = false;
  ForgetPendingCounts(s);
  out["success"] = true;
  out["purged"] = purged;
  return DumpJson(out);
}

std::string JetStream::StreamNamesOrList(std::string_view type, std::string_view body, bool list) {
  Json j;
  if (!ParseBody(body, &j)) return ErrorJson(type, JsInvalidJson());
  int64_t offset = 0;
  std::string subject;
  try {
    if (j.contains("offset")) offset = std::max<int64_t>(0, GetInt<int64_t>(j["offset"]));
    if (j.contains("subject")) subject = j["subject"].get<std::string>();
  } catch (const Json::exception&) {
    return ErrorJson(type, JsInvalidJson());
  }
  std::vector<Stream*> match;
  for (const auto& [name, s] : streams_) {
    bool ok = subject.empty();
    for (const std::string& f : s->config.base.subjects) ok = ok || SubjectsIntersect(f, subject);
    if (ok) match.push_back(s.get());
  }
  const int64_t total = static_cast<int64_t>(match.size());
  const int64_t limit = list ? kListPage : kNamesPage;
  OrderedJson out = PageHeader(type, total, limit, &offset);
  OrderedJson items = OrderedJson::array();
  for (int64_t i = offset; i < total && i < offset + limit; ++i) {
    if (list) {
      OrderedJson info = OrderedJson::parse(StreamInfo("", match[static_cast<size_t>(i)]));
      info.erase("type");
      items.push_back(std::move(info));
    } else {
      items.push_back(match[static_cast<size_t>(i)]->config.base.name);
    }
  }
  out["streams"] = items.empty() && !list ? OrderedJson(nullptr) : items;
  return DumpJson(out);
}

std::string JetStream::MsgGet(std::string_view type, Stream* s, std::string_view body) {
  Json j;
  if (body.empty() || !ParseBody(body, &j)) return ErrorJson(type, body.empty() ? JsBadRequest() : JsInvalidJson());
  uint64_t seq = 0;
  std::string last_by, next_by;
  try {
    if (j.contains("seq")) seq = GetInt<uint64_t>(j["seq"]);
    if (j.contains("last_by_subj")) last_by = j["last_by_subj"].get<std::string>();
    if (j.contains("next_by_subj")) next_by = j["next_by_subj"].get<std::string>();
  } catch (const Json::exception&) {
    return ErrorJson(type, JsInvalidJson());
  }
  if (seq == 0 && last_by.empty()) return ErrorJson(type, JsBadRequest());
  engine::Reader* r = s->reader.get();
  engine::Record rec;
  engine::Log& log = s->stored->log();
  bool found = false;
  if (!last_by.empty()) {
    if (IsValidPublishSubject(last_by)) {
      const uint64_t at = s->stored->LastSequenceOf(last_by);
      found = at != 0 && s->stored->GetMessage(at, r, &rec).ok();
      if (found && rec.subject != last_by) found = false;
    } else if (log.last_seq() >= log.first_seq() && s->stored->Seek(r, log.first_seq()).ok()) {
      // A wildcard: the newest match, by one pass over the stream.
      uint64_t best = 0;
      while (r->Next(&rec).ok()) {
        if (!s->stored->IsDeleted(rec.sequence) && SubjectMatches(last_by, rec.subject)) best = rec.sequence;
      }
      found = best != 0 && s->stored->GetMessage(best, r, &rec).ok();
    }
  } else if (!next_by.empty()) {
    if (s->stored->Seek(r, std::max(seq, log.first_seq())).ok()) {
      while (r->Next(&rec).ok()) {
        if (!s->stored->IsDeleted(rec.sequence) && SubjectMatches(next_by, rec.subject)) {
          found = true;
          break;
        }
      }
    }
  } else {
    found = s->stored->GetMessage(seq, r, &rec).ok();
  }
  if (!found) return ErrorJson(type, JsNoMessageFound());
  OrderedJson msg;
  msg["subject"] = std::string(rec.subject);
  msg["seq"] = rec.sequence;
  if (!rec.headers.empty()) msg["hdrs"] = absl::Base64Escape(Av(rec.headers));
  msg["data"] = absl::Base64Escape(Av(rec.payload));
  msg["time"] = FormatJsTime(rec.timestamp_ns);
  OrderedJson out;
  out["type"] = std::string(type);
  out["message"] = std::move(msg);
  return DumpJson(out);
}

std::string JetStream::MsgDelete(std::string_view type, Stream* s, std::string_view body) {
  Json j;
  if (body.empty() || !ParseBody(body, &j)) return ErrorJson(type, body.empty() ? JsBadRequest() : JsInvalidJson());
  uint64_t seq = 0;
  try {
    if (j.contains("seq")) seq = GetInt<uint64_t>(j["seq"]);
  } catch (const Json::exception&) {
    return ErrorJson(type, JsInvalidJson());
  }
  if (seq == 0) return ErrorJson(type, JsBadRequest());
  if (s->config.deny_delete) return ErrorJson(type, JsDeleteDenied());
  engine::Log& log = s->stored->log();
  if (seq > log.last_seq()) return ErrorJson(type, JsStoreEof());
  if (seq < log.first_seq() || s->stored->IsDeleted(seq)) return ErrorJson(type, JsSequenceNotFound(seq));
  if (absl::Status st = s->stored->DeleteMessage(seq); !st.ok()) {
    return ErrorJson(type, JsInternal(std::string(st.message())));
  }
  if (s->per_subject_loaded) {
    for (auto& [subject, q] : s->per_subject) std::erase(q, seq);
  }
  ForgetPendingCounts(s);
  OrderedJson out;
  out["type"] = std::string(type);
  out["success"] = true;
  return DumpJson(out);
}

std::string JetStream::ConsumerCreate(std::string_view type, Stream* s, const std::string& name,
                                      const std::string& subject_filter, std::string_view body) {
  Json j = Json::parse(body, nullptr, false);
  if (j.contains("stream_name") && j["stream_name"].is_string() &&
      j["stream_name"].get<std::string>() != s->config.base.name) {
    return ErrorJson(type, JsStreamNameMismatch());
  }
  if (!j.contains("config")) return ErrorJson(type, JsBadRequest("consumer config is required"));
  JsConsumerConfig cfg;
  if (JsError e = ParseConsumerConfig(j["config"], name, &cfg); !e.ok()) return ErrorJson(type, e);
  index::ConsumerConfig& b = cfg.base;
  if (!subject_filter.empty()) {
    if (b.filter_subjects.empty() || (b.filter_subjects.size() == 1 && b.filter_subjects[0] != subject_filter)) {
      return ErrorJson(type, JsConsumerFilterMismatch());
    }
  }
  if (!name.empty() && b.name.empty()) b.name = name;
  for (const std::string& f : b.filter_subjects) {
    bool inside = false;
    for (const std::string& sub : s->config.base.subjects) inside = inside || SubjectIsSubsetOf(f, sub) || SubjectsIntersect(f, sub);
    if (!inside) return ErrorJson(type, JsConsumerFilterNotSubset());
  }
  if (s->config.retention == RetentionPolicy::kWorkQueue) {
    if (b.ack_policy == index::AckPolicy::kNone && b.deliver_subject.empty()) return ErrorJson(type, JsConsumerPullNeedsAck());
    if (b.ack_policy != index::AckPolicy::kExplicit) return ErrorJson(type, JsWorkQueueNeedsExplicitAck());
    for (const auto& [other_name, other] : s->consumers) {
      if (other_name == b.name) continue;
      const std::vector<std::string>& of = other->config.base.filter_subjects;
      if (of.empty() || b.filter_subjects.empty()) return ErrorJson(type, JsWorkQueueUnfiltered());
      for (const std::string& x : of) {
        for (const std::string& y : b.filter_subjects) {
          if (SubjectsIntersect(x, y)) return ErrorJson(type, JsWorkQueueOverlap());
        }
      }
    }
  }
  const int64_t now = host_->NowNs();
  if (b.name.empty()) {
    do {
      b.name = RandomName();
    } while (s->consumers.count(b.name) != 0);
  }
  if (Consumer* existing = FindConsumer(s, b.name)) {
    cfg.created_ns = existing->config.created_ns;
    cfg.durable = existing->config.durable || cfg.durable;
    StoreConsumerMetadata(&cfg);
    if (existing->config.base == b) return ConsumerInfo(type, existing);
    if (absl::Status st = index::ValidateConsumerUpdate(existing->config.base, b); !st.ok()) {
      return ErrorJson(type, JsConsumerCreate(std::string(st.message())));
    }
    absl::StatusOr<index::Consumer*> up = s->stored->UpdateConsumer(b);
    if (!up.ok()) return ErrorJson(type, JsConsumerCreate(std::string(up.status().message())));
    existing->config = cfg;
    existing->consumer = *up;
    ArmTimer(existing);
    Deliver(existing);
    return ConsumerInfo(type, existing);
  }
  if (s->config.max_consumers > 0 && static_cast<int64_t>(s->consumers.size()) >= s->config.max_consumers) {
    return ErrorJson(type, {400, 10026, "maximum consumers limit reached"});
  }
  cfg.created_ns = now;
  StoreConsumerMetadata(&cfg);
  absl::StatusOr<index::Consumer*> ic = s->stored->CreateConsumer(b, now);
  if (!ic.ok()) {
    if (absl::IsInvalidArgument(ic.status())) return ErrorJson(type, JsBadRequest(std::string(ic.status().message())));
    return ErrorJson(type, JsConsumerCreate(std::string(ic.status().message())));
  }
  AdoptConsumer(s, *ic);
  Consumer* c = FindConsumer(s, b.name);
  // The response first, then what a push consumer can deliver at once.
  std::string info = ConsumerInfo(type, c);
  host_->Post([this, sid = s->id, cname = b.name] {
    auto it = streams_by_id_.find(sid);
    if (it == streams_by_id_.end()) return;
    if (Consumer* c = FindConsumer(it->second, cname)) Deliver(c);
  });
  return info;
}

std::string JetStream::ConsumerInfo(std::string_view type, Consumer* c) {
  absl::StatusOr<index::ConsumerInfo> info = c->consumer->Info();
  if (!info.ok()) return ErrorJson(type, JsInternal(std::string(info.status().message())));
  OrderedJson j;
  j["type"] = std::string(type);
  j["stream_name"] = c->stream->config.base.name;
  j["name"] = c->config.base.name;
  j["created"] = FormatJsTime(c->config.created_ns);
  j["config"] = ConsumerConfigJson(c->config);
  j["delivered"] = {{"consumer_seq", info->delivered_consumer_seq}, {"stream_seq", info->delivered_stream_seq}};
  j["ack_floor"] = {{"consumer_seq", info->ack_floor_consumer_seq}, {"stream_seq", info->ack_floor_stream_seq}};
  j["num_ack_pending"] = info->num_ack_pending;
  j["num_redelivered"] = info->num_redelivered;
  j["num_waiting"] = c->waiting.size();
  j["num_pending"] = info->num_pending;
  if (c->push() && core_->HasInterest(c->config.base.deliver_subject)) j["push_bound"] = true;
  return DumpJson(j);
}

std::string JetStream::ConsumerDelete(std::string_view type, Stream* s, const std::string& name) {
  if (FindConsumer(s, name) == nullptr) return ErrorJson(type, JsConsumerNotFound());
  DropConsumer(s, name);
  OrderedJson j;
  j["type"] = std::string(type);
  j["success"] = true;
  return DumpJson(j);
}

void JetStream::DropConsumer(Stream* s, const std::string& name) {
  Consumer* c = FindConsumer(s, name);
  if (c == nullptr) return;
  if (c->timer != 0) host_->CancelTimer(c->timer);
  std::erase(dirty_, c);
  (void)s->stored->DeleteConsumer(name);
  s->consumers.erase(name);
  RemoveFinished(s, s->stored->log().last_seq());  // interest streams: what only it still needed
}

std::string JetStream::ConsumerNamesOrList(std::string_view type, Stream* s, std::string_view body, bool list) {
  Json j;
  if (!ParseBody(body, &j)) return ErrorJson(type, JsInvalidJson());
  int64_t offset = 0;
  try {
    if (j.contains("offset")) offset = std::max<int64_t>(0, GetInt<int64_t>(j["offset"]));
  } catch (const Json::exception&) {
    return ErrorJson(type, JsInvalidJson());
  }
  const int64_t total = static_cast<int64_t>(s->consumers.size());
  const int64_t limit = list ? kListPage : kNamesPage;
  OrderedJson out = PageHeader(type, total, limit, &offset);
  OrderedJson items = OrderedJson::array();
  int64_t i = 0;
  for (const auto& [name, c] : s->consumers) {
    if (i >= offset && i < offset + limit) {
      if (list) {
        OrderedJson info = OrderedJson::parse(ConsumerInfo("", c.get()));
        info.erase("type");
        items.push_back(std::move(info));
      } else {
        items.push_back(name);
      }
    }
    ++i;
  }
  out["consumers"] = items;
  return DumpJson(out);
}

}  // namespace shortbus::server
