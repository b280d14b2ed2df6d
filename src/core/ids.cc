#include "core/ids.h"

#include <chrono>
#include <cstdio>

namespace fraudops {

std::string MakeUuidV7(uint64_t unix_millis, std::mt19937_64& random) {
  uint64_t high = (unix_millis & 0xFFFFFFFFFFFFULL) << 16;
  high |= 0x7000 | (random() & 0x0FFF);                       // version 7, rand_a
  uint64_t low = (random() & 0x3FFFFFFFFFFFFFFFULL) | (1ULL << 63);  // variant 10, rand_b
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(high >> 32), static_cast<unsigned>((high >> 16) & 0xFFFF),
                static_cast<unsigned>(high & 0xFFFF), static_cast<unsigned>(low >> 48),
                static_cast<unsigned long long>(low & 0xFFFFFFFFFFFFULL));
  return buffer;
}

std::string NewUuidV7() {
  std::random_device device;
  std::mt19937_64 random((static_cast<uint64_t>(device()) << 32) ^ device());
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  return MakeUuidV7(static_cast<uint64_t>(millis), random);
}

}  // namespace fraudops
