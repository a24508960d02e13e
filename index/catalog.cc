#include "index/catalog.h"

#include "absl/strings/str_cat.h"
#include "engine/coding.h"
#include "index/keys.h"
#include "index/value_codec.h"

namespace shortbus::index {
namespace {

using engine::DecodeFixed32;
using engine::EncodeFixed32;

// 1: without metadata; 2: metadata after the subjects. Both are read.
constexpr uint8_t kCatalogVersion = 2;
constexpr char kNextStreamNoKey[] = "next_stream_no";

}  // namespace

bool StreamConfig::operator==(const StreamConfig& o) const {
  const engine::RetentionLimits& a = retention;
  const engine::RetentionLimits& b = o.retention;
  return name == o.name && subjects == o.subjects && segment_size == o.segment_size && sync == o.sync &&
         sync_interval == o.sync_interval && a.max_msgs == b.max_msgs && a.max_bytes == b.max_bytes &&
         a.max_age == b.max_age && a.max_msg_size == b.max_msg_size && a.discard == b.discard &&
         compression == o.compression && duplicate_window == o.duplicate_window && metadata == o.metadata;
}

absl::Status ValidateStreamName(const std::string& name) {
  if (name.empty() || name.size() > 64) {
    return absl::InvalidArgumentError(absl::StrCat("stream name must be 1 to 64 characters: '", name, "'"));
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_';
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("stream name '", name, "' may hold only letters, digits, '-' and '_'"));
    }
  }
  return absl::OkStatus();
}

std::string EncodeCatalogEntry(const CatalogEntry& e) {
  const StreamConfig& c = e.config;
  std::string s;
  Put8(&s, kCatalogVersion);
  Put32(&s, e.stream_no);
  Put64(&s, static_cast<uint64_t>(e.created_ns));
  Put64(&s, c.segment_size);
  Put8(&s, static_cast<uint8_t>(c.sync));
  Put64(&s, static_cast<uint64_t>(absl::ToInt64Nanoseconds(c.sync_interval)));
  Put64(&s, c.retention.max_msgs);
  Put64(&s, c.retention.max_bytes);
  Put64(&s, static_cast<uint64_t>(absl::ToInt64Nanoseconds(c.retention.max_age)));
  Put32(&s, c.retention.max_msg_size);
  Put8(&s, static_cast<uint8_t>(c.retention.discard));
  Put8(&s, static_cast<uint8_t>(c.compression));
  Put64(&s, static_cast<uint64_t>(absl::ToInt64Nanoseconds(c.duplicate_window)));
  Put32(&s, static_cast<uint32_t>(c.subjects.size()));
  for (const std::string& subject : c.subjects) PutBytes(&s, subject);
  PutBytes(&s, c.metadata);
  return s;
}

absl::StatusOr<CatalogEntry> DecodeCatalogEntry(std::string_view name, std::string_view bytes) {
  ValueReader r(bytes);
  CatalogEntry e;
  StreamConfig& c = e.config;
  c.name = std::string(name);
  const uint8_t version = r.U8();
  if (version != 1 && version != kCatalogVersion) {
    return absl::DataLossError(absl::StrCat("catalogue entry of stream ", c.name, ": unknown version"));
  }
  e.stream_no = r.U32();
  e.created_ns = static_cast<int64_t>(r.U64());
  c.segment_size = r.U64();
  const uint8_t sync = r.U8();
  c.sync_interval = absl::Nanoseconds(static_cast<int64_t>(r.U64()));
  c.retention.max_msgs = r.U64();
  c.retention.max_bytes = r.U64();
  c.retention.max_age = absl::Nanoseconds(static_cast<int64_t>(r.U64()));
  c.retention.max_msg_size = r.U32();
  const uint8_t discard = r.U8();
  const uint8_t compression = r.U8();
  c.duplicate_window = absl::Nanoseconds(static_cast<int64_t>(r.U64()));
  const uint32_t n = r.U32();
  for (uint32_t i = 0; i < n && r.ok(); ++i) c.subjects.push_back(r.LengthPrefixed());
  if (version >= 2) c.metadata = r.LengthPrefixed();
  if (!r.ok() || !r.done() || sync > 2 || discard > 1 || compression > 1) {
    return absl::DataLossError(absl::StrCat("catalogue entry of stream ", c.name, " is malformed"));
  }
  c.sync = static_cast<engine::SyncMode>(sync);
  c.retention.discard = static_cast<engine::DiscardPolicy>(discard);
  c.compression = static_cast<engine::Compression>(compression);
  return e;
}

absl::StatusOr<CatalogEntry> CatalogAdd(LmdbEnv* env, MDB_txn* txn, const StreamConfig& config, int64_t now_ns) {
  if (absl::Status s = ValidateStreamName(config.name); !s.ok()) return s;
  MDB_val k = ValOf(config.name), v;
  int rc = mdb_get(txn, env->db(kStreamsDb), &k, &v);
  if (rc == 0) return absl::AlreadyExistsError(absl::StrCat("stream ", config.name, " already exists"));
  if (rc != MDB_NOTFOUND) return LmdbStatus(rc, "read catalogue");
  MDB_val nk = ValOf(kNextStreamNoKey);
  uint32_t next = 1;
  rc = mdb_get(txn, env->db("meta"), &nk, &v);
  if (rc == 0 && v.mv_size == 4) next = DecodeFixed32(static_cast<const char*>(v.mv_data));
  else if (rc != MDB_NOTFOUND && rc != 0) return LmdbStatus(rc, "read next stream number");
  CatalogEntry e{next, now_ns, config};
  char b[4];
  EncodeFixed32(b, next + 1);
  MDB_val nv{4, b};
  if (int r2 = mdb_put(txn, env->db("meta"), &nk, &nv, 0); r2 != 0) return LmdbStatus(r2, "write next stream number");
  if (absl::Status s = CatalogPut(env, txn, e); !s.ok()) return s;
  return e;
}

absl::Status CatalogPut(LmdbEnv* env, MDB_txn* txn, const CatalogEntry& e) {
  const std::string value = EncodeCatalogEntry(e);
  MDB_val k = ValOf(e.config.name), v = ValOf(value);
  return LmdbStatus(mdb_put(txn, env->db(kStreamsDb), &k, &v, 0), "write catalogue");
}

absl::Status CatalogRemove(LmdbEnv* env, MDB_txn* txn, const std::string& name) {
  MDB_val k = ValOf(name);
  int rc = mdb_del(txn, env->db(kStreamsDb), &k, nullptr);
  if (rc == MDB_NOTFOUND) return absl::NotFoundError(absl::StrCat("no stream ", name));
  return LmdbStatus(rc, "remove from catalogue");
}

absl::StatusOr<std::vector<CatalogEntry>> CatalogList(const LmdbEnv& env) {
  std::vector<CatalogEntry> out;
  absl::Status status = env.Read([&](MDB_txn* txn) -> absl::Status {
    MDB_cursor* cur;
    if (int rc = mdb_cursor_open(txn, env.db(kStreamsDb), &cur); rc != 0) return LmdbStatus(rc, "open cursor");
    MDB_val k, v;
    int rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      absl::StatusOr<CatalogEntry> e = DecodeCatalogEntry(ViewOf(k), ViewOf(v));
      if (!e.ok()) {
        mdb_cursor_close(cur);
        return e.status();
      }
      out.push_back(std::move(*e));
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? absl::OkStatus() : LmdbStatus(rc, "list catalogue");
  });
  if (!status.ok()) return status;
  return out;
}

}  // namespace shortbus::index
