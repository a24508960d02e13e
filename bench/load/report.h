// One result line of shortbus-load: a human sentence, or (with --json) one
// JSON object whose first fields name the run. Both forms carry the same
// figures; bench/server_report.py and bench/streams_report.py read the JSON.
#ifndef SHORTBUS_BENCH_LOAD_REPORT_H_
#define SHORTBUS_BENCH_LOAD_REPORT_H_

#include <string>
#include <utility>
#include <vector>

#include "bench/load/conn.h"

namespace shortbus::load {

class Report {
 public:
  // Starts with "scenario", "case", "label", "server" and "transport".
  Report(bool json, const std::string& scenario, const std::string& name,
         const std::string& label, const Address& a);
  void Str(const std::string& k, const std::string& v);
  void Num(const std::string& k, double v);  // %.6g
  void Int(const std::string& k, long v);
  // "{" and the fields so far, without the closing brace (SetErrorJson).
  std::string Open() const;
  // Prints `human`, or the JSON object, on stdout, and flushes.
  void Print(const std::string& human) const;

 private:
  bool json_;
  std::vector<std::pair<std::string, std::string>> fields_;  // value as JSON text
};

// snprintf of up to four doubles into a std::string.
std::string Fmt(const char* fmt, double a, double b = 0, double c = 0, double d = 0);

// Latency samples in microseconds; percentiles by rank (p/100 * n, clamped).
class Latencies {
 public:
  void Reserve(size_t n) { us_.reserve(n); }
  void Add(double us) { us_.push_back(us); }
  size_t size() const { return us_.size(); }
  double Sum() const;
  // REQUIRES: at least one sample. Sorts the samples.
  double Percentile(double p);
  // Adds mean_us, p50_us, p90_us, p99_us, p999_us and max_us to `r`; returns
  // "latency us p50 .. p90 .. p99 .. p99.9 .. max .. mean ..".
  std::string AddTo(Report* r);

 private:
  std::vector<double> us_;
  bool sorted_ = false;
};

}  // namespace shortbus::load

#endif  // SHORTBUS_BENCH_LOAD_REPORT_H_
