#include "core/version.h"

namespace fraudops {

std::string_view CodeVersion() { return FRAUDOPS_VERSION; }

}  // namespace fraudops
