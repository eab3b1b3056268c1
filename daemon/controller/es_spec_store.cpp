// parse_store and store_allows_namespace (declared in es_spec.h): SecretStore and
// ClusterSecretStore objects, and the ClusterSecretStore namespace conditions.
#include <re2/re2.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "daemon/common/crypto.h"
#include "daemon/controller/es_spec.h"
#include "daemon/controller/json_fields.h"

namespace esd::controller {

namespace {

using nlohmann::json;
using Op = LabelRequirement::Op;

constexpr EnumName<Op> kOps[] = {
    {"In", Op::kIn},
    {"NotIn", Op::kNotIn},
    {"Exists", Op::kExists},
    {"DoesNotExist", Op::kDoesNotExist},
};

std::string indexed(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

RE2::Options quiet() {
  RE2::Options opts;
  opts.set_log_errors(false);
  return opts;
}

Result<LabelRequirement> parse_requirement(const json& v, const std::string& path) {
  ESD_ASSIGN_OR_RETURN(f, Fields::of(v, path));
  LabelRequirement r;
  ESD_ASSIGN_OR_RETURN(key, f.str("key"));
  if (key.empty()) return field_error(f.at("key"), "required");
  r.key = std::move(key);
  ESD_ASSIGN_OR_RETURN(op_name, f.str("operator"));
  if (op_name.empty()) return field_error(f.at("operator"), "required");
  ESD_ASSIGN_OR_RETURN(op, parse_enum(f, "operator", kOps, Op::kIn));
  r.op = op;
  ESD_ASSIGN_OR_RETURN(values, f.string_list("values"));
  r.values = std::move(values);
  const bool needs_values = op == Op::kIn || op == Op::kNotIn;
  if (needs_values && r.values.empty()) {
    return field_error(f.at("values"), "must be specified when operator is In or NotIn");
  }
  if (!needs_values && !r.values.empty()) {
    return field_error(f.at("values"),
                       "may not be specified when operator is Exists or DoesNotExist");
  }
  return r;
}

Status parse_selector(const Fields& sel, NamespaceCondition& c) {
  c.has_selector = sel.present();
  ESD_ASSIGN_OR_RETURN(labels, sel.string_map("matchLabels"));
  c.match_labels = std::move(labels);
  ESD_ASSIGN_OR_RETURN(exprs, sel.array("matchExpressions"));
  for (size_t i = 0; exprs != nullptr && i < exprs->size(); ++i) {
    ESD_ASSIGN_OR_RETURN(r, parse_requirement((*exprs)[i], indexed(sel.at("matchExpressions"), i)));
    c.match_expressions.push_back(std::move(r));
  }
  return ok_status();
}

Result<NamespaceCondition> parse_condition(const json& v, const std::string& path) {
  ESD_ASSIGN_OR_RETURN(f, Fields::of(v, path));
  NamespaceCondition c;
  ESD_ASSIGN_OR_RETURN(sel, f.object("namespaceSelector"));
  ESD_RETURN_IF_ERROR(parse_selector(sel, c));
  ESD_ASSIGN_OR_RETURN(namespaces, f.string_list("namespaces"));
  c.namespaces = std::move(namespaces);
  ESD_ASSIGN_OR_RETURN(regexes, f.string_list("namespaceRegexes"));
  for (size_t i = 0; i < regexes.size(); ++i) {
    const RE2 re(regexes[i], quiet());
    if (!re.ok()) {
      return field_error(indexed(f.at("namespaceRegexes"), i), "invalid regexp: " + re.error());
    }
  }
  c.namespace_regexes = std::move(regexes);
  return c;
}

// spec.refreshInterval: int-or-string (integer seconds, or a Go duration string).
Result<std::optional<int64_t>> parse_store_refresh(const Fields& spec) {
  const json* v = spec.raw("refreshInterval");
  if (v == nullptr) return std::optional<int64_t>();
  const std::string path = spec.at("refreshInterval");
  if (v->is_number_unsigned()) {
    if (v->get<uint64_t>() > uint64_t{INT64_MAX} / 1000) return field_error(path, "too large");
    return std::optional<int64_t>(v->get<int64_t>() * 1000);
  }
  if (v->is_number_integer()) return field_error(path, "must not be negative");
  if (!v->is_string()) return field_error(path, "expected integer seconds or a duration string");
  auto ms = parse_go_duration(v->get<std::string>());
  if (!ms) return field_error(path, ms.error().message);
  return std::optional<int64_t>(*ms);
}

Status parse_provider(const Fields& spec, StoreSpec& out) {
  const json* provider = spec.raw("provider");
  if (provider == nullptr || !provider->is_object() || provider->size() != 1) {
    return field_error(spec.at("provider"), "must name exactly one provider");
  }
  const auto it = provider->begin();
  if (!it.value().is_object()) {
    return field_error(spec.at("provider") + "." + it.key(), "expected an object");
  }
  out.provider = it.key();
  out.provider_spec = it.value();
  // spec.retrySettings belongs to the store but is honoured by the provider: hand it over
  // inside the provider's own spec (providers see nothing else of the store).
  const json* retry = spec.raw("retrySettings");
  if (retry != nullptr && retry->is_object() && !out.provider_spec.contains("retrySettings")) {
    out.provider_spec["retrySettings"] = *retry;
  }
  return ok_status();
}

bool selector_matches(const NamespaceCondition& c,
                      const std::map<std::string, std::string>& labels) {
  for (const auto& [key, value] : c.match_labels) {
    const auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  for (const LabelRequirement& r : c.match_expressions) {
    const auto it = labels.find(r.key);
    const bool exists = it != labels.end();
    const bool listed =
        exists && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    const bool ok = r.op == Op::kIn       ? listed
                    : r.op == Op::kNotIn  ? !listed
                    : r.op == Op::kExists ? exists
                                          : !exists;
    if (!ok) return false;
  }
  return true;
}

bool condition_matches(const NamespaceCondition& c, const std::string& ns,
                       const std::map<std::string, std::string>& ns_labels) {
  const bool has_selector =
      c.has_selector || !c.match_labels.empty() || !c.match_expressions.empty();
  if (has_selector && selector_matches(c, ns_labels)) return true;
  // ESO matches `namespaces` through the kubernetes.io/metadata.name label, which is the name.
  if (std::find(c.namespaces.begin(), c.namespaces.end(), ns) != c.namespaces.end()) return true;
  for (const std::string& pattern : c.namespace_regexes) {
    const RE2 re(pattern, quiet());
    if (re.ok() && RE2::PartialMatch(ns, re)) return true;
  }
  return false;
}

}  // namespace

Result<StoreSpec> parse_store(const json& store) {
  if (!store.is_object()) return field_error("", "expected a store object");
  const ObjectMeta meta = parse_meta(store);
  StoreSpec out;
  out.ns = meta.ns;
  out.name = meta.name;
  const Fields root(&store, "");
  ESD_ASSIGN_OR_RETURN(kind, root.str("kind"));
  out.kind = !kind.empty() ? kind : meta.ns.empty() ? "ClusterSecretStore" : "SecretStore";
  ESD_ASSIGN_OR_RETURN(spec, root.object("spec"));
  ESD_RETURN_IF_ERROR(parse_provider(spec, out));
  ESD_ASSIGN_OR_RETURN(controller, spec.str("controller"));
  out.controller = std::move(controller);
  ESD_ASSIGN_OR_RETURN(refresh, parse_store_refresh(spec));
  out.refresh_ms = refresh;
  if (out.kind == "ClusterSecretStore") {
    ESD_ASSIGN_OR_RETURN(conditions, spec.array("conditions"));
    for (size_t i = 0; conditions != nullptr && i < conditions->size(); ++i) {
      ESD_ASSIGN_OR_RETURN(c, parse_condition((*conditions)[i], indexed(spec.at("conditions"), i)));
      out.conditions.push_back(std::move(c));
    }
  }
  const json* spec_json = root.raw("spec");
  out.fingerprint = sha256_hex(spec_json->dump(-1, ' ', false, json::error_handler_t::replace));
  return out;
}

bool store_allows_namespace(const StoreSpec& store, const std::string& ns,
                            const std::map<std::string, std::string>& ns_labels) {
  if (store.conditions.empty()) return true;
  for (const NamespaceCondition& c : store.conditions) {
    if (condition_matches(c, ns, ns_labels)) return true;
  }
  return false;
}

}  // namespace esd::controller
