#include "server/permissions.h"

#include "absl/strings/str_cat.h"
#include "server/absl_view.h"
#include "server/subject.h"

namespace shortbus::server {
namespace {

bool IsSpaceOrTab(char c) { return c == ' ' || c == '\t'; }

// A rule's queue name may hold wildcards (nats-server's queueMatches).
bool QueueMatches(std::string_view rule_queue, std::string_view queue) {
  return rule_queue == queue ||
         (!IsValidPublishSubject(rule_queue) && SubjectMatches(rule_queue, queue));
}

bool AnyMatches(const std::vector<std::string>& patterns, std::string_view subject) {
  for (const std::string& p : patterns) {
    if (SubjectMatches(p, subject)) return true;
  }
  return false;
}

}  // namespace

absl::Status ParseSubRule(std::string_view text, SubRule* out) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat("\"", Av(text), "\" is not a subject or \"subject queue\""));
  };
  size_t i = 0;
  while (i < text.size() && !IsSpaceOrTab(text[i])) ++i;
  std::string_view subject = text.substr(0, i);
  while (i < text.size() && IsSpaceOrTab(text[i])) ++i;
  std::string_view queue = text.substr(i);
  while (!queue.empty() && IsSpaceOrTab(queue.back())) queue.remove_suffix(1);
  for (char c : queue) {
    if (IsSpaceOrTab(c)) return bad();
  }
  if (!IsValidSubscribeSubject(subject)) return bad();
  if (!queue.empty() && !IsValidSubscribeSubject(queue)) return bad();
  out->subject = std::string(subject);
  out->queue = std::string(queue);
  return absl::OkStatus();
}

absl::Status Permissions::Validate() const {
  auto check_pub = [](const std::vector<std::string>& list) -> absl::Status {
    for (const std::string& s : list) {
      if (!IsValidSubscribeSubject(s)) {
        return absl::InvalidArgumentError(absl::StrCat("\"", s, "\" is not a valid subject"));
      }
    }
    return absl::OkStatus();
  };
  auto check_sub = [](const std::vector<SubRule>& list) -> absl::Status {
    for (const SubRule& r : list) {
      if (!IsValidSubscribeSubject(r.subject) || (!r.queue.empty() && !IsValidSubscribeSubject(r.queue))) {
        return absl::InvalidArgumentError(absl::StrCat("\"", r.subject, " ", r.queue, "\" is not a valid entry"));
      }
    }
    return absl::OkStatus();
  };
  if (publish_allow) {
    if (absl::Status s = check_pub(*publish_allow); !s.ok()) return s;
  }
  if (absl::Status s = check_pub(publish_deny); !s.ok()) return s;
  if (subscribe_allow) {
    if (absl::Status s = check_sub(*subscribe_allow); !s.ok()) return s;
  }
  return check_sub(subscribe_deny);
}

bool Permissions::PublishAllowed(std::string_view subject) const {
  if (publish_allow && !AnyMatches(*publish_allow, subject)) return false;
  return !AnyMatches(publish_deny, subject);
}

bool Permissions::SubscribeAllowed(std::string_view subject, std::string_view queue) const {
  if (subscribe_allow) {
    bool plain = false, queue_entries = false, queue_listed = false;
    for (const SubRule& r : *subscribe_allow) {
      if (!SubjectMatches(r.subject, subject)) continue;
      if (r.queue.empty()) {
        plain = true;
      } else {
        queue_entries = true;
        queue_listed |= !queue.empty() && QueueMatches(r.queue, queue);
      }
    }
    // allow ["foo", "foo v1"]: SUB foo is fine, a queue SUB on foo only in v1.
    const bool allowed = !queue.empty() && queue_entries ? queue_listed : plain;
    if (!allowed) return false;
  }
  return !DeniesDelivery(subject, queue);
}

bool Permissions::FiltersDelivery(std::string_view subject) const {
  if (IsValidPublishSubject(subject)) return false;  // literal: judged whole at SUB time
  for (const SubRule& r : subscribe_deny) {
    if (SubjectsIntersect(r.subject, subject)) return true;
  }
  return false;
}

bool Permissions::DeniesDelivery(std::string_view subject, std::string_view queue) const {
  for (const SubRule& r : subscribe_deny) {
    if (!SubjectMatches(r.subject, subject)) continue;
    if (r.queue.empty() || (!queue.empty() && QueueMatches(r.queue, queue))) return true;
  }
  return false;
}

}  // namespace shortbus::server
