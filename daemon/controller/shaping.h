// ESO's per-source value pipeline (eso-api §1.2) as pure functions on SecretMap / Sensitive:
// decoding, key conversion, regexp rewrites, key validation, NUL checks and JSON explosion.
// No state, no I/O; any thread. Error messages are ESO's texts (minus the "error processing
// spec.data[i]" prefix the reconciler adds); they may name keys but never contain values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "daemon/common/result.h"
#include "daemon/common/sensitive.h"
#include "daemon/controller/es_spec.h"

namespace esd::controller {

// ESO's spelling of the strategies ("None", "Base64", "Base64URL", "Auto"; "Default", "Unicode").
std::string_view decoding_name(Decoding decoding);
std::string_view conversion_name(Conversion conversion);

// decodingStrategy: Base64 = Go's base64.StdEncoding (padded; '\r' and '\n' ignored), Base64URL =
// base64.URLEncoding (padded too), Auto = Std, else URL, else the value unchanged (ESO quirk:
// "test" is valid base64 and gets decoded). kInvalidRef "error applying decoding strategy
// Base64 to data: ...".
Result<Sensitive> decode_value(const Sensitive& value, Decoding decoding);
// Every value; the error names the key ("... failure decoding key K: ...").
Result<SecretMap> decode_map(SecretMap in, Decoding decoding);

// conversionStrategy on one key: each rune (UTF-8; an invalid byte counts as U+FFFD, as in Go)
// that is not a Unicode letter (\p{L}), number (\p{N}), '-', '.' or '_' becomes "_" (Default)
// or "_U%04x_" (Unicode: '/' → "_U002f_").
std::string convert_key(std::string_view key, Conversion conversion);
// All keys; two keys converting to the same name are an error (kInvalidRef
// "... secret name collision during conversion: <converted key>").
Result<SecretMap> convert_keys(SecretMap in, Conversion conversion);

// Go's regexp.ReplaceAllString(src, target): every non-overlapping match (empty matches right
// after a previous match are skipped) is replaced by target with Go's Expand rules: $1, ${1},
// $name, ${name}; $$ is '$'; a name is the longest run of letters, digits and '_' (so "$1x" is
// group "1x", i.e. empty); unknown groups expand to ""; a '$' not followed by a name is literal.
// kInvalidConfig if the pattern does not compile (RE2, which is Go's syntax).
Result<std::string> regexp_replace_all(std::string_view pattern, std::string_view src,
                                       std::string_view target);
// dataFrom[].rewrite[] applied in order to the key names. When two keys rewrite to the same
// name the later one (in key order) wins; ESO's Go map makes that case random.
Result<SecretMap> rewrite_keys(SecretMap in, const std::vector<Rewrite>& rewrites);

// ValidateKeys: empty keys are dropped silently; a key over 253 bytes or with a character
// outside [-._a-zA-Z0-9] is an error (kInvalidRef "invalid secret keys (TIP: use rewrite or
// conversionStrategy to change keys): key has invalid character ..."). Stricter than ESO, which
// lets Unicode letters through here and then fails at the API server (same outcome, earlier).
Result<SecretMap> validate_keys(SecretMap in);

// nullBytePolicy=Fail rejects values that contain a NUL byte (kInvalidRef, ESO's message naming
// the key). The map variant checks keys in sorted order, as ESO does.
Status check_null_bytes(std::string_view key, const Sensitive& value, NullBytePolicy policy);
Status check_null_bytes(const SecretMap& values, NullBytePolicy policy);

// Go's JSONToSecretDataMap, see providers::json_to_secret_map (this just forwards to it).
Result<SecretMap> json_to_map(const Sensitive& json_text);

// The whole chain for one source, in ESO's order.
// data[i]:     decode(decoding) → NUL check (named by secretKey).
Result<Sensitive> shape_data_value(Sensitive value, const DataItem& item);
// dataFrom[i]: rewrite[] (or, without rewrites, convert_keys) → validate_keys → decode_map →
// NUL check.
Result<SecretMap> shape_data_from(SecretMap in, const DataFromItem& item);

}  // namespace esd::controller
