#pragma once
/// Time-ordered identifiers: UUIDv7 (RFC 9562), 48-bit Unix milliseconds then randomness,
/// so execution ids sort by creation time as text.

#include <cstdint>
#include <random>
#include <string>

namespace fraudops {

/// A UUIDv7 for `unix_millis`, with random bits drawn from `random`.
std::string MakeUuidV7(uint64_t unix_millis, std::mt19937_64& random);
/// A UUIDv7 for now, with random bits from the operating system.
std::string NewUuidV7();
/// `chars` characters of [0-9A-Za-z] from the operating system's secure random source
/// (getrandom), for secrets such as API keys.
std::string SecureRandomToken(size_t chars);

}  // namespace fraudops
