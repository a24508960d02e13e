#include "server/server_core.h"

#include <algorithm>
#include <random>

#include "server/msg_line.h"
#include "server/protocol_errors.h"
#include "server/server_info.h"

namespace shortbus::server {

ServerCore::ServerCore(ServerOptions options, Transport* transport, VerbExtension* extension)
    : options_(std::move(options)),
      transport_(transport),
      extension_(extension),
      server_id_(NewServerId()),
      msg_line_(MsgLineCapacity(static_cast<size_t>(options_.max_control_line))),
      random_state_(std::random_device{}() | 1),
      now_(absl::Now()) {
  closed_.reserve(64);
  expired_.reserve(64);
  err_line_.reserve(4 * static_cast<size_t>(options_.max_control_line) + 128);
}

ServerCore::~ServerCore() {
  for (auto& [id, session] : sessions_) session->RemoveAllSubscriptions();
}

const Session* ServerCore::FindSession(ClientId id) const {
  auto it = sessions_.find(id);
  return it == sessions_.end() || it->second->closing_ ? nullptr : it->second.get();
}

namespace {

// INFO's client_ip is the address without the port, as nats-server sends
// it: "1.2.3.4:5678" -> "1.2.3.4", "[::1]:5678" -> "::1".
std::string_view ClientIp(std::string_view peer) {
  const size_t colon = peer.rfind(':');
  if (colon != std::string_view::npos && peer.find(':') == colon) return peer.substr(0, colon);
  if (peer.starts_with('[') && colon != std::string_view::npos && peer[colon - 1] == ']') {
    return peer.substr(1, colon - 2);
  }
  return peer;
}

}  // namespace

void ServerCore::OnAccept(ClientId id, ConnKind kind, std::string_view peer) {
  const std::string_view ip = kind == ConnKind::kTcp ? ClientIp(peer) : std::string_view();
  transport_->Send(id, InfoLine(options_, server_id_, id, ip));
  if (sessions_.size() >= static_cast<size_t>(options_.max_connections) ||
      sessions_.count(id) != 0) {
    transport_->Send(id, kErrMaxConnections);
    transport_->Close(id, /*flush_first=*/true);
    return;
  }
  sessions_.emplace(id, std::make_unique<Session>(this, id, kind, peer, now_));
}

void ServerCore::OnData(ClientId id, const char* data, size_t n) {
  auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second->closing_) return;
  it->second->Feed(data, n);
  if (!closed_.empty()) Reap();
}

void ServerCore::OnClosed(ClientId id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  Session* s = it->second.get();
  if (!s->closing_) {
    s->closing_ = true;
    closed_.push_back(s);
  }
  Reap();
}

void ServerCore::OnTimer(absl::Time now) {
  now_ = now;
  const bool auth = options_.auth_required();
  for (auto& [id, s] : sessions_) {
    if (s->closing_) continue;
    if (auth && !s->connected_ && now >= s->auth_deadline_) {
      CloseSession(s.get(), kErrAuthTimeout);
      continue;
    }
    if (now < s->next_ping_) continue;
    s->next_ping_ = now + options_.ping_interval;
    if (s->published_since_ping_) {  // alive: no need to ask
      s->published_since_ping_ = false;
      continue;
    }
    if (s->pings_out_ + 1 > options_.max_pings_out) {
      CloseSession(s.get(), kErrStaleConnection);
      continue;
    }
    transport_->Send(id, kPing);
    ++s->pings_out_;
  }
  if (!closed_.empty()) Reap();
}

absl::Duration ServerCore::TimerInterval() const {
  absl::Duration d = std::min(absl::Seconds(1), options_.ping_interval);
  if (options_.auth_required()) d = std::min(d, options_.auth_timeout);
  return d;
}

void ServerCore::CloseSession(Session* session, std::string_view err_line) {
  if (session->closing_) return;
  session->closing_ = true;
  if (!err_line.empty()) transport_->Send(session->id_, err_line);
  transport_->Close(session->id_, /*flush_first=*/true);
  closed_.push_back(session);
}

void ServerCore::Reap() {
  for (Session* s : closed_) {
    s->RemoveAllSubscriptions();
    sessions_.erase(s->id_);
  }
  closed_.clear();
}

}  // namespace shortbus::server
