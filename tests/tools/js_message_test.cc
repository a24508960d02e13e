#include "tools/js_message.h"

#include <gtest/gtest.h>

namespace shortbus::tools {
namespace {

TEST(EscapeForLine, OneMessageIsOneLine) {
  EXPECT_EQ(EscapeForLine("plain text"), "plain text");
  EXPECT_EQ(EscapeForLine("a\nb\r\tc"), "a\\x0ab\\x0d\\x09c");
  EXPECT_EQ(EscapeForLine("back\\slash"), "back\\\\slash");
  EXPECT_EQ(EscapeForLine("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");  // UTF-8 kept
  EXPECT_EQ(EscapeForLine(std::string("\xff\x00z", 3)), "\\xff\\x00z");
  EXPECT_EQ(EscapeForLine("\xc3"), "\\xc3");  // cut sequence
  EXPECT_EQ(EscapeForLine("\x7f"), "\\x7f");
}

TEST(Delivered, TextAndJson) {
  ClientMessage m;
  m.subject = "orders.1";
  m.payload = "hi";
  DeliveryInfo d;
  d.stream = "ORDERS";
  d.stream_seq = 12;
  d.delivered = 2;
  d.time_ns = 1700000000000000001;
  EXPECT_EQ(DeliveredText(m), "orders.1 hi");
  EXPECT_EQ(DeliveredJson(m, d, false),
            R"({"stream":"ORDERS","seq":12,"time":"2023-11-14T22:13:20.000000001Z","subject":"orders.1","size":2,"data":"hi"})");
  m.headers = "NATS/1.0\r\nK: v\r\n\r\n";
  m.payload = std::string("\xff", 1);
  EXPECT_EQ(DeliveredJson(m, d, true),
            R"({"stream":"ORDERS","seq":12,"time":"2023-11-14T22:13:20.000000001Z","subject":"orders.1",)"
            R"("headers":"NATS/1.0\r\nK: v\r\n\r\n","size":1,"data_base64":"/w==","delivered":2})");
}

}  // namespace
}  // namespace shortbus::tools
