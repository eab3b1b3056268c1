// Typed, non-throwing reads of fields of untrusted JSON objects (Kubernetes manifests), with
// errors that name the field path ("spec.data[1].secretKey: expected a string"). A Fields value
// borrows the JSON it reads; it must not outlive it. Used by the spec parsers (es_spec.cpp).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/common/result.h"

// `ESD_ASSIGN_OR_RETURN(x, expr);` declares `x` holding expr's value, or returns its error.
#define ESD_ASSIGN_OR_RETURN(var, expr)                        \
  auto var##_result_ = (expr);                                 \
  if (!var##_result_) return std::move(var##_result_).error(); \
  auto var = std::move(var##_result_).value()

namespace esd::controller {

// kInvalidConfig "<path>: <what>".
Error field_error(std::string_view path, std::string_view what);

class Fields {
 public:
  // obj == nullptr (or a JSON null) reads as an empty object: every field is absent.
  Fields(const nlohmann::json* obj, std::string path) : obj_(obj), path_(std::move(path)) {}
  // kInvalidConfig unless v is an object (or null).
  static Result<Fields> of(const nlohmann::json& v, std::string path);

  const std::string& path() const { return path_; }
  // "<path>.<key>", or just the key at the root (empty path).
  std::string at(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  bool present() const { return obj_ != nullptr && obj_->is_object(); }
  // The field, or nullptr when absent or JSON null.
  const nlohmann::json* raw(std::string_view key) const;
  bool has(std::string_view key) const { return raw(key) != nullptr; }

  // Absent → "" / false / empty; a wrong JSON type is an error.
  Result<std::string> str(std::string_view key) const;
  Result<bool> boolean(std::string_view key) const;
  Result<Fields> object(std::string_view key) const;
  // Absent → nullptr; otherwise the array.
  Result<const nlohmann::json*> array(std::string_view key) const;
  Result<std::map<std::string, std::string>> string_map(std::string_view key) const;
  Result<std::vector<std::string>> string_list(std::string_view key) const;

 private:
  const nlohmann::json* obj_;
  std::string path_;
};

// A string field that must be one of `names` (same order as `values`); "" → fallback.
template <typename E>
struct EnumName {
  std::string_view name;
  E value;
};

template <typename E, size_t N>
Result<E> parse_enum(const Fields& f, std::string_view key, const EnumName<E> (&table)[N],
                     E fallback) {
  auto s = f.str(key);
  if (!s) return std::move(s).error();
  if (s->empty()) return fallback;
  std::string want;
  for (size_t i = 0; i < N; ++i) {
    if (table[i].name == *s) return table[i].value;
    want += (i == 0 ? "" : i + 1 == N ? " or " : ", ") + std::string(table[i].name);
  }
  return field_error(f.at(key), "unsupported value \"" + *s + "\" (want " + want + ")");
}

}  // namespace esd::controller
