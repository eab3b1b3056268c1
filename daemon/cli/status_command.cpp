// `extsecretd status` and `extsecretd history`: read-only views of the state store for
// operators (the same data the sync_status and sync_history SQL views expose).
#include <cstdio>
#include <string>
#include <vector>

#include "daemon/cli/cli.h"
#include "daemon/common/clock.h"
#include "storage/state_store.h"

namespace esd::cli {
namespace {

std::string when(int64_t ms) { return ms == 0 ? "-" : format_rfc3339(ms); }

void print_row(const std::vector<std::string>& cols, const std::vector<size_t>& widths) {
  std::string line;
  for (size_t i = 0; i < cols.size(); ++i) {
    std::string c = cols[i];
    if (i + 1 < cols.size() && c.size() < widths[i]) c.resize(widths[i], ' ');
    line += c;
    if (i + 1 < cols.size()) line += "  ";
  }
  std::printf("%s\n", line.c_str());
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& r : rows) {
    widths.resize(std::max(widths.size(), r.size()), 0);
    for (size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], r[i].size());
  }
  for (const auto& r : rows) print_row(r, widths);
}

}  // namespace

int show_status(const std::string& state_path) {
  auto store = storage::StateStore::open_readonly(state_path);
  if (!store) {
    std::fprintf(stderr, "extsecretd: %s\n", store.error().message.c_str());
    return 1;
  }
  auto rows = (*store)->load_all();
  if (!rows) {
    std::fprintf(stderr, "extsecretd: %s\n", rows.error().message.c_str());
    return 1;
  }
  std::vector<std::vector<std::string>> table = {
      {"NAMESPACE", "NAME", "STORE", "OUTCOME", "LAST-SUCCESS", "NEXT-DUE", "FAILURES", "ERROR"}};
  for (const auto& r : *rows) {
    table.push_back({r.ns, r.name, r.store, r.last_outcome.empty() ? "-" : r.last_outcome,
                     when(r.last_success_ms), when(r.next_due_ms),
                     std::to_string(r.consecutive_failures), r.last_error.empty() ? "-" : r.last_error});
  }
  print_table(table);
  return 0;
}

int show_history(const std::string& state_path, const std::string& which, int limit) {
  std::string ns, name;
  if (!which.empty()) {
    const auto slash = which.find('/');
    if (slash == std::string::npos) {
      std::fprintf(stderr, "extsecretd: expected NAMESPACE/NAME, got \"%s\"\n", which.c_str());
      return 2;
    }
    ns = which.substr(0, slash);
    name = which.substr(slash + 1);
  }
  auto store = storage::StateStore::open_readonly(state_path);
  if (!store) {
    std::fprintf(stderr, "extsecretd: %s\n", store.error().message.c_str());
    return 1;
  }
  auto rows = (*store)->history(ns, name, limit);
  if (!rows) {
    std::fprintf(stderr, "extsecretd: %s\n", rows.error().message.c_str());
    return 1;
  }
  std::vector<std::vector<std::string>> table = {
      {"AT", "NAMESPACE", "NAME", "OUTCOME", "DURATION", "ERROR"}};
  for (const auto& h : *rows) {
    table.push_back({when(h.at_ms), h.ns, h.name, h.outcome, std::to_string(h.duration_ms) + "ms",
                     h.error.empty() ? "-" : h.error});
  }
  print_table(table);
  return 0;
}

}  // namespace esd::cli
