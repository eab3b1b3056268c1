// The fake provider (spec.provider.fake): static key/value data from the store spec, as ESO's
// fake provider (eso-api.md §3.8). Used by tests, examples and e2e. The client holds a parsed
// copy of the data (a store change means a new client). Every result is delivered through the
// context's Deferrer on a later loop turn; after close() (or destruction) nothing is delivered.
#pragma once

#include "providers/provider.h"

namespace esd::providers::fake {

// The registry entry's accessor; the instance is stateless and lives for the whole process.
const Provider& provider();

}  // namespace esd::providers::fake
