#include "daemon/common/result.h"

namespace esd {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kNotFound: return "NotFound";
    case ErrorCode::kAuth: return "Auth";
    case ErrorCode::kPermission: return "Permission";
    case ErrorCode::kRateLimited: return "RateLimited";
    case ErrorCode::kTransient: return "Transient";
    case ErrorCode::kInvalidRef: return "InvalidRef";
    case ErrorCode::kInvalidConfig: return "InvalidConfig";
    case ErrorCode::kConflict: return "Conflict";
    case ErrorCode::kGone: return "Gone";
    case ErrorCode::kTooLarge: return "TooLarge";
    case ErrorCode::kCancelled: return "Cancelled";
    case ErrorCode::kInternal: return "Internal";
  }
  return "Unknown";
}

}  // namespace esd
