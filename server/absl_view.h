// Debian's Abseil has its own absl::string_view (not std::string_view), so
// absl string functions and heterogeneous lookups in absl hash maps take
// views converted by Av().
#ifndef SHORTBUS_SERVER_ABSL_VIEW_H_
#define SHORTBUS_SERVER_ABSL_VIEW_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace shortbus::server {

inline absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view Sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace shortbus::server

#endif  // SHORTBUS_SERVER_ABSL_VIEW_H_
