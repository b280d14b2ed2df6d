#pragma once
/// SHA-256 (OpenSSL): incremental hasher and one-shot helpers; digests as lowercase hex.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace fraudops {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  void Update(std::string_view text) { Update(text.data(), text.size()); }
  /// Finishes the digest; the hasher must not be updated afterwards.
  std::string HexDigest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string Sha256Hex(std::string_view data);
/// SHA-1, only where a protocol names it (Redis script ids); never for integrity.
std::string Sha1Hex(std::string_view data);
/// Streams the file through SHA-256.
Result<std::string> Sha256File(const std::string& path);

}  // namespace fraudops
