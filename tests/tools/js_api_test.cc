#include "tools/js_api.h"

#include <gtest/gtest.h>

namespace shortbus::tools {
namespace {

TEST(ParseDeliveryReply, NineTokenForm) {
  std::optional<DeliveryInfo> d = ParseDeliveryReply("$JS.ACK.ORDERS.worker.2.17.5.1700000000000000001.3");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->stream, "ORDERS");
  EXPECT_EQ(d->consumer, "worker");
  EXPECT_EQ(d->delivered, 2u);
  EXPECT_EQ(d->stream_seq, 17u);
  EXPECT_EQ(d->consumer_seq, 5u);
  EXPECT_EQ(d->time_ns, 1700000000000000001);
  EXPECT_EQ(d->pending, 3u);
}

TEST(ParseDeliveryReply, DomainAndAccountForm) {
  std::optional<DeliveryInfo> d =
      ParseDeliveryReply("$JS.ACK._.ACCHASH.ORDERS.worker.1.9.4.1700000000000000000.0.randomtoken");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->stream, "ORDERS");
  EXPECT_EQ(d->consumer, "worker");
  EXPECT_EQ(d->stream_seq, 9u);
  EXPECT_EQ(d->consumer_seq, 4u);
  EXPECT_EQ(d->pending, 0u);
}

TEST(ParseDeliveryReply, RefusesOtherSubjects) {
  for (const char* bad : {"", "_INBOX.abc.1", "$JS.ACK.S.C.1.2.3.4", "$JS.ACK.S.C.1.2.3.4.5.6",
                          "$JS.ACK.S.C.x.2.3.4.5", "$JS.NAK.S.C.1.2.3.4.5", "$JS.ACK.S.C.1.2.3.4.-5"}) {
    EXPECT_FALSE(ParseDeliveryReply(bad).has_value()) << bad;
  }
}

TEST(HeaderValue, CaseInsensitiveKeyTrimmedValue) {
  const std::string h = "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 42\r\nnats-last-stream:7 \r\n\r\n";
  EXPECT_EQ(HeaderValue(h, "Nats-Last-Consumer"), "42");
  EXPECT_EQ(HeaderValue(h, "Nats-Last-Stream"), "7");
  EXPECT_EQ(HeaderValue(h, "Nats-Consumer-Stalled"), std::nullopt);
  EXPECT_EQ(StatusDescription(h), "Idle Heartbeat");
  EXPECT_EQ(StatusDescription("NATS/1.0 408 Request Timeout\r\n\r\n"), "Request Timeout");
  EXPECT_EQ(StatusDescription("NATS/1.0\r\nK: v\r\n\r\n"), "");
}

TEST(ResponseError, EnvelopeBecomesStatusWithTheDescription) {
  EXPECT_TRUE(ResponseError(Json::parse(R"({"stream":"S","seq":1})")).ok());
  absl::Status nf = ResponseError(
      Json::parse(R"({"type":"x","error":{"code":404,"err_code":10059,"description":"stream not found"}})"));
  EXPECT_TRUE(absl::IsNotFound(nf));
  EXPECT_EQ(nf.message(), "stream not found");
  absl::Status bad = ResponseError(Json::parse(R"({"error":{"code":400,"description":"wrong last sequence: 4"}})"));
  EXPECT_TRUE(absl::IsInvalidArgument(bad));
  EXPECT_EQ(bad.message(), "wrong last sequence: 4");
  EXPECT_FALSE(ResponseError(Json::parse(R"({"error":{"code":500}})")).ok());
}

}  // namespace
}  // namespace shortbus::tools
