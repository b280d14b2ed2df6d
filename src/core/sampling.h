#pragma once
/// Taking a sample of rows that keeps their order and spread: the middle row of each of
/// `most` equal strides (the drift baseline's and validation's samples, TreeSHAP's summary,
/// the flip test).

#include <cstddef>
#include <vector>

namespace fraudops {

/// Indices of at most `most` of `n` rows, evenly spaced and ascending; all of them (0 … n−1)
/// when n ≤ most.
inline std::vector<size_t> EvenlySpaced(size_t n, size_t most) {
  const size_t take = n < most ? n : most;
  std::vector<size_t> out(take);
  for (size_t i = 0; i < take; ++i) out[i] = (2 * i + 1) * n / (2 * take);
  return out;
}

}  // namespace fraudops
