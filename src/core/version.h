#pragma once
/// The code version baked in at build time (`git describe`), recorded with every run.

#include <string_view>

namespace fraudops {

std::string_view CodeVersion();

}  // namespace fraudops
