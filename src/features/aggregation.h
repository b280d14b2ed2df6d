#pragma once
/// Windowed aggregates ("velocity" features, docs/features.md): the one implementation both
/// the offline point-in-time computation (training sets) and the online state (serving,
/// streams) use, so a feature has the same value wherever it is computed.
///
/// An aggregate of an entity at moment t covers the group's events of that entity with event
/// time in [t - window, t): from the window's start inclusive, up to t exclusive — an event
/// at t itself (the transaction being scored) is not part of its own features. count counts
/// events (a filter may restrict them), sum/mean/min/max skip missing values, distinct_count
/// counts distinct non-missing values. With no event in the window: count, sum and
/// distinct_count are 0; mean, min and max are missing.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "features/event_time.h"
#include "features/feature_group.h"
#include "model/policy.h"

namespace fraudops {

/// A group's aggregates compiled: what each event keeps (one value per column an aggregate
/// reads — a numeric value rounded to float32, or a 52-bit hash of a category's text — and
/// a bit per filtered aggregate telling whether the event passes its filter).
class AggregatePlan {
 public:
  static Result<AggregatePlan> Create(const FeatureGroup& group);
  bool empty() const { return specs_.empty(); }
  size_t size() const { return specs_.size(); }
  size_t slots() const { return slot_columns_.size(); }
  EventTime max_window() const { return max_window_; }
  const std::vector<AggregateSpec>& specs() const { return specs_; }

  /// An event's slot values and filter mask from its columns' values (one per group column,
  /// in the group's order: numbers as numbers — already rounded to float32 — categories as
  /// strings, missing as missing).
  void Prepare(std::span<const PolicyValue> columns, double* slot_values, uint64_t* mask) const;

  /// The hash that stands for a category's text in distinct counts.
  static double CategoryHash(std::string_view text);

 private:
  friend class EntityWindow;
  struct Compiled {
    int slot = -1;  ///< -1: count of events, no value
    int filter = -1;
  };
  struct Filter {
    PolicyExpression expression;
    std::vector<size_t> reads;  ///< group column index of each field
  };
  std::vector<AggregateSpec> specs_;
  std::vector<Compiled> compiled_;
  std::vector<size_t> slot_columns_;  ///< group column of each slot
  std::vector<bool> slot_categorical_;
  std::vector<Filter> filters_;
  EventTime max_window_ = 0;
};

/// One entity's recent events of one group, kept in event-time order.
class EntityWindow {
 public:
  /// Adds an event (out of order is fine: it is inserted in place).
  void Add(EventTime time, uint64_t mask, const double* slot_values, size_t slots);
  /// Drops events before `before`.
  void Expire(EventTime before);
  /// Every aggregate of `plan` at moment `t`, into out[0 … plan.size()).
  void Compute(const AggregatePlan& plan, EventTime t, double* out) const;
  size_t size() const { return times_.size(); }
  EventTime newest() const { return times_.empty() ? INT64_MIN : times_.back(); }
  void Clear();

  /// The state's bytes (for the online store), and back; Decode refuses malformed bytes.
  void Encode(std::string& out) const;
  static Result<EntityWindow> Decode(std::string_view bytes, size_t slots);

 private:
  std::vector<EventTime> times_;
  std::vector<uint64_t> masks_;
  std::vector<double> values_;  ///< slots per event
  size_t slots_ = 0;
};

}  // namespace fraudops
