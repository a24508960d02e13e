// A subject split at '.' into views of its bytes, for the router's walks.
//
// Up to kMaxSubjectTokens tokens live in a stack array and splitting
// allocates nothing; a longer subject spills into a heap vector. The views
// point into the subject passed in, which must outlive this object.
#ifndef SHORTBUS_SERVER_SUBLIST_TOKENS_H_
#define SHORTBUS_SERVER_SUBLIST_TOKENS_H_

#include <array>
#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "server/subject.h"

namespace shortbus::server {

class SubjectTokens {
 public:
  explicit SubjectTokens(std::string_view subject) {
    size_t start = 0;
    for (size_t i = 0; i <= subject.size(); ++i) {
      if (i < subject.size() && subject[i] != '.') continue;
      Push(subject.substr(start, i - start));
      start = i + 1;
    }
  }
  SubjectTokens(const SubjectTokens&) = delete;
  SubjectTokens& operator=(const SubjectTokens&) = delete;

  std::span<const std::string_view> tokens() const {
    if (!spill_.empty()) return spill_;
    return std::span<const std::string_view>(stack_.data(), size_);
  }
  // True when some token is empty: "", ".a", "a.", "a..b".
  bool has_empty() const { return has_empty_; }

 private:
  void Push(std::string_view token) {
    has_empty_ = has_empty_ || token.empty();
    if (size_ < stack_.size()) {
      stack_[size_++] = token;
      return;
    }
    if (spill_.empty()) spill_.assign(stack_.begin(), stack_.end());
    spill_.push_back(token);
  }

  // Invariant: spill_ is empty, or it holds every token and stack_ is full.
  std::array<std::string_view, kMaxSubjectTokens> stack_;
  size_t size_ = 0;
  std::vector<std::string_view> spill_;
  bool has_empty_ = false;
};

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_SUBLIST_TOKENS_H_
