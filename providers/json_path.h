// Reading JSON secret values the way ESO's providers do: gjson-style `property` lookup and the
// JSON-object-to-key/value explosion of dataFrom.extract. Pure functions, no state, any thread.
// Non-string results keep their raw JSON text exactly as it appears in the input (gjson's Raw,
// Go's json.RawMessage), so bytes match ESO. Error messages name properties, never values.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "daemon/common/result.h"
#include "daemon/common/sensitive.h"

namespace esd::providers {

// ESO's usual `remoteRef.property` rule: if the document is an object with a top-level key equal
// to the whole property (dots included), that member is the result; otherwise the property is a
// gjson path (see json_path_get). kNotFound "property <p> not found" when nothing matches;
// kInvalidRef when the value is not valid JSON or the path uses gjson syntax we do not support.
// Providers map these codes to their own ESO behaviour (fake: kNotFound; AWS: an error).
Result<Sensitive> json_property(std::string_view json_text, std::string_view property);

// A plain gjson path: segments separated by '.', '\' escapes the next character (so "a\.b" is
// the key "a.b"), '*' and '?' are wildcards in object keys (first match in document order), a
// number indexes an array, '#' is an array's length and "#.rest" collects rest from every
// element into a JSON array. Not supported (kInvalidRef): queries "#(...)", modifiers "@x",
// pipes '|', multipaths "[..]"/"{..}". The result is converted like gjson's Result.String():
// strings unquoted, true/false, null → "", integers verbatim, other numbers as Go's
// strconv.FormatFloat(f, 'f', -1, 64), objects and arrays as their raw text.
Result<Sensitive> json_path_get(std::string_view json_text, std::string_view path);

// Go's JSONToSecretDataMap (map[string]json.RawMessage): the top level must be an object (JSON
// null gives an empty map); string values are unquoted, null becomes "" (Go leaves the string
// untouched), anything else keeps its raw text (5432, true, {"a": 1} with its original spacing).
// Duplicate keys: the last one wins, as in Go. kInvalidRef "unable to unmarshal secret" otherwise.
Result<SecretMap> json_to_secret_map(std::string_view json_text);

// A value already parsed by nlohmann, as ESO's GetByteValue turns it into bytes: strings as is,
// null → "", booleans "true"/"false", integers in decimal, floats like Go's FormatFloat 'f' -1,
// objects and arrays as compact JSON with sorted keys and Go's HTML escaping (<, >, & and
// U+2028/U+2029 become \uXXXX), like json.Marshal. kInvalidRef for binary or discarded values.
Result<std::string> json_value_to_string(const nlohmann::json& value);

// Go's strconv.FormatFloat(d, 'f', -1, 64): shortest round-trip digits, never an exponent.
std::string go_format_float(double d);

}  // namespace esd::providers
