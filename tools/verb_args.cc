#include "tools/verb_args.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace shortbus::tools {

std::string VerbArgs::Value(const std::string& flag, const std::string& fallback) const {
  auto it = values.find(flag);
  return it == values.end() || it->second.empty() ? fallback : it->second.back();
}

absl::StatusOr<absl::Duration> VerbArgs::Duration(const std::string& flag, absl::Duration fallback) const {
  if (values.count(flag) == 0) return fallback;
  const std::string v = Value(flag);
  absl::Duration d;
  if (!absl::ParseDuration(v, &d) || d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", v, ": not a duration (e.g. 500ms, 2s, 1m)"));
  }
  return d;
}

absl::StatusOr<uint64_t> VerbArgs::Count(const std::string& flag, uint64_t fallback) const {
  if (values.count(flag) == 0) return fallback;
  const std::string v = Value(flag);
  uint64_t n = 0;
  if (!absl::SimpleAtoi(v, &n)) return absl::InvalidArgumentError(absl::StrCat(flag, " ", v, ": not a number"));
  return n;
}

absl::StatusOr<uint64_t> VerbArgs::Size(const std::string& flag, uint64_t fallback) const {
  if (values.count(flag) == 0) return fallback;
  const std::string v = Value(flag);
  size_t digits = 0;
  while (digits < v.size() && v[digits] >= '0' && v[digits] <= '9') ++digits;
  std::string unit = absl::AsciiStrToUpper(v.substr(digits));
  if (unit.size() > 1 && unit.back() == 'B') unit.pop_back();
  if (unit.size() > 1 && unit.back() == 'I') unit.pop_back();
  static constexpr std::string_view kUnits = "KMGT";  // 2^10, 2^20, 2^30, 2^40
  int shift = 0;
  if (!unit.empty() && unit != "B") {
    const size_t u = unit.size() == 1 ? kUnits.find(unit[0]) : std::string_view::npos;
    shift = u == std::string_view::npos ? -1 : 10 * static_cast<int>(u + 1);
  }
  uint64_t n = 0;
  if (digits == 0 || shift < 0 || !absl::SimpleAtoi(v.substr(0, digits), &n) || n > (~uint64_t{0} >> shift)) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", v, ": not a size (e.g. 512, 64K, 10M, 1G)"));
  }
  return n << shift;
}

absl::StatusOr<VerbArgs> ParseVerbArgs(const std::vector<std::string>& args,
                                       const std::set<std::string_view>& value_flags,
                                       const std::set<std::string_view>& switch_flags) {
  VerbArgs out;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (flags_done || a == "-" || a.size() < 2 || a.substr(0, 2) != "--") {
      if (!flags_done && a.size() > 1 && a[0] == '-' && a != "-") {
        return absl::InvalidArgumentError(absl::StrCat("unknown flag ", a));
      }
      out.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    const size_t eq = a.find('=');
    const std::string name = a.substr(0, eq);
    if (switch_flags.count(name) > 0) {
      if (eq != std::string::npos) return absl::InvalidArgumentError(absl::StrCat(name, " takes no value"));
      out.switches.insert(name);
    } else if (value_flags.count(name) > 0) {
      if (eq != std::string::npos) {
        out.values[name].push_back(a.substr(eq + 1));
      } else if (i + 1 < args.size()) {
        out.values[name].push_back(args[++i]);
      } else {
        return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", name));
    }
  }
  return out;
}

}  // namespace shortbus::tools
