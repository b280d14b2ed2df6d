#pragma once
/// Data validation at ingest (docs/data-validation.md): what the validate step finds in the
/// data before anything is trained on it. Columns that identify rows (unique per row, or
/// monotonic with the row number) are excluded from the features with a warning naming them,
/// the time column (and columns preprocess.feature_columns leaves out) without one; a single
/// feature that alone separates the label (its own ROC AUC above validate.max_single_feature_auc)
/// is an error naming it (leakage); constant, mostly missing and number-like columns with a few
/// text tokens (missing markers to declare), and duplicate rows, are warnings. A pure function of
/// the data and the settings, so it is tested alone.

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace fraudops {

struct DataValidationOptions {
  std::string time_column;                   ///< preprocess.time_column ("" for none)
  std::vector<std::string> feature_columns;  ///< preprocess.feature_columns (empty: all)
  double max_single_feature_auc = 0.99;      ///< validate.max_single_feature_auc
  double max_missing_share = 0.95;           ///< validate.max_missing_share
  /// Columns fewer rows than this are not judged as identifiers (too few to tell).
  size_t min_rows_for_identifiers = 100;
  /// With fewer positive (or negative) rows a feature's AUC is reported, not judged: one
  /// fraud row is separated perfectly by chance.
  size_t min_class_rows_for_leakage = 20;
};

struct ExcludedColumn {
  std::string name;
  std::string reason;  ///< "the time column (preprocess.time_column)", "unique per row", …
  /// Guessed from the values (an identifier, a counter), and so also a warning; false for
  /// what the configuration says (the time column, preprocess.feature_columns).
  bool inferred = false;
};

struct DataValidation {
  std::vector<ExcludedColumn> excluded;  ///< dropped from the features (after the split)
  std::vector<std::string> warnings;
  std::vector<std::string> errors;                   ///< leakage: the run stops with a data error
  nlohmann::json columns = nlohmann::json::array();  ///< per column: type, missing, min, max, auc
  size_t duplicate_rows = 0;
  nlohmann::json ToJson() const;
};

/// Infinite values per feature column of `data`.
std::vector<int64_t> InfiniteCounts(const Dataset& data);

/// The checks that stop a run before any other, from counts that add up over parts: the rows,
/// the positive rows, and the infinite values of each feature of data with `schema`'s
/// columns. "" when they pass, else what is wrong.
std::string CheckRowCounts(const Dataset& schema, int64_t rows, int64_t positives,
                           const std::vector<int64_t>& infinite);

/// Validates `data` (features and label). Columns a derived feature reads are never excluded
/// automatically (the bundle computes the feature from them).
DataValidation ValidateData(const Dataset& data, const DataValidationOptions& options);

/// What changed since the previous run of the pipeline, whose validation report (ToJson(),
/// with "rows", "positives" and per-column "categories") is `previous`: columns added,
/// removed or of another type, categories that appeared or vanished, and a label rate that
/// moved by more than `max_label_rate_ratio` either way. Warnings, one per finding.
std::vector<std::string> CompareWithPreviousRun(const nlohmann::json& current,
                                                const nlohmann::json& previous,
                                                double max_label_rate_ratio,
                                                const std::string& previous_run);

/// Categories of `validation` or `test` rows never seen in `train` rows, per categorical
/// column: warnings naming them (the model learned nothing about them).
std::vector<std::string> CategoriesUnseenInTraining(const Dataset& train, const Dataset& validation,
                                                    const Dataset& test);

/// Rows per category code of each categorical column of `data` and of `more` (same schema),
/// by column index (empty for numeric columns; codes outside the categories not counted): the
/// form in which parts' counts add up.
std::vector<std::vector<int64_t>> CategoryCounts(const Dataset& data,
                                                 std::initializer_list<const Dataset*> more);

/// The same from counts (CategoryCounts) of the training rows and of the held-out rows, e.g.
/// summed over the parts of data read in parts; `schema` names the columns and categories.
std::vector<std::string> CategoriesUnseenInTraining(
    const Dataset& schema, const std::vector<std::vector<int64_t>>& train_counts,
    const std::vector<std::vector<int64_t>>& held_out_counts);

/// ROC AUC of one column's values as a score of the label (missing values lowest); 0.5 when
/// a class is absent.
double SingleFeatureAuc(const std::vector<float>& values, const std::vector<float>& label);

}  // namespace fraudops
