#include "daemon/controller/fetch.h"

#include <map>

#include "daemon/controller/shaping.h"
#include "daemon/loop/deferrer.h"

namespace esd::controller {
namespace {

using providers::Fetched;

// Shared state of one fetch: results are collected by index, then assembled in spec order.
struct FetchJob {
  EsSpec spec;
  std::function<void(Result<FetchOutcome>)> done;
  std::vector<std::optional<Result<Fetched>>> data_results;
  std::vector<std::optional<Result<SecretMap>>> from_results;
  std::vector<ClientRef> clients;  // keep clients alive until the job completes
  int pending = 0;
  std::optional<Error> setup_error;
  bool finished = false;
  Deferrer* deferrer = nullptr;
};

std::string from_where(size_t i, const DataFromItem& item) {
  return "spec.dataFrom[" + std::to_string(i) + "]." +
         (item.kind == DataFromItem::Kind::kExtract ? "extract" : "find");
}

Error wrap(const std::string& where, const Error& e) {
  Error out(e.code, "error processing " + where + ", err: " + e.message, e.native);
  out.retry_after_ms = e.retry_after_ms;
  return out;
}

Result<SecretMap> shape_from(const DataFromItem& item, SecretMap m) {
  Result<SecretMap> r = item.rewrites.empty() ? convert_keys(std::move(m), item.conversion)
                                              : rewrite_keys(std::move(m), item.rewrites);
  if (!r) return r;
  r = validate_keys(std::move(*r));
  if (!r) return r;
  r = decode_map(std::move(*r), item.decoding);
  if (!r) return r;
  if (auto s = check_null_bytes(*r, item.null_bytes); !s) return s.error();
  return r;
}

bool skips_missing(DeletionPolicy p) { return p != DeletionPolicy::kRetain; }

// Applies one source's result; returns an error that fails the whole sync.
Status apply_from(FetchJob& job, size_t i, FetchOutcome& out) {
  const auto& item = job.spec.data_from[i];
  auto& res = *job.from_results[i];
  const std::string where = from_where(i, item);
  if (!res) {
    if (res.error().code == ErrorCode::kNotFound && skips_missing(job.spec.deletion)) {
      out.missing.push_back("secret does not exist at provider using spec.dataFrom[" +
                            std::to_string(i) + "]");
      return {};
    }
    return wrap(where, res.error());
  }
  auto shaped = shape_from(item, std::move(*res));
  if (!shaped) return wrap(where, shaped.error());
  ++out.sources_found;
  for (auto& [k, v] : *shaped) out.data.insert_or_assign(k, std::move(v));
  return {};
}

Status apply_data(FetchJob& job, size_t i, FetchOutcome& out) {
  const auto& item = job.spec.data[i];
  auto& res = *job.data_results[i];
  const std::string where =
      "spec.data[" + std::to_string(i) + "] (key: " + item.ref.key + ")";
  if (!res) {
    if (res.error().code == ErrorCode::kNotFound && skips_missing(job.spec.deletion)) {
      out.missing.push_back("secret does not exist at provider using spec.data[" +
                            std::to_string(i) + "] (key=" + item.ref.key + ")");
      return {};
    }
    return wrap(where, res.error());
  }
  auto value = decode_value(res->value, item.decoding);
  if (!value) return wrap(where, value.error());
  if (auto s = check_null_bytes(item.secret_key, *value, item.null_bytes); !s) {
    return wrap(where, s.error());
  }
  ++out.sources_found;
  if (!res->version.empty()) out.versions.push_back({item.secret_key, res->version});
  out.data.insert_or_assign(item.secret_key, std::move(*value));
  return {};
}

void finish(const std::shared_ptr<FetchJob>& job) {
  if (job->finished || job->pending > 0) return;
  job->finished = true;
  FetchOutcome out;
  Status status;
  for (size_t i = 0; i < job->spec.data_from.size() && status; ++i) status = apply_from(*job, i, out);
  for (size_t i = 0; i < job->spec.data.size() && status; ++i) status = apply_data(*job, i, out);
  // Clients are released on a later turn: the last reference may be held by a provider whose
  // method is still on the stack.
  job->deferrer->post([clients = std::move(job->clients)]() mutable { clients.clear(); });
  auto done = std::move(job->done);
  if (!status) {
    done(status.error());
  } else {
    done(std::move(out));
  }
}

void start_data(const std::shared_ptr<FetchJob>& job, const ClientLookup& lookup) {
  // Group data[] items by store so that each store gets one batch call.
  std::map<std::pair<std::string, std::string>, std::vector<size_t>> by_store;
  for (size_t i = 0; i < job->spec.data.size(); ++i) {
    const StoreRef& s = job->spec.data[i].store.value_or(job->spec.store);
    by_store[{s.kind, s.name}].push_back(i);
  }
  for (auto& [key, idx] : by_store) {
    StoreRef ref{key.second, key.first};
    auto client = lookup(ref);
    if (!client) {
      for (size_t i : idx) job->data_results[i] = Result<Fetched>(client.error());
      continue;
    }
    job->clients.push_back(*client);
    std::vector<providers::RemoteRef> refs;
    for (size_t i : idx) refs.push_back(job->spec.data[i].ref);
    ++job->pending;
    (*client)->get_secrets(std::move(refs), [job, idx](std::vector<Result<Fetched>> results) {
      for (size_t n = 0; n < idx.size(); ++n) {
        job->data_results[idx[n]] =
            n < results.size() ? std::move(results[n])
                               : Result<Fetched>(Error(ErrorCode::kInternal, "provider returned too few results"));
      }
      --job->pending;
      finish(job);
    });
  }
}

void start_from(const std::shared_ptr<FetchJob>& job, const ClientLookup& lookup) {
  for (size_t i = 0; i < job->spec.data_from.size(); ++i) {
    const auto& item = job->spec.data_from[i];
    auto client = lookup(item.store.value_or(job->spec.store));
    if (!client) {
      job->from_results[i] = Result<SecretMap>(client.error());
      continue;
    }
    job->clients.push_back(*client);
    ++job->pending;
    auto cb = [job, i](Result<SecretMap> r) {
      job->from_results[i] = std::move(r);
      --job->pending;
      finish(job);
    };
    if (item.kind == DataFromItem::Kind::kExtract) {
      (*client)->get_secret_map(item.extract, std::move(cb));
    } else {
      (*client)->get_all_secrets(item.find, std::move(cb));
    }
  }
}

}  // namespace

void fetch_all(const EsSpec& spec, const ClientLookup& lookup, Deferrer& deferrer,
               int64_t max_age_ms, std::function<void(Result<FetchOutcome>)> done) {
  auto job = std::make_shared<FetchJob>();
  job->spec = spec;
  for (auto& d : job->spec.data) d.ref.max_age_ms = max_age_ms;
  for (auto& f : job->spec.data_from) f.extract.max_age_ms = max_age_ms;
  job->done = std::move(done);
  job->data_results.resize(spec.data.size());
  job->from_results.resize(spec.data_from.size());
  job->deferrer = &deferrer;
  ++job->pending;  // held while starting, so no callback can finish the job early
  start_from(job, lookup);
  start_data(job, lookup);
  // Whatever happened above, complete on a later loop turn, never from inside this call.
  deferrer.post([job] {
    --job->pending;
    finish(job);
  });
}

}  // namespace esd::controller
