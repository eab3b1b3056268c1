#include "providers/fake/fake_provider.h"

#include <re2/re2.h>

#include <map>
#include <memory>
#include <utility>

#include "daemon/loop/deferrer.h"
#include "providers/json_path.h"

namespace esd::providers::fake {
namespace {

using nlohmann::json;

constexpr int kValidationReady = 0;
constexpr int kValidationUnknown = 1;
constexpr int kValidationError = 2;

struct Entry {
  std::string key;
  std::string version;
  Sensitive value;
};

// Keyed like ESO's config map: key + version concatenated (so "ab"+"" and "a"+"b" collide, and
// the later entry wins, exactly as in ESO).
using Config = std::map<std::string, Entry>;

struct ParsedSpec {
  Config config;
  int validation_result = kValidationReady;
};

Error invalid(std::string msg) { return Error(ErrorCode::kInvalidConfig, std::move(msg)); }

std::string string_field(const json& obj, const char* name) {
  const auto it = obj.find(name);
  if (it == obj.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

Status check_entry(const json& item, size_t pos) {
  const std::string at = std::to_string(pos);
  if (!item.is_object()) return invalid("data " + at + " must be an object");
  for (const char* f : {"key", "value", "version"}) {
    const auto it = item.find(f);
    if (it != item.end() && !it->is_string() && !it->is_null()) {
      return invalid(std::string(f) + " must be a string in data " + at);
    }
  }
  if (string_field(item, "key").empty()) return invalid("key must be set in data " + at);
  if (string_field(item, "value").empty()) {
    return invalid("at least one value must be set in data " + at);
  }
  return ok_status();
}

Result<int> parse_validation_result(const json& spec) {
  const auto it = spec.find("validationResult");
  if (it == spec.end() || it->is_null()) return kValidationReady;
  if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 2) {
    return invalid("validationResult must be 0 (Ready), 1 (Unknown) or 2 (Error)");
  }
  return static_cast<int>(it->get<int64_t>());
}

Result<ParsedSpec> parse_spec(const json& spec) {
  ParsedSpec out;
  if (spec.is_null()) return out;
  if (!spec.is_object()) return invalid("spec.provider.fake must be an object");
  auto vr = parse_validation_result(spec);
  if (!vr) return std::move(vr).error();
  out.validation_result = *vr;
  const auto data = spec.find("data");
  if (data == spec.end() || data->is_null()) return out;
  if (!data->is_array()) return invalid("spec.provider.fake.data must be a list");
  for (size_t i = 0; i < data->size(); ++i) {
    const json& item = (*data)[i];
    ESD_RETURN_IF_ERROR(check_entry(item, i));
    Entry e{string_field(item, "key"), string_field(item, "version"),
            Sensitive(string_field(item, "value"))};
    std::string map_key = e.key + e.version;
    out.config.insert_or_assign(std::move(map_key), std::move(e));
  }
  return out;
}

Error no_secret() { return Error(ErrorCode::kNotFound, "Secret does not exist"); }

// ESO's GetSecret: exact key+version lookup, then the optional gjson property.
Result<Fetched> lookup(const Config& config, const RemoteRef& ref) {
  if (ref.metadata_policy == MetadataPolicy::kFetch) {
    return Error(ErrorCode::kInvalidRef,
                 "metadataPolicy Fetch is not supported by the fake provider");
  }
  const auto it = config.find(ref.key + ref.version);
  if (it == config.end() || it->second.version != ref.version) return no_secret();
  if (ref.property.empty()) return Fetched{it->second.value.clone(), it->second.version};
  // ESO uses a plain gjson.Get here (no literal top-level key rule), and gjson finds nothing in a
  // value that is not JSON: NoSecretErr. Unsupported gjson syntax stays kInvalidRef.
  if (!json::accept(it->second.value.view())) return no_secret();
  auto prop = json_path_get(it->second.value.view(), ref.property);
  if (!prop) return std::move(prop).error();
  return Fetched{std::move(prop).value(), it->second.version};
}

Result<SecretMap> find_all(const Config& config, const FindRef& find) {
  if (!find.tags.empty()) {
    return Error(ErrorCode::kInvalidRef, "find by tags is not supported by the fake provider");
  }
  RE2::Options opts;
  opts.set_log_errors(false);
  const RE2 re(find.name_regexp, opts);
  if (!re.ok()) return Error(ErrorCode::kInvalidRef, "invalid find.name.regexp: " + re.error());
  std::map<std::string, const Entry*> latest;
  for (const auto& [map_key, e] : config) {
    if (!find.path.empty() && e.key.compare(0, find.path.size(), find.path) != 0) continue;
    if (!find.name_regexp.empty() && !RE2::PartialMatch(e.key, re)) continue;
    auto [it, inserted] = latest.emplace(e.key, &e);
    if (!inserted && it->second->version < e.version) it->second = &e;
  }
  SecretMap out;
  for (const auto& [k, e] : latest) out.emplace(k, e->value.clone());
  return out;
}

// What the posted callbacks share with the client: they run only while `alive`.
struct State {
  Config config;
  bool alive = true;
};

class FakeClient final : public SecretClient {
 public:
  FakeClient(Config config, int validation_result, Deferrer* deferrer)
      : state_(std::make_shared<State>(State{std::move(config), true})),
        validation_result_(validation_result),
        deferrer_(deferrer) {}
  ~FakeClient() override { close(); }

  void get_secrets(std::vector<RemoteRef> refs, GetDone done) override {
    if (!state_->alive) return;
    deferrer_->post([state = state_, refs = std::move(refs), done = std::move(done)] {
      if (!state->alive) return;
      std::vector<Result<Fetched>> results;
      results.reserve(refs.size());
      for (const auto& ref : refs) results.push_back(lookup(state->config, ref));
      done(std::move(results));
    });
  }

  void get_secret_map(RemoteRef ref, MapDone done) override {
    if (!state_->alive) return;
    deferrer_->post([state = state_, ref = std::move(ref), done = std::move(done)] {
      if (!state->alive) return;
      auto value = lookup(state->config, ref);
      if (!value) return done(std::move(value).error());
      done(json_to_secret_map(value->value.view()));
    });
  }

  void get_all_secrets(FindRef find, MapDone done) override {
    if (!state_->alive) return;
    deferrer_->post([state = state_, find = std::move(find), done = std::move(done)] {
      if (!state->alive) return;
      done(find_all(state->config, find));
    });
  }

  // validationResult forces the answer, as in ESO: 0 Ready, 1 Unknown, 2 Error.
  void validate(std::function<void(Result<bool>)> done) override {
    if (!state_->alive) return;
    deferrer_->post([state = state_, result = validation_result_, done = std::move(done)] {
      if (!state->alive) return;
      if (result == kValidationError) return done(invalid("unable to validate"));
      done(result != kValidationUnknown);
    });
  }

  void close() override { state_->alive = false; }

 private:
  std::shared_ptr<State> state_;
  int validation_result_;
  Deferrer* deferrer_;
};

class FakeProvider final : public Provider {
 public:
  std::string_view name() const override { return "fake"; }

  // ESO's admission check; validationResult is answered by the client's validate().
  Status validate(const json& provider_spec) const override {
    auto parsed = parse_spec(provider_spec);
    if (!parsed) return std::move(parsed).error();
    return ok_status();
  }

  Result<std::unique_ptr<SecretClient>> create(const json& provider_spec,
                                               ProviderContext ctx) const override {
    if (ctx.deferrer == nullptr) {
      return Error(ErrorCode::kInternal, "fake provider needs a deferrer");
    }
    auto parsed = parse_spec(provider_spec);
    if (!parsed) return std::move(parsed).error();
    return std::unique_ptr<SecretClient>(
        std::make_unique<FakeClient>(std::move(parsed->config), parsed->validation_result,
                                     ctx.deferrer));
  }
};

}  // namespace

const Provider& provider() {
  static const FakeProvider instance;
  return instance;
}

}  // namespace esd::providers::fake
