// `shortbus verify`: checks every frame of every stream of a data directory
// without a server, changing nothing.
#ifndef SHORTBUS_TOOLS_VERIFY_H_
#define SHORTBUS_TOOLS_VERIFY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace shortbus::tools {

struct VerifyFinding {
  bool problem = false;  // false: a note (e.g. an unrecovered tail a crash left)
  std::string where;     // file, and offset when it applies
  std::string what;
};

struct VerifyReport {
  uint64_t streams = 0;
  uint64_t segments = 0;
  uint64_t frames = 0;
  uint64_t bytes = 0;
  std::vector<VerifyFinding> findings;
  bool clean() const;
};

// `dir` is a data directory (its streams under dir/streams/) or one stream's
// directory. `progress` (may be empty) gets (bytes done, bytes in all).
VerifyReport Verify(const std::string& dir, const std::function<void(uint64_t, uint64_t)>& progress);

}  // namespace shortbus::tools

#endif  // SHORTBUS_TOOLS_VERIFY_H_
