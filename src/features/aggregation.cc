#include "features/aggregation.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/hash.h"
#include "core/numbers.h"

namespace fraudops {

Result<AggregatePlan> AggregatePlan::Create(const FeatureGroup& group) {
  AggregatePlan plan;
  plan.specs_ = group.aggregates;
  plan.max_window_ = group.MaxWindow();
  for (const AggregateSpec& spec : group.aggregates) {
    Compiled compiled;
    if (spec.function != AggregateFunction::kCount && !spec.column.empty()) {
      const int column = group.ColumnIndex(spec.column);
      if (column < 0)
        return Status::InvalidArgument("aggregate '" + spec.name + "': no column '" + spec.column +
                                       "'");
      auto found = std::find(plan.slot_columns_.begin(), plan.slot_columns_.end(),
                             static_cast<size_t>(column));
      compiled.slot = static_cast<int>(found - plan.slot_columns_.begin());
      if (found == plan.slot_columns_.end()) {
        plan.slot_columns_.push_back(static_cast<size_t>(column));
        plan.slot_categorical_.push_back(group.columns[static_cast<size_t>(column)].categorical);
      }
    }
    if (!spec.filter.empty()) {
      FOPS_ASSIGN_OR_RETURN(PolicyExpression expression,
                            PolicyExpression::Parse(spec.filter, "aggregate '" + spec.name + "'"));
      Filter filter{std::move(expression), {}};
      for (const std::string& field : filter.expression.fields()) {
        const int column = group.ColumnIndex(field);
        if (column < 0) {
          return Status::InvalidArgument("aggregate '" + spec.name + "': its filter reads '" +
                                         field + "', not a column of the group");
        }
        filter.reads.push_back(static_cast<size_t>(column));
      }
      compiled.filter = static_cast<int>(plan.filters_.size());
      plan.filters_.push_back(std::move(filter));
    }
    plan.compiled_.push_back(compiled);
  }
  return plan;
}

double AggregatePlan::CategoryHash(std::string_view text) {
  // FNV-1a 64, kept to 52 bits so the double holds it exactly.
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return static_cast<double>(h >> 12);
}

void AggregatePlan::Prepare(std::span<const PolicyValue> columns, double* slot_values,
                            uint64_t* mask) const {
  for (size_t s = 0; s < slot_columns_.size(); ++s) {
    const PolicyValue& v = columns[slot_columns_[s]];
    if (slot_categorical_[s]) {
      slot_values[s] = v.kind == PolicyValue::Kind::kString ? CategoryHash(v.text) : kNaN;
    } else {
      slot_values[s] = v.kind == PolicyValue::Kind::kNumber ? v.number : kNaN;
    }
  }
  uint64_t bits = 0;
  PolicyValue reads[32];
  std::vector<PolicyValue> many;
  for (size_t a = 0; a < compiled_.size(); ++a) {
    const int f = compiled_[a].filter;
    if (f < 0) continue;
    const Filter& filter = filters_[static_cast<size_t>(f)];
    std::span<const PolicyValue> values;
    if (filter.reads.size() <= 32) {
      for (size_t i = 0; i < filter.reads.size(); ++i) reads[i] = columns[filter.reads[i]];
      values = std::span<const PolicyValue>(reads, filter.reads.size());
    } else {
      many.clear();
      for (size_t column : filter.reads) many.push_back(columns[column]);
      values = many;
    }
    const PolicyValue result = filter.expression.Evaluate(values);
    if (result.kind == PolicyValue::Kind::kBool && result.number != 0) bits |= uint64_t{1} << a;
  }
  *mask = bits;
}

void EntityWindow::Add(EventTime time, uint64_t mask, const double* slot_values, size_t slots) {
  slots_ = slots;
  const size_t at = times_.empty() || times_.back() <= time
                        ? times_.size()
                        : static_cast<size_t>(std::upper_bound(times_.begin(), times_.end(), time) -
                                              times_.begin());
  times_.insert(times_.begin() + static_cast<long>(at), time);
  masks_.insert(masks_.begin() + static_cast<long>(at), mask);
  values_.insert(values_.begin() + static_cast<long>(at * slots), slot_values, slot_values + slots);
}

void EntityWindow::Expire(EventTime before) {
  const size_t drop =
      static_cast<size_t>(std::lower_bound(times_.begin(), times_.end(), before) - times_.begin());
  if (drop == 0) return;
  times_.erase(times_.begin(), times_.begin() + static_cast<long>(drop));
  masks_.erase(masks_.begin(), masks_.begin() + static_cast<long>(drop));
  values_.erase(values_.begin(), values_.begin() + static_cast<long>(drop * slots_));
}

void EntityWindow::Clear() {
  times_.clear();
  masks_.clear();
  values_.clear();
}

void EntityWindow::Compute(const AggregatePlan& plan, EventTime t, double* out) const {
  const size_t hi =
      static_cast<size_t>(std::lower_bound(times_.begin(), times_.end(), t) - times_.begin());
  std::vector<double> distinct;
  for (size_t a = 0; a < plan.size(); ++a) {
    const AggregateSpec& spec = plan.specs()[a];
    const auto& compiled = plan.compiled_[a];
    const EventTime start = t - spec.window;
    const size_t lo = static_cast<size_t>(
        std::lower_bound(times_.begin(), times_.begin() + static_cast<long>(hi), start) -
        times_.begin());
    const uint64_t bit = uint64_t{1} << a;
    const bool filtered = compiled.filter >= 0;
    if (spec.function == AggregateFunction::kCount && compiled.slot < 0) {
      if (!filtered) {
        out[a] = static_cast<double>(hi - lo);
      } else {
        size_t n = 0;
        for (size_t i = lo; i < hi; ++i) n += (masks_[i] & bit) != 0;
        out[a] = static_cast<double>(n);
      }
      continue;
    }
    const size_t slot = static_cast<size_t>(compiled.slot < 0 ? 0 : compiled.slot);
    double sum = 0, lowest = kInf, highest = -kInf;
    size_t n = 0;
    distinct.clear();
    for (size_t i = lo; i < hi; ++i) {
      if (filtered && (masks_[i] & bit) == 0) continue;
      const double v = compiled.slot < 0 ? 0 : values_[i * slots_ + slot];
      if (spec.function == AggregateFunction::kCount) {  // count of a column: non-missing
        n += !std::isnan(v);
        continue;
      }
      if (std::isnan(v)) continue;
      ++n;
      sum += v;
      lowest = std::min(lowest, v);
      highest = std::max(highest, v);
      if (spec.function == AggregateFunction::kDistinctCount) distinct.push_back(v);
    }
    switch (spec.function) {
      case AggregateFunction::kCount:
        out[a] = static_cast<double>(n);
        break;
      case AggregateFunction::kSum:
        out[a] = sum;
        break;
      case AggregateFunction::kMean:
        out[a] = n ? sum / static_cast<double>(n) : kNaN;
        break;
      case AggregateFunction::kMin:
        out[a] = n ? lowest : kNaN;
        break;
      case AggregateFunction::kMax:
        out[a] = n ? highest : kNaN;
        break;
      case AggregateFunction::kDistinctCount:
        std::sort(distinct.begin(), distinct.end());
        out[a] =
            static_cast<double>(std::unique(distinct.begin(), distinct.end()) - distinct.begin());
        break;
    }
  }
}

void EntityWindow::Encode(std::string& out) const {
  const uint32_t n = static_cast<uint32_t>(times_.size());
  const uint32_t slots = static_cast<uint32_t>(slots_);
  out.append(reinterpret_cast<const char*>(&n), 4);
  out.append(reinterpret_cast<const char*>(&slots), 4);
  if (n == 0) return;  // (append may not be handed the null data() of empty vectors)
  out.append(reinterpret_cast<const char*>(times_.data()), n * sizeof(EventTime));
  out.append(reinterpret_cast<const char*>(masks_.data()), n * sizeof(uint64_t));
  if (!values_.empty())
    out.append(reinterpret_cast<const char*>(values_.data()), values_.size() * sizeof(double));
}

Result<EntityWindow> EntityWindow::Decode(std::string_view bytes, size_t slots) {
  auto bad = [](const std::string& what) {
    return Status::DataError("malformed window state: " + what);
  };
  if (bytes.size() < 8) return bad("shorter than its header");
  uint32_t n = 0, stored_slots = 0;
  std::memcpy(&n, bytes.data(), 4);
  std::memcpy(&stored_slots, bytes.data() + 4, 4);
  if (stored_slots != slots)
    return bad("it holds " + std::to_string(stored_slots) + " values per event, the group " +
               std::to_string(slots));
  const size_t per_event = sizeof(EventTime) + sizeof(uint64_t) + slots * sizeof(double);
  if ((bytes.size() - 8) != static_cast<size_t>(n) * per_event)
    return bad("its size does not match its event count");
  EntityWindow window;
  window.slots_ = slots;
  window.times_.resize(n);
  window.masks_.resize(n);
  window.values_.resize(static_cast<size_t>(n) * slots);
  if (n == 0) return window;  // (memcpy may not be handed the null data() of empty vectors)
  const char* p = bytes.data() + 8;
  std::memcpy(window.times_.data(), p, n * sizeof(EventTime));
  p += n * sizeof(EventTime);
  std::memcpy(window.masks_.data(), p, n * sizeof(uint64_t));
  p += n * sizeof(uint64_t);
  if (!window.values_.empty())
    std::memcpy(window.values_.data(), p, window.values_.size() * sizeof(double));
  if (!std::is_sorted(window.times_.begin(), window.times_.end()))
    return bad("its events are out of order");
  return window;
}

}  // namespace fraudops
