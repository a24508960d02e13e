#include "bench/load/report.h"

#include <algorithm>
#include <cstdio>

namespace shortbus::load {

Report::Report(bool json, const std::string& scenario, const std::string& name,
               const std::string& label, const Address& a)
    : json_(json) {
  Str("scenario", scenario);
  Str("case", name);
  Str("label", label);
  Str("server", a.text);
  Str("transport", a.transport());
}

void Report::Str(const std::string& k, const std::string& v) {
  fields_.emplace_back(k, JsonString(v));
}

void Report::Num(const std::string& k, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  fields_.emplace_back(k, buf);
}

void Report::Int(const std::string& k, long v) { fields_.emplace_back(k, std::to_string(v)); }

std::string Report::Open() const {
  std::string s = "{";
  for (size_t i = 0; i < fields_.size(); i++) {
    s += (i ? ",\"" : "\"") + fields_[i].first + "\":" + fields_[i].second;
  }
  return s;
}

void Report::Print(const std::string& human) const {
  if (!json_) {
    std::printf("%s\n", human.c_str());
  } else {
    std::printf("%s}\n", Open().c_str());
  }
  std::fflush(stdout);
}

std::string Fmt(const char* fmt, double a, double b, double c, double d) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), fmt, a, b, c, d);
  return buf;
}

double Latencies::Sum() const {
  double s = 0;
  for (double x : us_) s += x;
  return s;
}

double Latencies::Percentile(double p) {
  if (!sorted_) {
    std::sort(us_.begin(), us_.end());
    sorted_ = true;
  }
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(us_.size()));
  return us_[std::min(i, us_.size() - 1)];
}

std::string Latencies::AddTo(Report* r) {
  const double mean = Sum() / static_cast<double>(us_.size());
  r->Num("mean_us", mean);
  r->Num("p50_us", Percentile(50));
  r->Num("p90_us", Percentile(90));
  r->Num("p99_us", Percentile(99));
  r->Num("p999_us", Percentile(99.9));
  r->Num("max_us", Percentile(100));
  return Fmt("latency us p50 %.1f p90 %.1f p99 %.1f", Percentile(50), Percentile(90),
             Percentile(99)) +
         Fmt(" p99.9 %.1f max %.1f mean %.1f", Percentile(99.9), Percentile(100), mean);
}

}  // namespace shortbus::load
