// Subject filters of streams and consumers: NATS subject patterns, where a
// token `*` matches one token and a last token `>` matches one or more.
// Allocation-free; used per message when a consumer filters its stream.
#ifndef SHORTBUS_INDEX_SUBJECT_FILTER_H_
#define SHORTBUS_INDEX_SUBJECT_FILTER_H_

#include <string>
#include <string_view>
#include <vector>

namespace shortbus::index {

// True when the literal `subject` is matched by `filter`.
bool SubjectFilterMatches(std::string_view filter, std::string_view subject);

// True when `subject` matches any of `filters`; an empty list matches all.
bool AnyFilterMatches(const std::vector<std::string>& filters, std::string_view subject);

}  // namespace shortbus::index

#endif  // SHORTBUS_INDEX_SUBJECT_FILTER_H_
