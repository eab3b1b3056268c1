#include "daemon/controller/json_fields.h"

namespace esd::controller {

using nlohmann::json;

Error field_error(std::string_view path, std::string_view what) {
  return Error(ErrorCode::kInvalidConfig, std::string(path) + ": " + std::string(what));
}

Result<Fields> Fields::of(const json& v, std::string path) {
  if (!v.is_null() && !v.is_object()) return field_error(path, "expected an object");
  return Fields(&v, std::move(path));
}

const json* Fields::raw(std::string_view key) const {
  if (!present()) return nullptr;
  const auto it = obj_->find(key);
  if (it == obj_->end() || it->is_null()) return nullptr;
  return &*it;
}

Result<std::string> Fields::str(std::string_view key) const {
  const json* v = raw(key);
  if (v == nullptr) return std::string();
  if (!v->is_string()) return field_error(at(key), "expected a string");
  return v->get<std::string>();
}

Result<bool> Fields::boolean(std::string_view key) const {
  const json* v = raw(key);
  if (v == nullptr) return false;
  if (!v->is_boolean()) return field_error(at(key), "expected a boolean");
  return v->get<bool>();
}

Result<Fields> Fields::object(std::string_view key) const {
  const json* v = raw(key);
  if (v == nullptr) return Fields(nullptr, at(key));
  return of(*v, at(key));
}

Result<const json*> Fields::array(std::string_view key) const {
  const json* v = raw(key);
  if (v != nullptr && !v->is_array()) return field_error(at(key), "expected a list");
  return v;
}

Result<std::map<std::string, std::string>> Fields::string_map(std::string_view key) const {
  std::map<std::string, std::string> out;
  const json* v = raw(key);
  if (v == nullptr) return out;
  if (!v->is_object()) return field_error(at(key), "expected a map of strings");
  for (const auto& [k, item] : v->items()) {
    if (!item.is_string()) return field_error(at(key) + "." + k, "expected a string");
    out.emplace(k, item.get<std::string>());
  }
  return out;
}

Result<std::vector<std::string>> Fields::string_list(std::string_view key) const {
  std::vector<std::string> out;
  auto arr = array(key);
  if (!arr) return std::move(arr).error();
  if (*arr == nullptr) return out;
  for (size_t i = 0; i < (*arr)->size(); ++i) {
    const json& item = (**arr)[i];
    if (!item.is_string()) {
      return field_error(at(key) + "[" + std::to_string(i) + "]", "expected a string");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace esd::controller
