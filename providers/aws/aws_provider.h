// The AWS provider's registry entry (spec.provider.aws, eso-api.md §3.1): a stateless factory
// that validates the store spec and creates Secrets Manager clients (Parameter Store is not
// supported yet). Lives for the whole process.
#pragma once

#include "providers/provider.h"

namespace esd::providers::aws {

const Provider& provider();

}  // namespace esd::providers::aws
