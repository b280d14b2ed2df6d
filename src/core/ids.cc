#include "core/ids.h"

#include <sys/random.h>

#include <cerrno>
#include <chrono>
#include <mutex>

namespace fraudops {

namespace {

/// 8-4-4-4-12 lowercase hex digits of the 128 bits `high`:`low` (request ids are made per
/// request, so no printf).
std::string FormatUuid(uint64_t high, uint64_t low) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text(36, '-');
  size_t at = 0;
  for (int nibble = 0; nibble < 32; ++nibble) {
    if (at == 8 || at == 13 || at == 18 || at == 23) ++at;
    const uint64_t word = nibble < 16 ? high : low;
    text[at++] = kHex[(word >> (60 - 4 * (nibble % 16))) & 15];
  }
  return text;
}

}  // namespace

std::string MakeUuidV7(uint64_t unix_millis, std::mt19937_64& random) {
  uint64_t high = (unix_millis & 0xFFFFFFFFFFFFULL) << 16;
  high |= 0x7000 | (random() & 0x0FFF);                              // version 7, rand_a
  uint64_t low = (random() & 0x3FFFFFFFFFFFFFFFULL) | (1ULL << 63);  // variant 10, rand_b
  return FormatUuid(high, low);
}

std::string NewUuidV7() {
  // Monotonic within the process (RFC 9562, method 1): ids made in the same millisecond
  // count up in the 12-bit rand_a field, so ORDER BY id is creation order.
  static std::mutex mutex;
  static uint64_t last_millis = 0;
  static uint64_t counter = 0;
  static std::mt19937_64 random([] {
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device();
  }());
  std::lock_guard lock(mutex);
  auto now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
  if (now > last_millis) {
    last_millis = now;
    counter = random() & 0x7FF;  // leaves room to count up
  } else if (++counter > 0xFFF) {
    ++last_millis;
    counter = 0;
  }
  uint64_t high = ((last_millis & 0xFFFFFFFFFFFFULL) << 16) | 0x7000 | counter;
  uint64_t low = (random() & 0x3FFFFFFFFFFFFFFFULL) | (1ULL << 63);
  return FormatUuid(high, low);
}

std::string SecureRandomToken(size_t chars) {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string token;
  token.reserve(chars);
  unsigned char bytes[64];
  while (token.size() < chars) {
    ssize_t got = getrandom(bytes, sizeof bytes, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      std::random_device device;  // getrandom is missing only on very old kernels
      for (auto& b : bytes) b = static_cast<unsigned char>(device());
      got = sizeof bytes;
    }
    for (ssize_t i = 0; i < got && token.size() < chars; ++i) {
      if (bytes[i] < 248) token.push_back(kAlphabet[bytes[i] % 62]);  // 248 = 4 * 62: unbiased
    }
  }
  return token;
}

}  // namespace fraudops
