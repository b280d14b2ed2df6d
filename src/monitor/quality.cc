#include "monitor/quality.h"

#include "core/strings.h"
#include "data/record_stream.h"
#include "eval/metrics.h"
#include "store/metadata_store.h"

namespace fraudops {

namespace {

std::optional<float> ParseLabel(std::string_view text) {
  text = Trim(text);
  if (text == "1" || text == "1.0" || ToLower(text) == "true") return 1.0f;
  if (text == "0" || text == "0.0" || ToLower(text) == "false") return 0.0f;
  return std::nullopt;
}

/// The labels of a CSV read record by record (quotes, "" escapes, CRLF and blank lines as
/// the data module's reader handles them).
Result<LabelMap> ReadLabels(RecordReader& reader, const std::string& now) {
  LabelMap labels;
  size_t id_column = SIZE_MAX, label_column = SIZE_MAX, time_column = SIZE_MAX, columns = 0;
  RecordChunk chunk;
  std::vector<std::string_view> raw;
  std::vector<std::string> fields;
  std::string scratch;
  while (true) {
    FOPS_ASSIGN_OR_RETURN(bool more, reader.Next(chunk, 4096));
    for (size_t r = 0; r < chunk.size(); ++r) {
      const std::string_view record = chunk.record(r);
      const std::string where = reader.path() + ":" + std::to_string(chunk.line[r]);
      SplitCsvRecord(record, ',', raw);
      fields.clear();
      for (std::string_view field : raw)
        fields.emplace_back(Trim(UnquoteCsvField(Trim(field), scratch)));
      if (id_column == SIZE_MAX) {
        for (size_t i = 0; i < fields.size(); ++i) {
          if (fields[i] == "request_id")
            id_column = i;
          else if (fields[i] == "label")
            label_column = i;
          else if (fields[i] == "label_time")
            time_column = i;
        }
        if (id_column == SIZE_MAX || label_column == SIZE_MAX) {
          return Status::DataError(
              where +
              ": the header must name request_id and label (and optionally label_time); got '" +
              std::string(record) + "'");
        }
        columns = fields.size();
        continue;
      }
      if (fields.size() != columns) {
        return Status::DataError(where + ": " + std::to_string(fields.size()) +
                                 " fields; the header has " + std::to_string(columns));
      }
      if (fields[id_column].empty()) {
        return Status::DataError(where + ":" + std::to_string(id_column + 1) +
                                 ": empty request_id");
      }
      std::optional<float> label = ParseLabel(fields[label_column]);
      if (!label) {
        return Status::DataError(where + ":" + std::to_string(label_column + 1) + ": label '" +
                                 fields[label_column] + "' is not one of 0, 1, true, false");
      }
      DelayedLabel entry{*label, ""};
      if (time_column != SIZE_MAX && !fields[time_column].empty()) {
        auto time = ParseUtcTime(fields[time_column]);
        if (!time) {
          return Status::DataError(where + ":" + std::to_string(time_column + 1) +
                                   ": label_time '" + fields[time_column] +
                                   "' is not an ISO 8601 time such as 2026-11-23T10:00:00Z");
        }
        entry.label_time = FormatUtc(*time);
        if (!now.empty() && entry.label_time > now) continue;  // not known yet
      }
      labels.insert_or_assign(fields[id_column], std::move(entry));
    }
    if (!more) break;
  }
  if (id_column == SIZE_MAX)
    return Status::DataError(reader.path() +
                             ": empty; expected a header naming request_id and label");
  return labels;
}

}  // namespace

Result<LabelMap> ReadLabelsCsv(const std::string& path, const std::string& now) {
  FOPS_ASSIGN_OR_RETURN(auto reader, RecordReader::Open(path, /*quoted=*/true));
  return ReadLabels(*reader, now);
}

Result<LabelMap> ParseLabelsCsv(std::string_view text, const std::string& source,
                                const std::string& now) {
  FOPS_ASSIGN_OR_RETURN(auto reader, RecordReader::FromMemory(text, /*quoted=*/true, source));
  return ReadLabels(*reader, now);
}

void AddFeedback(const std::vector<FeedbackRecord>& feedback, const std::string& now,
                 LabelMap* labels) {
  for (const FeedbackRecord& record : feedback) {
    auto time = ParseUtcTime(record.label_time.empty() ? record.received_at : record.label_time);
    std::string label_time = time ? FormatUtc(*time) : "";
    if (!now.empty() && !label_time.empty() && label_time > now) continue;
    labels->try_emplace(record.request_id,
                        DelayedLabel{record.label >= 0.5 ? 1.0f : 0.0f, label_time});
  }
}

QualityResult ComputeQuality(const ScanResult& scan, const TimeWindow& window, double threshold,
                             const QualityThresholds& thresholds) {
  QualityResult result;
  result.window = window;
  result.predictions = scan.quality_rows;
  result.labelled = scan.joined.size();
  result.alert_rate = scan.quality_rows ? static_cast<double>(scan.quality_alerts) /
                                              static_cast<double>(scan.quality_rows)
                                        : 0;
  // Over no predictions there is no rate: absent, like the label metrics without labels.
  if (scan.quality_rows) result.metrics["alert_rate"] = result.alert_rate;
  std::vector<float> scores, labels;
  scores.reserve(scan.joined.size());
  labels.reserve(scan.joined.size());
  for (const JoinedPrediction& row : scan.joined) {
    scores.push_back(row.score);
    labels.push_back(row.label);
    if (row.label > 0.5f) result.positives++;
  }
  // Ranking metrics need both classes.
  const bool both = result.positives > 0 && result.positives < result.labelled;
  result.judged = both && result.labelled >= thresholds.min_labels;
  if (both) {
    BinaryMetrics m = ComputeMetrics(scores, labels, threshold);
    result.metrics["roc_auc"] = m.roc_auc;
    result.metrics["pr_auc"] = m.pr_auc;
    result.metrics["recall"] = m.recall;
    result.metrics["precision"] = m.precision;
    result.metrics["threshold"] = threshold;
    result.metrics["confusion"] = m.ToJson()["confusion"];
  }
  if (result.judged) {
    for (const auto& [metric, minimum] : thresholds.minimums) {
      auto value = result.metrics.find(metric);
      if (value != result.metrics.end() && value->get<double>() < minimum) {
        result.violations.push_back({metric, value->get<double>(), minimum, "<"});
      }
    }
  }
  if (thresholds.max_alert_rate > 0 && result.predictions >= thresholds.min_labels &&
      result.alert_rate > thresholds.max_alert_rate) {
    result.violations.push_back({"alert_rate", result.alert_rate, thresholds.max_alert_rate, ">"});
  }
  return result;
}

nlohmann::json QualityResult::ToJson() const {
  nlohmann::json violations_json = nlohmann::json::array();
  for (const QualityViolation& v : violations) {
    violations_json.push_back({{"metric", v.metric},
                               {"value", v.value},
                               {"threshold", v.threshold},
                               {"comparison", v.comparison}});
  }
  return {{"window", {{"from", window.from}, {"to", window.to}}},
          {"predictions", predictions},
          {"labelled", labelled},
          {"positives", positives},
          {"judged", judged},
          {"metrics", metrics},
          {"violations", violations_json}};
}

}  // namespace fraudops
