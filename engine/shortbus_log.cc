// The C interface (shortbus_log.h) over Log and Reader.
#include "engine/shortbus_log.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/log.h"
#include "engine/reader.h"

using shortbus::engine::Log;
using shortbus::engine::Reader;

struct sb_log {
  std::unique_ptr<Log> log;
  std::string error;
  std::vector<shortbus::engine::Message> batch;
};

struct sb_reader {
  std::unique_ptr<Reader> reader;
  std::string error;
};

namespace {

int CodeOf(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk: return SB_OK;
    case absl::StatusCode::kOutOfRange: return SB_END;
    case absl::StatusCode::kInvalidArgument: return SB_EINVAL;
    case absl::StatusCode::kNotFound: return SB_ENOTFOUND;
    case absl::StatusCode::kUnavailable: return SB_EBUSY;
    case absl::StatusCode::kResourceExhausted: return SB_EFULL;
    case absl::StatusCode::kDataLoss: return SB_ECORRUPT;
    case absl::StatusCode::kPermissionDenied: return SB_EPERM;
    case absl::StatusCode::kFailedPrecondition: return SB_EFAILED;
    case absl::StatusCode::kDeadlineExceeded: return SB_ETIMEDOUT;
    default: return SB_EIO;
  }
}

int Fail(std::string* error, const absl::Status& s) {
  *error = std::string(s.message());
  return CodeOf(s);
}

void CopyError(const absl::Status& s, char* buf, size_t len) {
  if (buf == nullptr || len == 0) return;
  std::string m(s.message());
  size_t n = std::min(m.size(), len - 1);
  std::memcpy(buf, m.data(), n);
  buf[n] = '\0';
}

shortbus::engine::Message ToMessage(const sb_message& m) {
  return {std::string_view(m.subject != nullptr ? m.subject : "", m.subject_len),
          std::string_view(m.headers != nullptr ? m.headers : "", m.headers_len),
          std::string_view(static_cast<const char*>(m.payload != nullptr ? m.payload : ""), m.payload_len),
          m.timestamp_ns};
}

absl::Duration Timeout(int64_t ms) {
  return ms < 0 ? absl::InfiniteDuration() : absl::Milliseconds(ms);
}

}  // namespace

extern "C" {

void sb_options_init(sb_options* o) {
  std::memset(o, 0, sizeof *o);
  o->segment_size = shortbus::engine::kDefaultSegmentSize;
  o->sync_mode = SB_SYNC_INTERVAL;
  o->sync_interval_ms = 1000;
  o->create_if_missing = 1;
}

int sb_log_open(const char* dir, const sb_options* opts, sb_log** out, char* errbuf, size_t errbuf_len) {
  *out = nullptr;
  sb_options defaults;
  sb_options_init(&defaults);
  if (opts == nullptr) opts = &defaults;
  shortbus::engine::LogOptions o;
  o.segment_size = opts->segment_size;
  switch (opts->sync_mode) {
    case SB_SYNC_ALWAYS: o.sync = shortbus::engine::SyncMode::kAlways; break;
    case SB_SYNC_INTERVAL: o.sync = shortbus::engine::SyncMode::kInterval; break;
    case SB_SYNC_NEVER: o.sync = shortbus::engine::SyncMode::kNever; break;
    default: {
      absl::Status s = absl::InvalidArgumentError("sync_mode must be SB_SYNC_ALWAYS, _INTERVAL or _NEVER");
      CopyError(s, errbuf, errbuf_len);
      return SB_EINVAL;
    }
  }
  o.sync_interval = absl::Milliseconds(static_cast<int64_t>(opts->sync_interval_ms));
  o.retention.max_msgs = opts->max_msgs;
  o.retention.max_bytes = opts->max_bytes;
  o.retention.max_age = absl::Milliseconds(static_cast<int64_t>(opts->max_age_ms));
  o.retention.max_msg_size = opts->max_msg_size;
  o.retention.discard = opts->discard_new ? shortbus::engine::DiscardPolicy::kNew
                                          : shortbus::engine::DiscardPolicy::kOld;
  o.compression = opts->compress_lz4 ? shortbus::engine::Compression::kLz4
                                     : shortbus::engine::Compression::kNone;
  o.create_if_missing = opts->create_if_missing != 0;
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir, o);
  if (!log.ok()) {
    CopyError(log.status(), errbuf, errbuf_len);
    return CodeOf(log.status());
  }
  *out = new sb_log{std::move(*log), {}, {}};
  return SB_OK;
}

int sb_log_append(sb_log* log, const sb_message* msg, uint64_t* seq) {
  absl::StatusOr<uint64_t> s = log->log->Append(ToMessage(*msg));
  if (!s.ok()) return Fail(&log->error, s.status());
  if (seq != nullptr) *seq = *s;
  return SB_OK;
}

int sb_log_append_batch(sb_log* log, const sb_message* msgs, size_t n, uint64_t* first_seq) {
  log->batch.clear();  // capacity is kept: no allocation once warmed up
  for (size_t i = 0; i < n; ++i) log->batch.push_back(ToMessage(msgs[i]));
  absl::StatusOr<uint64_t> s = log->log->AppendBatch(log->batch);
  if (!s.ok()) return Fail(&log->error, s.status());
  if (first_seq != nullptr) *first_seq = *s;
  return SB_OK;
}

uint64_t sb_log_durable_seq(const sb_log* log) { return log->log->durable_seq(); }
uint64_t sb_log_first_seq(const sb_log* log) { return log->log->first_seq(); }
uint64_t sb_log_last_seq(const sb_log* log) { return log->log->last_seq(); }

int sb_log_wait_durable(sb_log* log, uint64_t seq, int64_t timeout_ms) {
  absl::Status s = log->log->WaitDurable(seq, Timeout(timeout_ms));
  return s.ok() ? SB_OK : Fail(&log->error, s);
}

int sb_log_sync(sb_log* log) {
  absl::Status s = log->log->Sync();
  return s.ok() ? SB_OK : Fail(&log->error, s);
}

int sb_log_close(sb_log* log) {
  if (log == nullptr) return SB_OK;
  int rc = CodeOf(log->log->Close());
  delete log;
  return rc;
}

const char* sb_log_errmsg(const sb_log* log) { return log->error.c_str(); }

int sb_reader_open(const char* dir, sb_reader** out, char* errbuf, size_t errbuf_len) {
  *out = nullptr;
  absl::StatusOr<std::unique_ptr<Reader>> r = Reader::Open(dir);
  if (!r.ok()) {
    CopyError(r.status(), errbuf, errbuf_len);
    return CodeOf(r.status());
  }
  *out = new sb_reader{std::move(*r), {}};
  return SB_OK;
}

int sb_reader_seek_seq(sb_reader* r, uint64_t seq) {
  absl::Status s = r->reader->SeekToSequence(seq);
  return s.ok() ? SB_OK : Fail(&r->error, s);
}

int sb_reader_seek_time(sb_reader* r, int64_t timestamp_ns) {
  absl::Status s = r->reader->SeekToTime(timestamp_ns);
  return s.ok() ? SB_OK : Fail(&r->error, s);
}

int sb_reader_seek_last(sb_reader* r) {
  absl::Status s = r->reader->SeekToLast();
  return s.ok() ? SB_OK : Fail(&r->error, s);
}

int sb_reader_next(sb_reader* r, sb_record* rec) {
  shortbus::engine::Record out;
  absl::Status s = r->reader->Next(&out);
  if (!s.ok()) return Fail(&r->error, s);
  rec->sequence = out.sequence;
  rec->timestamp_ns = out.timestamp_ns;
  rec->subject = out.subject.data();
  rec->subject_len = out.subject.size();
  rec->headers = out.headers.data();
  rec->headers_len = out.headers.size();
  rec->payload = out.payload.data();
  rec->payload_len = out.payload.size();
  return SB_OK;
}

int sb_reader_wait(sb_reader* r, int64_t timeout_ms) {
  absl::Status s = r->reader->WaitForData(Timeout(timeout_ms));
  return s.ok() ? SB_OK : Fail(&r->error, s);
}

void sb_reader_close(sb_reader* r) { delete r; }

const char* sb_reader_errmsg(const sb_reader* r) { return r->error.c_str(); }

}  // extern "C"
