#pragma once
/// Enrichment at scoring time (docs/features.md, "Serving"): a model trained on feature store
/// features is sent only the entity key(s) and the request's own fields; the scorer reads
/// each entity's record from the online store — one lookup per (group, entity) for a whole
/// batch, in one round trip — and computes the features at the request's moment with the
/// code the training set used.

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "features/feature_table.h"
#include "features/online_store.h"
#include "model/bundle.h"
#include "model/policy.h"

namespace fraudops {

class ThreadPool;

class FeatureEnricher {
 public:
  /// From a bundle's signature (input.feature_groups and the features marked `feature`);
  /// null when the model reads nothing from the store.
  static Result<std::unique_ptr<FeatureEnricher>> Create(const InputSignature& signature,
                                                         const FeatureEncoder& encoder);

  /// The request fields it reads per row: every group's entity columns, then the time field
  /// (input.feature_time).
  const std::vector<std::string>& fields() const { return fields_; }
  /// The groups it reads.
  std::vector<std::string> groups() const;

  /// Fills the store features of `rows` encoded rows (`values`, encoder.size() wide). Row r's
  /// fields are fields[r * stride + slots[i]] for fields()[i]. A row's moment is its time
  /// field, or `now` when it has none; a time that cannot be read is InvalidArgument. A store
  /// that cannot be read is an IoError.
  Status Enrich(OnlineStore& store, std::span<const PolicyInput> fields, size_t stride,
                std::span<const int> slots, size_t rows, double* values, EventTime now) const;

  /// The same from the offline store, as of each row's moment (batch scoring): `tables[g]`
  /// holds the stored rows of groups()[g]; values are the point-in-time join's.
  Status EnrichAsOf(std::span<const FeatureTable* const> tables,
                    std::span<const PolicyInput> fields, size_t stride, std::span<const int> slots,
                    size_t rows, double* values, EventTime now, ThreadPool* pool) const;

  /// Sets every store feature of the rows missing (a store outage scored as configured).
  void SetMissing(size_t rows, double* values) const;

  /// The moment a field value stands for: a number of seconds or a time's text (event_time.h);
  /// nullopt for anything else.
  static std::optional<EventTime> TimeOf(const PolicyInput& value);

  /// The entity key a field value stands for (numbers as a CSV would write them); "" when
  /// missing.
  static std::string KeyText(const PolicyInput& value);

 private:
  /// Each row's moment, and for each group each row's entity key ("" when a part is missing).
  Status Keys(std::span<const PolicyInput> fields, size_t stride, std::span<const int> slots,
              size_t rows, EventTime now, std::vector<EventTime>* moments,
              std::vector<std::vector<std::string>>* keys) const;
  /// Encodes a group's value for feature `f` into `out` (missing when not encodable).
  void Put(size_t f, const PolicyValue& value, double* out) const;

  struct Group {
    GroupReader reader;
    std::vector<size_t> key_fields;  ///< index into fields_ of each entity column
    std::vector<size_t> features;    ///< encoder index of each of the reader's features
  };
  const FeatureEncoder* encoder_ = nullptr;
  std::vector<std::string> fields_;
  int time_field_ = -1;
  std::vector<Group> groups_;
};

}  // namespace fraudops
