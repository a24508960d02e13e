// The JetStream layer's pure helpers: header blocks (js_headers.h), API
// times (js_time.h), stream and consumer configurations (js_config.h) and
// the subject overlap rules streams and consumers are checked with
// (subject.h). Expected values are nats-server 2.9.10's as captured in
// /tmp/js-spec.md.
#include <gtest/gtest.h>

#include <string>

#include "server/js_config.h"
#include "server/js_headers.h"
#include "server/js_time.h"
#include "server/subject.h"

namespace shortbus::server {
namespace {

// ---- headers ----

TEST(JsHeaders, HeaderValueMatchesExactNamesAndTrimsValues) {
  const std::string block = "NATS/1.0\r\nNats-Msg-Id:  abc \r\nNats-Msg-Idx: no\r\nX-Url: http://h:1/p\r\n\r\n";
  EXPECT_EQ(HeaderValue(block, "Nats-Msg-Id"), "abc");
  EXPECT_EQ(HeaderValue(block, "Nats-Msg-Idx"), "no");
  EXPECT_EQ(HeaderValue(block, "X-Url"), "http://h:1/p");
  EXPECT_EQ(HeaderValue(block, "nats-msg-id"), std::nullopt);  // names are exact, as nats-server
  EXPECT_EQ(HeaderValue(block, "Nats-Msg"), std::nullopt);
  EXPECT_EQ(HeaderValue(block, "Missing"), std::nullopt);
  EXPECT_EQ(HeaderValue("NATS/1.0\r\n\r\n", "Nats-Msg-Id"), std::nullopt);
  EXPECT_EQ(HeaderValue("", "Nats-Msg-Id"), std::nullopt);
  // The status line is not a header; lines after the empty one are not read.
  EXPECT_EQ(HeaderValue("NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 2\r\n\r\nX: y\r\n", "X"),
            std::nullopt);
  EXPECT_EQ(HeaderValue("NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 2\r\n\r\n", "Nats-Pending-Messages"),
            "2");
  EXPECT_EQ(HeaderValue("NATS/1.0\r\nEmpty:\r\n\r\n", "Empty"), "");
}

TEST(JsHeaders, ParseHeaderNumber) {
  EXPECT_EQ(ParseHeaderNumber("0"), 0u);
  EXPECT_EQ(ParseHeaderNumber("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(ParseHeaderNumber(""), std::nullopt);
  EXPECT_EQ(ParseHeaderNumber("1a"), std::nullopt);
  EXPECT_EQ(ParseHeaderNumber("-1"), std::nullopt);
  EXPECT_EQ(ParseHeaderNumber("18446744073709551616"), std::nullopt);
}

TEST(JsHeaders, StatusHeaders) {
  EXPECT_EQ(StatusHeaders(404, "No Messages"), "NATS/1.0 404 No Messages\r\n\r\n");
  EXPECT_EQ(StatusHeaders(408, "Request Timeout", {{"Nats-Pending-Messages", "2"}, {"Nats-Pending-Bytes", "0"}}),
            "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 2\r\nNats-Pending-Bytes: 0\r\n\r\n");
  EXPECT_EQ(StatusHeaders(503, ""), "NATS/1.0 503\r\n\r\n");
  const std::string hb =
      StatusHeaders(100, "Idle Heartbeat", {{"Nats-Last-Consumer", "3"}, {"Nats-Last-Stream", "7"}});
  EXPECT_EQ(HeaderValue(hb, "Nats-Last-Stream"), "7");
}

// ---- times ----

constexpr int64_t k2023 = int64_t{1'700'000'000} * 1'000'000'000;  // 2023-11-14T22:13:20Z

TEST(JsTime, FormatsRfc3339NanoInUtc) {
  EXPECT_EQ(FormatJsTime(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatJsTime(k2023), "2023-11-14T22:13:20Z");
  EXPECT_EQ(FormatJsTime(k2023 + 123'450'000), "2023-11-14T22:13:20.12345Z");  // trailing zeros dropped
  EXPECT_EQ(FormatJsTime(k2023 + 1), "2023-11-14T22:13:20.000000001Z");
  EXPECT_EQ(FormatJsTime(k2023 + 283'952'552), "2023-11-14T22:13:20.283952552Z");
}

TEST(JsTime, ParsesAnyOffsetAndRoundTrips) {
  EXPECT_EQ(ParseJsTime("2023-11-14T22:13:20Z"), k2023);
  EXPECT_EQ(ParseJsTime("2023-11-15T00:13:20.5+02:00"), k2023 + 500'000'000);
  EXPECT_EQ(ParseJsTime("2020-01-01T00:00:00Z"), int64_t{1'577'836'800} * 1'000'000'000);
  for (int64_t t : {int64_t{0}, k2023, k2023 + 1, k2023 + 999'999'999}) EXPECT_EQ(ParseJsTime(FormatJsTime(t)), t);
  EXPECT_EQ(ParseJsTime(""), std::nullopt);
  EXPECT_EQ(ParseJsTime("yesterday"), std::nullopt);
  EXPECT_EQ(ParseJsTime("2023-11-14 22:13:20"), std::nullopt);
}

// ---- stream configurations ----

JsError ParseStream(const std::string& body, const std::string& name, JsStreamConfig* out) {
  return ParseStreamConfig(Json::parse(body), name, JsDefaults{}, out);
}

TEST(JsStreamConfigTest, DefaultsAndNormalization) {
  JsStreamConfig c;
  // What libnats always sends, with 0 for max_msgs_per_subject.
  ASSERT_TRUE(ParseStream(R"({"name":"CS","subjects":["cs.>"],"retention":"limits","max_consumers":-1,
      "max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msg_size":-1,"max_msgs_per_subject":0,"discard":"old",
      "storage":"file","num_replicas":1})",
                          "CS", &c)
                  .ok());
  const OrderedJson j = StreamConfigJson(c);
  EXPECT_EQ(j["name"], "CS");
  EXPECT_EQ(j["subjects"], OrderedJson({"cs.>"}));
  EXPECT_EQ(j["retention"], "limits");
  for (const char* k : {"max_consumers", "max_msgs", "max_bytes", "max_msgs_per_subject", "max_msg_size"}) {
    EXPECT_EQ(j[k], -1) << k;
  }
  EXPECT_EQ(j["max_age"], 0);
  EXPECT_EQ(j["discard"], "old");
  EXPECT_EQ(j["storage"], "file");
  EXPECT_EQ(j["num_replicas"], 1);
  EXPECT_EQ(j["duplicate_window"], int64_t{120'000'000'000});

  // Node sends only what the user set: the same configuration results.
  JsStreamConfig n;
  ASSERT_TRUE(ParseStream(R"({"name":"CS","subjects":["cs.>"]})", "CS", &n).ok());
  EXPECT_EQ(n.base, c.base);
  EXPECT_EQ(StreamConfigJson(n), j);

  // Zero limits are unlimited too.
  ASSERT_TRUE(ParseStream(R"({"max_msgs":0,"max_bytes":0,"max_msg_size":0,"max_consumers":0})", "Z", &n).ok());
  EXPECT_EQ(StreamConfigJson(n)["max_msgs"], -1);
  EXPECT_EQ(StreamConfigJson(n)["max_consumers"], -1);
}

TEST(JsStreamConfigTest, SubjectsDefaultToTheName) {
  JsStreamConfig c;
  ASSERT_TRUE(ParseStream("{}", "ORDERS", &c).ok());
  EXPECT_EQ(c.base.subjects, std::vector<std::string>({"ORDERS"}));
}

TEST(JsStreamConfigTest, DuplicateWindowIsCappedByMaxAge) {
  JsStreamConfig c;
  ASSERT_TRUE(ParseStream(R"({"max_age":1000000000})", "S", &c).ok());
  EXPECT_EQ(StreamConfigJson(c)["duplicate_window"], 1'000'000'000);
  ASSERT_TRUE(ParseStream(R"({"max_age":1000000000,"duplicate_window":500000000})", "S", &c).ok());
  EXPECT_EQ(StreamConfigJson(c)["duplicate_window"], 500'000'000);
  ASSERT_TRUE(ParseStream(R"({"max_age":600000000000})", "S", &c).ok());
  EXPECT_EQ(StreamConfigJson(c)["duplicate_window"], int64_t{120'000'000'000});
}

TEST(JsStreamConfigTest, Errors) {
  JsStreamConfig c;
  auto code = [&](const std::string& body, const std::string& name = "S") {
    const JsError e = ParseStream(body, name, &c);
    return std::make_pair(e.code, e.err_code);
  };
  EXPECT_EQ(code(R"({"retention":"foo"})"), std::make_pair(400, 10025));
  EXPECT_EQ(code(R"({"discard":"foo"})"), std::make_pair(400, 10025));
  EXPECT_EQ(code(R"({"storage":"tape"})"), std::make_pair(400, 10025));
  EXPECT_EQ(code(R"({"name":"OTHER"})"), std::make_pair(400, 10056));
  EXPECT_EQ(code(R"({"num_replicas":3})"), std::make_pair(500, 10074));
  EXPECT_EQ(code(R"({"subjects":["$JS.API.>"]})"), std::make_pair(500, 10052));
  EXPECT_EQ(code(R"({"subjects":[">"]})"), std::make_pair(500, 10052));
  EXPECT_EQ(code(R"({"subjects":["a..b"]})"), std::make_pair(500, 10052));
  EXPECT_EQ(code(R"({"max_age":-1})"), std::make_pair(500, 10052));
  EXPECT_EQ(code(R"({"compression":"zip"})"), std::make_pair(500, 10052));
  EXPECT_EQ(code(R"({"max_msgs":"many"})").first, 400);
  EXPECT_EQ(code("{}", "bad.name").first, 500);
}

TEST(JsStreamConfigTest, WhatTheIndexDoesNotKeepSurvivesInItsMetadata) {
  JsStreamConfig c;
  ASSERT_TRUE(ParseStream(R"({"retention":"workqueue","max_consumers":3,"max_msgs_per_subject":2,
      "storage":"memory","description":"d","deny_delete":true,"deny_purge":true,"allow_rollup_hdrs":true,
      "allow_direct":true,"no_ack":true,"sync":"always"})",
                          "S", &c)
                  .ok());
  const JsStreamConfig back = StreamConfigFromIndex(c.base);
  EXPECT_EQ(StreamConfigJson(back), StreamConfigJson(c));
  EXPECT_EQ(back.retention, RetentionPolicy::kWorkQueue);
  EXPECT_EQ(back.max_msgs_per_subject, 2);
  EXPECT_EQ(back.base.sync, engine::SyncMode::kAlways);
  EXPECT_TRUE(back.no_ack);
}

// ---- consumer configurations ----

JsError ParseConsumer(const std::string& body, const std::string& name, JsConsumerConfig* out) {
  return ParseConsumerConfig(Json::parse(body), name, out);
}

TEST(JsConsumerConfigTest, Defaults) {
  JsConsumerConfig c;
  ASSERT_TRUE(ParseConsumer(R"({"durable_name":"D","ack_policy":"explicit"})", "", &c).ok());
  EXPECT_TRUE(c.durable);
  EXPECT_EQ(c.base.name, "D");
  EXPECT_EQ(c.base.ack_wait, absl::Seconds(30));
  EXPECT_EQ(c.base.max_ack_pending, 1000);
  EXPECT_EQ(c.base.max_deliver, -1);
  EXPECT_EQ(c.max_waiting, 512);
  const OrderedJson j = ConsumerConfigJson(c);
  EXPECT_EQ(j["durable_name"], "D");
  EXPECT_EQ(j["name"], "D");
  EXPECT_EQ(j["deliver_policy"], "all");
  EXPECT_EQ(j["ack_policy"], "explicit");
  EXPECT_EQ(j["ack_wait"], int64_t{30'000'000'000});
  EXPECT_EQ(j["replay_policy"], "instant");
  EXPECT_EQ(j["max_waiting"], 512);
  EXPECT_FALSE(j.contains("inactive_threshold"));

  // Ephemeral: 5 s inactive threshold; no name until the server gives one.
  ASSERT_TRUE(ParseConsumer(R"({"ack_policy":"explicit","deliver_subject":"_INBOX.x"})", "", &c).ok());
  EXPECT_FALSE(c.durable);
  EXPECT_EQ(c.base.name, "");
  EXPECT_EQ(c.inactive_threshold_ns, 5'000'000'000);
  EXPECT_FALSE(ConsumerConfigJson(c).contains("max_waiting"));  // push
  // The 2.9 form: the subject names it; "name" alone is not durable.
  ASSERT_TRUE(ParseConsumer(R"({"name":"N","ack_policy":"none"})", "N", &c).ok());
  EXPECT_FALSE(c.durable);
  EXPECT_EQ(c.base.name, "N");
  EXPECT_EQ(c.base.max_ack_pending, -1);  // ack none: no limit
}

TEST(JsConsumerConfigTest, Policies) {
  JsConsumerConfig c;
  ASSERT_TRUE(ParseConsumer(R"({"deliver_policy":"by_start_time","opt_start_time":"2020-01-01T00:00:00Z"})", "", &c)
                  .ok());
  EXPECT_EQ(c.base.deliver_policy, index::DeliverPolicy::kByStartTime);
  EXPECT_EQ(c.base.opt_start_time_ns, int64_t{1'577'836'800} * 1'000'000'000);
  EXPECT_EQ(ConsumerConfigJson(c)["opt_start_time"], "2020-01-01T00:00:00Z");
  ASSERT_TRUE(ParseConsumer(R"({"deliver_policy":"by_start_sequence","opt_start_seq":2})", "", &c).ok());
  EXPECT_EQ(ConsumerConfigJson(c)["opt_start_seq"], 2);
  ASSERT_TRUE(ParseConsumer(R"({"deliver_policy":"last_per_subject","filter_subject":"a.*"})", "", &c).ok());
  EXPECT_EQ(c.base.filter_subjects, std::vector<std::string>({"a.*"}));
  ASSERT_TRUE(ParseConsumer(R"({"ack_policy":"all","ack_wait":1000})", "", &c).ok());
  EXPECT_EQ(c.base.ack_policy, index::AckPolicy::kAll);
  EXPECT_EQ(c.base.ack_wait, absl::Nanoseconds(1000));
}

TEST(JsConsumerConfigTest, Errors) {
  JsConsumerConfig c;
  auto code = [&](const std::string& body, const std::string& name = "") {
    const JsError e = ParseConsumer(body, name, &c);
    return std::make_pair(e.code, e.err_code);
  };
  EXPECT_EQ(code(R"({"deliver_policy":"foo"})"), std::make_pair(400, 10025));
  EXPECT_EQ(code(R"({"ack_policy":"foo"})"), std::make_pair(400, 10025));
  EXPECT_EQ(code(R"({"deliver_policy":"by_start_sequence"})"), std::make_pair(400, 10094));
  EXPECT_EQ(code(R"({"deliver_policy":"by_start_time"})"), std::make_pair(400, 10094));
  EXPECT_EQ(code(R"({"deliver_policy":"last_per_subject"})"), std::make_pair(400, 10094));
  EXPECT_EQ(code(R"({"deliver_subject":"d","flow_control":true})"), std::make_pair(400, 10108));
  EXPECT_EQ(code(R"({"idle_heartbeat":1000000000})"), std::make_pair(400, 10088));
  EXPECT_EQ(code(R"({"durable_name":"A"})", "B"), std::make_pair(400, 10017));
  EXPECT_EQ(code(R"({"durable_name":"A","name":"B"})").first, 400);
  EXPECT_EQ(code(R"({"filter_subject":"a","filter_subjects":["b"]})").first, 400);
  EXPECT_EQ(code(R"({"filter_subject":"a..b"})").first, 400);
  EXPECT_EQ(code(R"({"replay_policy":"original"})").first, 400);
  EXPECT_EQ(code(R"({"deliver_subject":"a.*"})").first, 400);
}

TEST(JsConsumerConfigTest, WhatTheIndexDoesNotKeepSurvivesInItsMetadata) {
  JsConsumerConfig c;
  ASSERT_TRUE(ParseConsumer(R"({"ack_policy":"explicit","inactive_threshold":7,"max_waiting":9,"max_batch":3,
      "max_expires":100,"max_bytes":1000,"headers_only":true,"mem_storage":true,"backoff":[1,2]})",
                            "N", &c)
                  .ok());
  c.created_ns = 42;
  StoreConsumerMetadata(&c);
  const JsConsumerConfig back = ConsumerConfigFromIndex(c.base);
  EXPECT_EQ(ConsumerConfigJson(back), ConsumerConfigJson(c));
  EXPECT_FALSE(back.durable);
  EXPECT_EQ(back.inactive_threshold_ns, 7);
  EXPECT_EQ(back.max_waiting, 9);
  EXPECT_EQ(back.max_batch, 3);
  EXPECT_EQ(back.max_expires_ns, 100);
  EXPECT_EQ(back.max_request_bytes, 1000);
  EXPECT_TRUE(back.headers_only);
  EXPECT_EQ(back.backoff_ns, std::vector<int64_t>({1, 2}));
  EXPECT_EQ(back.created_ns, 42);
}

// ---- subject overlap (stream capture, consumer filters, work queues) ----

TEST(SubjectOverlap, Intersect) {
  EXPECT_TRUE(SubjectsIntersect("a.>", "a.b"));
  EXPECT_TRUE(SubjectsIntersect("a.b", "a.>"));
  EXPECT_TRUE(SubjectsIntersect("a.*", "*.b"));
  EXPECT_TRUE(SubjectsIntersect("*.*", "a.>"));
  EXPECT_TRUE(SubjectsIntersect("a.*.c", "a.b.*"));
  EXPECT_TRUE(SubjectsIntersect(">", "x"));
  EXPECT_TRUE(SubjectsIntersect("a.b", "a.b"));
  EXPECT_FALSE(SubjectsIntersect("a.b", "a.c"));
  EXPECT_FALSE(SubjectsIntersect("a.*", "a.b.c"));
  EXPECT_FALSE(SubjectsIntersect("a.>", "a"));
  EXPECT_FALSE(SubjectsIntersect("a.*", "b.>"));
  EXPECT_FALSE(SubjectsIntersect("*.x", "*.y"));
  EXPECT_FALSE(SubjectsIntersect("a.*.c", "a.b"));
}

TEST(SubjectOverlap, SubsetOf) {
  EXPECT_TRUE(SubjectIsSubsetOf("a.b", "a.*"));
  EXPECT_TRUE(SubjectIsSubsetOf("a.b", "a.>"));
  EXPECT_TRUE(SubjectIsSubsetOf("a.*", "a.>"));
  EXPECT_TRUE(SubjectIsSubsetOf("a.b.>", "a.>"));
  EXPECT_TRUE(SubjectIsSubsetOf("a.*", "a.*"));
  EXPECT_TRUE(SubjectIsSubsetOf("a.b", ">"));
  EXPECT_FALSE(SubjectIsSubsetOf("a.*", "a.b"));
  EXPECT_FALSE(SubjectIsSubsetOf("a.>", "a.*"));
  EXPECT_FALSE(SubjectIsSubsetOf("a.>", "a.b.>"));
  EXPECT_FALSE(SubjectIsSubsetOf("*.b", "a.*"));
  EXPECT_FALSE(SubjectIsSubsetOf("a", "a.>"));
}

}  // namespace
}  // namespace shortbus::server
