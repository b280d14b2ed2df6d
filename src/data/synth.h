#pragma once
/// The built-in synthetic transaction dataset: the reference dataset's exact schema and text
/// form (Time, V1..V28, Amount, Class), deterministic by seed for any thread count.
/// How it is generated: docs/synthetic-data.md.

#include <cstdint>
#include <string>

#include "core/status.h"
#include "data/dataset.h"

namespace fraudops {

class ThreadPool;

struct SynthOptions {
  size_t rows = 284807;
  uint64_t seed = 42;
  double fraud_rate = 0.001727;
  /// > 0: each transaction also gets a `card_id` ("card-000042", after Amount) among this
  /// many cards; frauds come in bursts on compromised cards (docs/synthetic-data.md,
  /// "Cards"), so a card's recent activity tells. 0: the reference schema, unchanged.
  size_t cards = 0;
};

/// Generates the transactions, sorted by Time like the reference file. Every value is the
/// one its CSV text (WriteSyntheticCsv) reads back as, so the in-memory dataset and its CSV
/// have the same content hash.
Result<Dataset> GenerateTransactions(const SynthOptions& options, ThreadPool* pool);

/// Generates the same transactions and writes them in the reference file's text form:
/// quoted header, numbers with up to 15 significant digits, Class quoted. Atomic.
Status WriteSyntheticCsv(const SynthOptions& options, const std::string& path, ThreadPool* pool);

}  // namespace fraudops
