#pragma once
/// The model bundle (docs/formats/bundle.md): a directory with the ensemble in its native
/// format (`model.json` XGBoost, `model.txt` LightGBM), `bundle.json` (format version, input
/// signature, feature encoding, decision threshold, label, metrics, lineage) and
/// `baseline.json` (training distributions, for drift). Every reader of a model — batch
/// scoring, serving, the pipeline's evaluation — goes through LoadBundle / LoadModelFile
/// and encodes inputs with FeatureEncoder, so a request is turned into the numbers the
/// model saw in training by the same code.
///
/// bundle.json versions: 1 (the first pipeline bundles: features, label, threshold,
/// metrics, source_run, data_hash) and 2 (adds model_format and model_sha256, the input
/// signature with its dtype and missing-value policy, the encoding, lineage, baseline_file).
/// Every version ever written keeps loading (tests/data/bundles holds one of each).

#include <algorithm>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "data/dataset.h"
#include "model/calibration.h"
#include "model/derived_features.h"
#include "model/ensemble.h"
#include "model/policy.h"

namespace fraudops {

/// The newest bundle.json format this build reads; it writes 2, 3 when the signature has
/// derived features, 4 when it has feature store features, 5 when its scores are calibrated
/// (so an older build refuses what it would score wrongly).
constexpr int kBundleFormatVersion = 5;

/// One input feature as requests must provide it.
struct FeatureSpec {
  std::string name;
  bool categorical = false;
  std::vector<std::string>
      categories;  ///< categorical: code i is categories[i] (empty: codes are given)
  /// A derived feature's expression (model/derived_features.h): computed from the raw
  /// features, never sent by clients. Derived features follow every raw one.
  std::string derived;
  /// A feature store feature ("GROUP:FEATURE", docs/features.md): fetched by the scorer
  /// from the feature store by the request's entity key, never sent by clients.
  std::string feature = {};
};

/// The input signature and how raw values become model inputs.
struct InputSignature {
  std::vector<FeatureSpec> features;  ///< in model column order
  /// "float32": values are rounded to float as the training matrix stored them (bundles
  /// from the pipeline); "float64": used as given (bare LightGBM models).
  std::string dtype = "float32";
  /// Missing values (null, NaN, an empty CSV field, an absent JSON member when allowed, an
  /// unknown category) are passed to the model as missing: the trees' default directions
  /// decide, as in training.
  std::string missing_policy = "missing";
  /// Text read as missing (the training data's preprocess.missing_values).
  std::vector<std::string> missing_values = {"", "NA", "N/A", "NaN", "null", "unknown"};
  /// Columns of the raw records the model does not take (identifiers, the time column:
  /// docs/data-validation.md): requests and files may carry them; they are ignored.
  std::vector<std::string> ignored;
  /// The feature groups the features marked `feature` come from: their definitions as the
  /// training set used them (FeatureGroup::ToJson with "version"); empty when none. Read by
  /// the features module, which the model module does not depend on.
  nlohmann::json feature_groups = nlohmann::json::array();
  /// The request field that gives the moment feature values are taken at (the training
  /// data's time column); absent from a request: the scorer's clock.
  std::string feature_time;
  bool uses_feature_store() const { return !feature_groups.empty(); }
};

/// How a bundle that combines several models (docs/serving.md, "Combined models") turns
/// their probabilities on the same inputs into one.
enum class CombineMethod : uint8_t { kMean, kMax, kWeighted };
std::string_view CombineMethodName(CombineMethod method);
/// "mean", "max" or "weighted"; the error lists them.
Result<CombineMethod> ParseCombineMethod(std::string_view name);

/// One model of a combination, beside the bundle's first (`ensemble`).
struct CombinedModel {
  std::string model_file;
  Ensemble ensemble;
};

struct ModelBundle {
  int format_version = 0;  ///< 0: a bare model file with no bundle.json
  std::string algorithm;   ///< "xgboost", "lgbm", …
  std::string model_file;  ///< e.g. "model.json"
  Ensemble ensemble;       ///< the model; a combination's first
  /// A combination (bundle format 3, "combine"): the other models, scored on the same
  /// inputs; the probability is the mean, max or weighted mean of all (`weights`: one per
  /// model, `ensemble`'s first). Empty: one model.
  std::vector<CombinedModel> others;
  CombineMethod combine = CombineMethod::kMean;
  std::vector<double> weights;
  InputSignature input;
  std::optional<double> threshold;  ///< the decision threshold on the probability
  std::string label_name;
  std::vector<std::string> label_values;  ///< [negative, positive] as the data wrote them
  nlohmann::json metrics = nlohmann::json::object();
  nlohmann::json lineage = nlohmann::json::object();  ///< run_id, data_hash, code_version, pipeline
  std::string baseline_file;                          ///< "" when the bundle has none
  std::string source;                                 ///< where it was loaded from, for messages
  /// The decision policy (docs/decision-policies.md) that decides on each score: the
  /// bundle directory's policy.txt, or the registered version's (SetPolicy). Null: none.
  std::shared_ptr<const DecisionPolicy> policy;
  std::string policy_text;
  /// The calibration of the model's probability (bundle format 5, "calibration"); empty:
  /// the model's probability is the score.
  std::optional<ScoreCalibration> calibration;

  bool combined() const { return !others.empty(); }
  /// The score of one encoded row: the model's probability, or the combination of all
  /// models', calibrated when the bundle says so.
  double PredictProbability(const double* row) const {
    const double first = ensemble.PredictProbability(row);
    return Calibrated(others.empty() ? first : Combine(first, row));
  }
  /// `probability` through the bundle's calibration (unchanged without one).
  double Calibrated(double probability) const {
    return calibration ? calibration->Apply(probability) : probability;
  }
  /// The combination of the models' probabilities given the first's (`first`).
  double Combine(double first, const double* row) const;
  /// The models' memory (Ensemble::MemoryBytes summed).
  size_t MemoryBytes() const;
};

/// One model of a new combination: its bundle as loaded and the model file's bytes.
struct CombinationInput {
  const ModelBundle* bundle = nullptr;
  std::string model_text;
  double weight = 1;
};
/// Refuses models that do not take the same inputs (feature names, types, categories,
/// derived features, dtype): a combination scores one encoded row with each.
Status CheckSameInputs(const ModelBundle& first, const ModelBundle& other,
                       const std::string& other_name);
/// bundle.json (format 3) of a combination: `first_json` is the first model's bundle.json,
/// whose input signature, label and baseline the combination keeps; the models are written
/// as model-<i>.<ext> (`files` receives each name and its content).
nlohmann::json CombinedBundleJson(const nlohmann::json& first_json,
                                  const std::vector<CombinationInput>& models, CombineMethod method,
                                  double threshold, const nlohmann::json& lineage,
                                  std::vector<std::pair<std::string, std::string>>* files);

/// The name of a bundle's decision policy file, beside bundle.json.
inline constexpr const char* kPolicyFileName = "policy.txt";

/// Parses `text` as `bundle`'s decision policy (`source` names it in errors), or removes the
/// policy when `text` is empty.
Status SetPolicy(ModelBundle& bundle, std::string_view text, const std::string& source);

/// Where `fraudops train` keeps an XGBoost file's category names: MODEL.categories.json,
/// {"format": "fraudops-categories/1", "features": {NAME: [CATEGORY, …]}} (code i is the i-th
/// name). LoadModelFile reads it when present beside an XGBoost file.
std::string CategoriesSidecarPath(const std::string& model_path);
/// The sidecar's text for `features` ("" when none has category names).
std::string CategoriesSidecarJson(const std::vector<FeatureSpec>& features);

/// Reads a bare XGBoost JSON or LightGBM text model (told apart by content); its feature
/// names define the input columns.
Result<ModelBundle> LoadModelFile(const std::string& path);
/// Reads a bundle directory (or the path of its bundle.json) and its model file.
Result<ModelBundle> LoadBundle(const std::string& path);
/// A directory or bundle.json → LoadBundle; any other file → LoadModelFile.
Result<ModelBundle> LoadModel(const std::string& path);

/// Parses a model from text, telling XGBoost JSON from LightGBM text by content.
Result<Ensemble> ParseModelText(std::string_view text, const std::string& source);
/// Parses bundle.json; `read_file(name)` supplies the files it names (the model). Errors
/// name the JSON pointer.
Result<ModelBundle> ParseBundle(
    std::string_view json, const std::string& source,
    const std::function<Result<std::string>(const std::string&)>& read_file);

/// bundle.json (current format) for a model trained on `train`.
struct BundleInfo {
  std::string algorithm, model_file, model_format, model_sha256;
  std::vector<std::string> missing_values;
  double threshold = 0.5;
  nlohmann::json metrics, lineage;
  std::string baseline_file;
  std::vector<std::string> ignored_inputs;                  ///< input.ignored
  nlohmann::json feature_groups = nlohmann::json::array();  ///< input.feature_groups
  std::string feature_time;                                 ///< input.feature_time
  std::optional<ScoreCalibration> calibration;              ///< "calibration" (format 5)
};
nlohmann::json MakeBundleJson(const Dataset& train, const BundleInfo& info);

/// The signature's derived features compiled (an error names `source` and the feature).
Result<FeatureDeriver> DeriverOf(const InputSignature& signature, const std::string& source);

/// A JSON value as a decision policy reads it: numbers, strings, booleans; null, objects and
/// arrays are missing.
PolicyInput PolicyInputOfJson(const nlohmann::json& value);

/// Turns raw feature values into a model input row. Numbers are parsed with the same
/// parser as the CSV reader and rounded as the signature's dtype says; categories map to
/// their training code; a category never seen in training becomes missing. Derived
/// features are not looked up by name (clients do not send them): Derive computes them once
/// a row's raw features are encoded.
class FeatureEncoder {
 public:
  /// `label`: the training label's column, named when a request sends it.
  explicit FeatureEncoder(const InputSignature& signature, std::string label = "");
  /// Every feature the model takes (raw, then derived).
  size_t size() const { return features_.size(); }
  /// The features requests and files provide: the first input_size() (feature store
  /// features, then derived ones, follow them).
  size_t input_size() const { return client_inputs_; }
  /// Whether some features come from the feature store: the scorer fills them
  /// (features/enricher.h), then calls Derive.
  bool has_store_features() const { return store_features_; }
  /// Computes the derived features of an encoded row (nothing when there are none).
  void Derive(double* row) const {
    if (!deriver_.empty()) deriver_.Derive(row);
  }
  const FeatureSpec& feature(size_t i) const { return *features_[i]; }
  /// The feature's index, or -1.
  int Find(std::string_view name) const;
  /// Whether `name` is a column of the raw records the model leaves out (input.ignored).
  bool IsIgnored(std::string_view name) const {
    return std::find(ignored_.begin(), ignored_.end(), name) != ignored_.end();
  }
  /// The same, trying index `hint` first: clients usually send features in signature order,
  /// so a caller that passes the previous index + 1 skips the lookup.
  int Find(std::string_view name, size_t hint) const {
    return hint < features_.size() && features_[hint]->name == name ? static_cast<int>(hint)
                                                                    : Find(name);
  }

  /// The training label's column ("" when not known).
  const std::string& label() const { return label_; }

  /// Whether values are rounded to float32 (the bundle's dtype), as the model sees them.
  bool float32() const { return float32_; }

  /// Encodes a text value (a CSV field). `ok` is false when a numeric feature's text is not
  /// a number; empty text and the usual missing markers (NA, NaN, null, …) are missing.
  double EncodeText(size_t feature, std::string_view text, bool* ok) const;
  /// Encodes a JSON number: rounded as the dtype says; for a feature with named categories,
  /// the number's text ("3" for 3 and 3.0) is the category.
  double EncodeNumber(size_t feature, double value, bool* ok) const;
  /// Encodes a JSON value: numbers, null (missing), strings (categories, or numbers as
  /// text). `ok` false on a type the feature cannot take.
  double EncodeJson(size_t feature, const nlohmann::json& value, bool* ok) const;
  /// Encodes the features requests provide (the first input_size()) from the members of a
  /// JSON object into `row`. False, with `error` naming `where` and the member, when one is
  /// absent (null is a missing value) or of a type its feature cannot take.
  bool EncodeJsonObject(const nlohmann::json& object, const std::string& where, double* row,
                        std::string* error) const;

 private:
  std::vector<std::string> ignored_;
  std::string label_;
  size_t client_inputs_ = 0;
  bool store_features_ = false;
  double Round(double value) const {
    return float32_ ? static_cast<double>(static_cast<float>(value)) : value;
  }
  std::vector<const FeatureSpec*> features_;
  std::vector<std::unordered_map<std::string, double>> codes_;
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view name) const { return std::hash<std::string_view>()(name); }
  };
  std::unordered_map<std::string, size_t, NameHash, std::equal_to<>> index_;
  std::vector<std::string> missing_values_;
  bool float32_ = true;
  FeatureDeriver deriver_;
};

}  // namespace fraudops
