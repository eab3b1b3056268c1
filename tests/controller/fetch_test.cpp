#include <catch2/catch.hpp>

#include "daemon/controller/fetch.h"
#include "daemon/loop/deferrer.h"
#include "providers/fake/fake_provider.h"
#include "support/loop_runner.h"

using namespace esd;
using namespace esd::controller;
using nlohmann::json;

namespace {

// A fake store client behind ClientLookup, and a helper that runs one fetch to completion.
struct Fixture {
  test::TestLoop loop;
  Deferrer deferrer{loop.get()};
  ClientRef client;
  int lookups = 0;

  explicit Fixture(const json& store_data) {
    providers::ProviderContext ctx;
    ctx.loop = loop.get();
    ctx.deferrer = &deferrer;
    auto c = providers::fake::provider().create(json{{"data", store_data}}, ctx);
    REQUIRE(c);
    client = ClientRef(std::move(*c));
  }

  Result<FetchOutcome> run(const EsSpec& spec, int64_t max_age_ms = 0) {
    std::optional<Result<FetchOutcome>> got;
    bool synchronous = true;
    ClientLookup lookup = [this](const StoreRef& ref) -> Result<ClientRef> {
      ++lookups;
      if (ref.name == "missing") return Error(ErrorCode::kInvalidConfig, "could not get store");
      return client;
    };
    fetch_all(spec, lookup, deferrer, max_age_ms, [&](Result<FetchOutcome> r) { got = std::move(r); });
    synchronous = got.has_value();
    CHECK_FALSE(synchronous);  // never completes from inside fetch_all
    REQUIRE(test::run_until(loop.get(), [&] { return got.has_value(); }));
    return std::move(*got);
  }

  // Releases the client and the deferrer, drains the loop; 0 = every handle closed.
  int shutdown() {
    client.reset();
    deferrer.close();
    return loop.close();
  }
};

// Passes every call to the fake client and records the refs the controller sent.
class RecordingClient final : public providers::SecretClient {
 public:
  explicit RecordingClient(ClientRef inner) : inner_(std::move(inner)) {}
  void get_secrets(std::vector<providers::RemoteRef> refs, providers::GetDone done) override {
    for (const auto& r : refs) seen.push_back(r);
    inner_->get_secrets(std::move(refs), std::move(done));
  }
  void get_secret_map(providers::RemoteRef ref, providers::MapDone done) override {
    seen.push_back(ref);
    inner_->get_secret_map(std::move(ref), std::move(done));
  }
  void get_all_secrets(providers::FindRef find, providers::MapDone done) override {
    inner_->get_all_secrets(std::move(find), std::move(done));
  }
  void validate(std::function<void(Result<bool>)> done) override { inner_->validate(std::move(done)); }
  void close() override { inner_->close(); }
  std::vector<providers::RemoteRef> seen;

 private:
  ClientRef inner_;
};

DataItem item(const char* secret_key, const char* key, const char* property = "") {
  DataItem d;
  d.secret_key = secret_key;
  d.ref.key = key;
  d.ref.property = property;
  return d;
}

std::string value(const FetchOutcome& out, const std::string& k) {
  auto it = out.data.find(k);
  return it == out.data.end() ? "<absent>" : std::string(it->second.view());
}

const json kStore = json::array({{{"key", "/a"}, {"value", "va"}},
                                 {{"key", "/j"}, {"value", R"({"user":"u","port":5432})"}},
                                 {{"key", "/b64"}, {"value", "aGVsbG8="}}});

}  // namespace

TEST_CASE("fetch_all: data[] after dataFrom[], decoding and property", "[controller][fetch]") {
  Fixture fx(kStore);
  EsSpec spec;
  spec.store = {"s", "SecretStore"};
  DataFromItem from;
  from.extract.key = "/j";
  spec.data_from.push_back(from);
  spec.data.push_back(item("user", "/a"));  // overrides the extracted "user"
  spec.data.push_back(item("port", "/j", "port"));
  DataItem dec = item("decoded", "/b64");
  dec.decoding = Decoding::kBase64;
  spec.data.push_back(dec);
  auto r = fx.run(spec);
  REQUIRE(r);
  CHECK(value(*r, "user") == "va");
  CHECK(value(*r, "port") == "5432");
  CHECK(value(*r, "decoded") == "hello");
  CHECK(r->data.size() == 3);
  CHECK(fx.lookups == 2);  // one lookup for the dataFrom item, one batch for all data[] of the store
  CHECK(fx.shutdown() == 0);
}

TEST_CASE("fetch_all: a missing key fails the sync under Retain", "[controller][fetch]") {
  Fixture fx(kStore);
  EsSpec spec;
  spec.store = {"s", "SecretStore"};
  spec.data.push_back(item("a", "/a"));
  spec.data.push_back(item("gone", "/nope"));
  auto r = fx.run(spec);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kNotFound);
  CHECK(r.error().message.find("spec.data[1] (key: /nope)") != std::string::npos);
  CHECK(fx.shutdown() == 0);
}

TEST_CASE("fetch_all: Delete and Merge skip missing sources and say so", "[controller][fetch]") {
  Fixture fx(kStore);
  EsSpec spec;
  spec.store = {"s", "SecretStore"};
  spec.deletion = DeletionPolicy::kDelete;
  spec.data.push_back(item("a", "/a"));
  spec.data.push_back(item("gone", "/nope"));
  auto r = fx.run(spec);
  REQUIRE(r);
  CHECK(value(*r, "a") == "va");
  CHECK(r->data.count("gone") == 0);
  REQUIRE(r->missing.size() == 1);
  CHECK(r->missing[0] == "secret does not exist at provider using spec.data[1] (key=/nope)");
  CHECK(fx.shutdown() == 0);
}

TEST_CASE("fetch_all: a missing store is an error, never NotFound", "[controller][fetch]") {
  Fixture fx(kStore);
  EsSpec spec;
  spec.store = {"missing", "SecretStore"};
  spec.deletion = DeletionPolicy::kDelete;  // must not turn into "the secret is gone"
  spec.data.push_back(item("a", "/a"));
  auto r = fx.run(spec);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kInvalidConfig);
  CHECK(fx.shutdown() == 0);
}

TEST_CASE("fetch_all: invalid keys from extract fail with ESO's hint", "[controller][fetch]") {
  Fixture fx(json::array({{{"key", "/k"}, {"value", R"({"bad/key":"v"})"}}}));
  EsSpec spec;
  spec.store = {"s", "SecretStore"};
  DataFromItem from;
  from.extract.key = "/k";
  Rewrite keep_slash{"^(.*)$", "$1"};
  from.rewrites.push_back(keep_slash);  // a rewrite disables key conversion
  spec.data_from.push_back(from);
  auto r = fx.run(spec);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("invalid secret keys") != std::string::npos);
  spec.data_from[0].rewrites.clear();  // default conversion: '/' becomes '_'
  auto ok = fx.run(spec);
  REQUIRE(ok);
  CHECK(value(*ok, "bad_key") == "v");
  CHECK(fx.shutdown() == 0);
}

TEST_CASE("fetch_all: every data and extract ref carries the accepted value age", "[controller][fetch]") {
  Fixture fx(kStore);
  auto rec = std::make_shared<RecordingClient>(fx.client);
  fx.client = rec;
  EsSpec spec;
  spec.store = {"s", "SecretStore"};
  DataFromItem from;
  from.extract.key = "/j";
  spec.data_from.push_back(from);
  spec.data.push_back(item("a", "/a"));
  REQUIRE(fx.run(spec, 720'000));
  REQUIRE(rec->seen.size() == 2);
  for (const auto& r : rec->seen) CHECK(r.max_age_ms == 720'000);
  rec->seen.clear();
  REQUIRE(fx.run(spec, 0));
  REQUIRE(rec->seen.size() == 2);
  for (const auto& r : rec->seen) CHECK(r.max_age_ms == 0);
  rec.reset();
  CHECK(fx.shutdown() == 0);
}
