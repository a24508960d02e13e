/* shortbus log engine, C interface.
 *
 * The same engine as engine/log.h and engine/reader.h, for C programs
 * (appliance firmware embeds it without the server). Link with
 * libshortbus_engine.a and the libraries `pkg-config --libs shortbus-engine`
 * names.
 *
 * Return codes: every function that can fail returns an int, SB_OK (0) on
 * success or one of the negative SB_E* codes. sb_reader_next() also returns
 * SB_END (1) when nothing more is committed yet. After a failure,
 * sb_log_errmsg()/sb_reader_errmsg() return a readable message (valid until
 * the next call on the same handle); the open functions write it into the
 * caller's buffer instead.
 *
 * Threading: a handle is used by one thread at a time, except
 * sb_log_durable_seq(), sb_log_first_seq(), sb_log_last_seq() and
 * sb_log_wait_durable(), which any thread may call.
 *
 * Durability: see engine/log.h. SB_SYNC_ALWAYS makes sb_log_wait_durable()
 * return once the message is on stable storage (group commit).
 */
#ifndef SHORTBUS_ENGINE_SHORTBUS_LOG_H_
#define SHORTBUS_ENGINE_SHORTBUS_LOG_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  SB_OK = 0,
  SB_END = 1,          /* reader: nothing more committed yet */
  SB_EINVAL = -1,      /* bad argument or option; message too large */
  SB_ENOTFOUND = -2,   /* no stream there (and not creating) */
  SB_EBUSY = -3,       /* another writer has the stream open */
  SB_EFULL = -4,       /* disk full, or stream full under discard=new */
  SB_ECORRUPT = -5,    /* corrupt data: reported, skipped, never served */
  SB_EPERM = -6,       /* permission denied */
  SB_EFAILED = -7,     /* the log failed (e.g. fdatasync error) or is closed */
  SB_ETIMEDOUT = -8,   /* a wait ran out of time */
  SB_EIO = -9          /* any other system error */
};

enum { SB_SYNC_ALWAYS = 0, SB_SYNC_INTERVAL = 1, SB_SYNC_NEVER = 2 };

typedef struct sb_options {
  uint64_t segment_size;     /* bytes; default 64 MiB, at least 1 MiB */
  int sync_mode;             /* SB_SYNC_*; default SB_SYNC_INTERVAL */
  uint64_t sync_interval_ms; /* default 1000 */
  uint64_t max_msgs;         /* 0 = unlimited */
  uint64_t max_bytes;        /* 0 = unlimited */
  uint64_t max_age_ms;       /* 0 = unlimited */
  uint32_t max_msg_size;     /* 0 = what fits a segment */
  int discard_new;           /* 1: refuse appends when full; 0: expire oldest */
  int compress_lz4;          /* 1: LZ4-compress payloads when it saves space */
  int create_if_missing;     /* default 1 */
} sb_options;

/* Fills *o with the defaults above. */
void sb_options_init(sb_options* o);

typedef struct sb_message {
  const char* subject; /* required */
  size_t subject_len;
  const char* headers; /* may be NULL */
  size_t headers_len;
  const void* payload; /* may be NULL when payload_len is 0 */
  size_t payload_len;
  int64_t timestamp_ns; /* 0 = now */
} sb_message;

/* Views into the stream's mapping (or the reader's buffer for compressed
 * payloads), valid until the next call on the reader. */
typedef struct sb_record {
  uint64_t sequence;
  int64_t timestamp_ns;
  const char* subject;
  size_t subject_len;
  const char* headers;
  size_t headers_len;
  const void* payload;
  size_t payload_len;
} sb_record;

typedef struct sb_log sb_log;
typedef struct sb_reader sb_reader;

/* Opens (and by default creates) the stream in `dir`, recovering it.
 * `opts` may be NULL for the defaults. On failure *out is NULL and a message
 * is written to errbuf (if not NULL). */
int sb_log_open(const char* dir, const sb_options* opts, sb_log** out, char* errbuf, size_t errbuf_len);
/* Appends one message; its sequence goes to *seq (may be NULL). */
int sb_log_append(sb_log* log, const sb_message* msg, uint64_t* seq);
/* Appends n messages; the first sequence goes to *first_seq. */
int sb_log_append_batch(sb_log* log, const sb_message* msgs, size_t n, uint64_t* first_seq);
uint64_t sb_log_durable_seq(const sb_log* log);
uint64_t sb_log_first_seq(const sb_log* log);
uint64_t sb_log_last_seq(const sb_log* log);
/* Blocks until `seq` is durable; timeout_ms < 0 waits for ever. */
int sb_log_wait_durable(sb_log* log, uint64_t seq, int64_t timeout_ms);
/* Makes everything appended so far durable. */
int sb_log_sync(sb_log* log);
/* Syncs, closes and frees the handle (also on error). NULL is a no-op. */
int sb_log_close(sb_log* log);
const char* sb_log_errmsg(const sb_log* log);

int sb_reader_open(const char* dir, sb_reader** out, char* errbuf, size_t errbuf_len);
int sb_reader_seek_seq(sb_reader* r, uint64_t seq);
int sb_reader_seek_time(sb_reader* r, int64_t timestamp_ns);
int sb_reader_seek_last(sb_reader* r);
/* SB_OK with *rec filled; SB_END when nothing more is committed;
 * SB_ECORRUPT when a damaged record was skipped (call again to go on). */
int sb_reader_next(sb_reader* r, sb_record* rec);
/* SB_OK when sb_reader_next may have more, SB_ETIMEDOUT otherwise. */
int sb_reader_wait(sb_reader* r, int64_t timeout_ms);
void sb_reader_close(sb_reader* r);
const char* sb_reader_errmsg(const sb_reader* r);

#ifdef __cplusplus
}
#endif

#endif /* SHORTBUS_ENGINE_SHORTBUS_LOG_H_ */
