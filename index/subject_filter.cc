#include "index/subject_filter.h"

namespace shortbus::index {
namespace {

// The token of `s` starting at `*pos` (up to the next '.' or the end);
// advances *pos past the dot.
std::string_view NextToken(std::string_view s, size_t* pos) {
  const size_t dot = s.find('.', *pos);
  const size_t end = dot == std::string_view::npos ? s.size() : dot;
  std::string_view t = s.substr(*pos, end - *pos);
  *pos = dot == std::string_view::npos ? s.size() + 1 : dot + 1;
  return t;
}

}  // namespace

bool SubjectFilterMatches(std::string_view filter, std::string_view subject) {
  size_t fp = 0, sp = 0;
  while (fp <= filter.size()) {
    std::string_view f = NextToken(filter, &fp);
    if (sp > subject.size()) return false;  // filter has more tokens
    if (f == ">" && fp > filter.size()) return true;  // last filter token: matches the rest (one or more)
    std::string_view t = NextToken(subject, &sp);
    if (f != "*" && f != t) return false;
  }
  return sp > subject.size();  // both ran out together
}

bool AnyFilterMatches(const std::vector<std::string>& filters, std::string_view subject) {
  if (filters.empty()) return true;
  for (const std::string& f : filters) {
    if (SubjectFilterMatches(f, subject)) return true;
  }
  return false;
}

}  // namespace shortbus::index
