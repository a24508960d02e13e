#include "tools/js_api.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/json_text.h"

namespace shortbus::tools {
namespace {

absl::string_view View(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

absl::Status ResponseError(const Json& response) {
  if (!response.is_object() || !response.contains("error")) return absl::OkStatus();
  const Json& e = response["error"];
  const int code = e.is_object() && e.contains("code") && e["code"].is_number_integer() ? e["code"].get<int>() : 0;
  std::string text = e.is_object() && e.contains("description") && e["description"].is_string()
                         ? e["description"].get<std::string>()
                         : absl::StrCat("error ", server::DumpJson(e));
  switch (code) {
    case 404: return absl::NotFoundError(text);
    case 400: return absl::InvalidArgumentError(text);
    case 409: return absl::AlreadyExistsError(text);
    case 503: return absl::UnavailableError(text);
    default: return absl::FailedPreconditionError(text);
  }
}

absl::StatusOr<ClientMessage> JsApi::RequestRaw(std::string_view subject, std::string_view headers,
                                                std::string_view payload, absl::Duration timeout) {
  const std::string inbox = client_->NewInbox();
  absl::StatusOr<uint64_t> sid = client_->Subscribe(inbox);
  if (!sid.ok()) return sid.status();
  if (absl::Status s = client_->Unsubscribe(*sid, 1); !s.ok()) return s;
  if (absl::Status s = client_->Publish(subject, inbox, headers, payload); !s.ok()) return s;
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::StatusOr<ClientMessage> m = client_->NextMessage(std::max(deadline - absl::Now(), absl::ZeroDuration()));
    if (absl::IsDeadlineExceeded(m.status())) {
      (void)client_->Unsubscribe(*sid);  // a late reply is dropped by the server
      return absl::DeadlineExceededError(
          absl::StrCat("no reply on ", View(subject), " within ", absl::FormatDuration(timeout)));
    }
    if (!m.ok()) return m.status();
    if (m->sid == *sid) return m;
    kept_.push_back(*std::move(m));
  }
}

absl::StatusOr<Json> JsApi::Request(std::string_view api, const Json& body) {
  const std::string subject = absl::StrCat("$JS.API.", View(api));
  absl::StatusOr<ClientMessage> m = RequestRaw(subject, "", body.is_null() ? std::string() : server::DumpJson(body), timeout_);
  if (!m.ok()) return m.status();
  if (m->status == 503) {
    return absl::UnavailableError(absl::StrCat("the server has no JetStream (no responders on ", subject, ")"));
  }
  Json response = Json::parse(m->payload, nullptr, false);
  if (response.is_discarded() || !response.is_object()) {
    return absl::UnavailableError(absl::StrCat(subject, ": the reply is not a JSON object: '", m->payload, "'"));
  }
  if (absl::Status s = ResponseError(response); !s.ok()) return s;
  return response;
}

absl::StatusOr<std::vector<Json>> JsApi::List(std::string_view api, std::string_view key) {
  std::vector<Json> items;
  const std::string k(key);
  while (true) {
    absl::StatusOr<Json> page = Request(api, {{"offset", items.size()}});
    if (!page.ok()) return page.status();
    if (!page->contains(k) || (*page)[k].is_null()) break;  // nats-server sends null for none
    if (!(*page)[k].is_array()) return absl::UnavailableError(absl::StrCat("$JS.API.", View(api), ": no array \"", k, "\""));
    const Json& got = (*page)[k];
    for (const Json& item : got) items.push_back(item);
    const uint64_t total = page->value("total", uint64_t{0});
    if (got.empty() || items.size() >= total) break;
  }
  return items;
}

absl::StatusOr<Json> JsApi::PublishAcked(std::string_view subject, std::string_view headers,
                                                   std::string_view payload, absl::Duration timeout) {
  absl::StatusOr<ClientMessage> m = RequestRaw(subject, headers, payload, timeout);
  if (absl::IsDeadlineExceeded(m.status())) {
    return absl::DeadlineExceededError(
        absl::StrCat("no acknowledgement for ", View(subject), " within ", absl::FormatDuration(timeout)));
  }
  if (!m.ok()) return m.status();
  if (m->status == 503) return absl::NotFoundError(absl::StrCat("no stream captures ", View(subject)));
  Json ack = Json::parse(m->payload, nullptr, false);
  if (ack.is_discarded() || !ack.is_object()) {
    return absl::UnavailableError(absl::StrCat("not a JetStream acknowledgement: '", m->payload, "'"));
  }
  if (absl::Status s = ResponseError(ack); !s.ok()) return s;
  if (!ack.contains("seq") || !ack["seq"].is_number_unsigned() || !ack.contains("stream")) {
    return absl::UnavailableError(absl::StrCat("not a JetStream acknowledgement: '", m->payload, "'"));
  }
  return ack;
}

absl::StatusOr<ClientMessage> JsApi::NextMessage(absl::Duration timeout) {
  if (!kept_.empty()) {
    ClientMessage m = std::move(kept_.front());
    kept_.pop_front();
    return m;
  }
  return client_->NextMessage(timeout);
}

std::optional<DeliveryInfo> ParseDeliveryReply(std::string_view reply) {
  std::vector<absl::string_view> t = absl::StrSplit(View(reply), '.');
  if (t.size() < 9 || t[0] != "$JS" || t[1] != "ACK") return std::nullopt;
  size_t i;  // index of the stream's token
  if (t.size() == 9) {
    i = 2;
  } else if (t.size() >= 11) {
    i = 4;  // $JS.ACK.<domain>.<account hash>.<stream>...
  } else {
    return std::nullopt;
  }
  DeliveryInfo d;
  d.stream = std::string(t[i]);
  d.consumer = std::string(t[i + 1]);
  if (!absl::SimpleAtoi(t[i + 2], &d.delivered) || !absl::SimpleAtoi(t[i + 3], &d.stream_seq) ||
      !absl::SimpleAtoi(t[i + 4], &d.consumer_seq) || !absl::SimpleAtoi(t[i + 5], &d.time_ns) ||
      !absl::SimpleAtoi(t[i + 6], &d.pending)) {
    return std::nullopt;
  }
  return d;
}

std::optional<std::string> HeaderValue(std::string_view headers, std::string_view key) {
  std::vector<absl::string_view> lines = absl::StrSplit(View(headers), "\r\n");
  for (size_t i = 1; i < lines.size(); ++i) {  // line 0: NATS/1.0 [status]
    const size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos) continue;
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(lines[i].substr(0, colon)), View(key))) {
      return std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    }
  }
  return std::nullopt;
}

std::string StatusDescription(std::string_view headers) {
  absl::string_view first = View(headers.substr(0, headers.find("\r\n")));
  // "NATS/1.0 408 Request Timeout"
  std::vector<absl::string_view> f = absl::StrSplit(first, absl::MaxSplits(' ', 2));
  return f.size() == 3 ? std::string(absl::StripAsciiWhitespace(f[2])) : std::string();
}

}  // namespace shortbus::tools
