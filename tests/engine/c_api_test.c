/* The C interface, from C: append, wait for durability, reopen, read back,
 * and the error paths a C caller sees. Exits non-zero on the first failure. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/shortbus_log.h"

static int failures = 0;
#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                     \
    }                                                                 \
  } while (0)

static sb_message msg(const char* subject, const char* payload) {
  sb_message m;
  memset(&m, 0, sizeof m);
  m.subject = subject;
  m.subject_len = strlen(subject);
  m.payload = payload;
  m.payload_len = strlen(payload);
  return m;
}

int main(void) {
  char dir[] = "/tmp/shortbus-capi-XXXXXX";
  if (mkdtemp(dir) == NULL) return 2;
  char stream[256];
  snprintf(stream, sizeof stream, "%s/events", dir);
  char err[256] = "";

  sb_options o;
  sb_options_init(&o);
  o.segment_size = 1 << 20;
  o.sync_mode = SB_SYNC_ALWAYS;

  sb_log* log = NULL;
  CHECK(sb_log_open(stream, &o, &log, err, sizeof err) == SB_OK);
  if (log == NULL) {
    fprintf(stderr, "open: %s\n", err);
    return 1;
  }
  uint64_t seq = 0;
  sb_message m = msg("orders.created", "{\"id\":1}");
  CHECK(sb_log_append(log, &m, &seq) == SB_OK);
  CHECK(seq == 1);
  sb_message batch[3] = {msg("orders.paid", "a"), msg("orders.paid", "b"), msg("orders.shipped", "c")};
  uint64_t first = 0;
  CHECK(sb_log_append_batch(log, batch, 3, &first) == SB_OK);
  CHECK(first == 2);
  CHECK(sb_log_wait_durable(log, 4, 30000) == SB_OK);
  CHECK(sb_log_durable_seq(log) >= 4);
  CHECK(sb_log_last_seq(log) == 4);

  /* Errors a C caller meets. */
  sb_message empty = msg("", "x");
  CHECK(sb_log_append(log, &empty, &seq) == SB_EINVAL);
  CHECK(strstr(sb_log_errmsg(log), "empty subject") != NULL);
  sb_log* second = NULL;
  CHECK(sb_log_open(stream, &o, &second, err, sizeof err) == SB_EBUSY);
  CHECK(second == NULL);
  CHECK(strstr(err, "already open for writing") != NULL);
  CHECK(sb_log_close(log) == SB_OK);

  sb_options no_create;
  sb_options_init(&no_create);
  no_create.create_if_missing = 0;
  char missing[300];
  snprintf(missing, sizeof missing, "%s/none", dir);
  CHECK(sb_log_open(missing, &no_create, &log, err, sizeof err) == SB_ENOTFOUND);

  /* Read it all back. */
  sb_reader* r = NULL;
  CHECK(sb_reader_open(stream, &r, err, sizeof err) == SB_OK);
  if (r == NULL) return 1;
  const char* want[] = {"{\"id\":1}", "a", "b", "c"};
  sb_record rec;
  for (int i = 0; i < 4; i++) {
    CHECK(sb_reader_next(r, &rec) == SB_OK);
    CHECK(rec.sequence == (uint64_t)(i + 1));
    CHECK(rec.payload_len == strlen(want[i]) && memcmp(rec.payload, want[i], rec.payload_len) == 0);
  }
  CHECK(sb_reader_next(r, &rec) == SB_END);
  CHECK(sb_reader_seek_last(r) == SB_OK);
  CHECK(sb_reader_next(r, &rec) == SB_OK && rec.sequence == 4);
  CHECK(rec.subject_len == strlen("orders.shipped") && memcmp(rec.subject, "orders.shipped", rec.subject_len) == 0);
  CHECK(sb_reader_seek_seq(r, 2) == SB_OK);
  CHECK(sb_reader_next(r, &rec) == SB_OK && rec.sequence == 2);
  CHECK(sb_reader_wait(r, 1) == SB_OK); /* 3 and 4 are still ahead */
  sb_reader_close(r);

  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", dir);
  if (failures != 0) {
    fprintf(stderr, "%d checks failed\n", failures);
    return 1;
  }
  printf("c_api_test: all checks passed\n");
  return 0;
}
