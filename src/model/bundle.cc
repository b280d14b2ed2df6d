#include "model/bundle.h"

#include <charconv>
#include <cmath>
#include <filesystem>

#include "core/files.h"
#include "core/hash.h"
#include "core/strings.h"
#include "data/table.h"
#include "model/lightgbm_text.h"
#include "model/xgboost_json.h"

namespace fraudops {

namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

/// Reads bundle.json with JSON pointers in every error.
struct BundleReader {
  const std::string& source;

  Status Error(const std::string& pointer, const std::string& what) const {
    return Status::DataError(source + ": " + (pointer.empty() ? "/" : pointer) + ": " + what);
  }
  Result<const Json*> Get(const Json& object, const std::string& pointer, const char* name,
                          bool required = true) const {
    auto it = object.find(name);
    if (it == object.end()) {
      if (!required) return static_cast<const Json*>(nullptr);
      return Error(pointer, std::string("missing \"") + name + "\"");
    }
    return &*it;
  }
  Result<std::string> String(const Json& object, const std::string& pointer, const char* name,
                             bool required = true) const {
    FOPS_ASSIGN_OR_RETURN(const Json* value, Get(object, pointer, name, required));
    if (value == nullptr) return std::string();
    if (!value->is_string()) return Error(pointer + "/" + name, "expected a string");
    return value->get<std::string>();
  }
  Result<std::vector<std::string>> Strings(const Json& value, const std::string& pointer) const {
    if (!value.is_array()) return Error(pointer, "expected an array of strings");
    std::vector<std::string> out;
    for (size_t i = 0; i < value.size(); ++i) {
      if (!value[i].is_string())
        return Error(pointer + "/" + std::to_string(i), "expected a string");
      out.push_back(value[i].get<std::string>());
    }
    return out;
  }

  /// "combine": {"method", "models": [{"file", "sha256", "weight"}, …]}, the first model
  /// being model_file; the others are read, checked and parsed into `bundle`.
  Status Combination(const Json& combine,
                     const std::function<Result<std::string>(const std::string&)>& read_file,
                     ModelBundle& bundle) const {
    if (!combine.is_object()) return Error("/combine", "expected an object");
    FOPS_ASSIGN_OR_RETURN(std::string method, String(combine, "/combine", "method"));
    auto parsed = ParseCombineMethod(method);
    if (!parsed.ok()) return Error("/combine/method", parsed.status().message());
    bundle.combine = *parsed;
    auto models = combine.find("models");
    if (models == combine.end() || !models->is_array() || models->size() < 2)
      return Error("/combine/models", "expected an array of at least two models");
    for (size_t i = 0; i < models->size(); ++i) {
      const std::string at = "/combine/models/" + std::to_string(i);
      const Json& entry = (*models)[i];
      if (!entry.is_object()) return Error(at, "expected an object");
      FOPS_ASSIGN_OR_RETURN(std::string file, String(entry, at, "file"));
      FOPS_ASSIGN_OR_RETURN(std::string sha256, String(entry, at, "sha256"));
      double weight = 1;
      if (auto w = entry.find("weight"); w != entry.end()) {
        if (!w->is_number() || !(w->get<double>() >= 0) || !std::isfinite(w->get<double>()))
          return Error(at + "/weight", "expected a number >= 0");
        weight = w->get<double>();
      }
      bundle.weights.push_back(weight);
      if (i == 0) {
        if (file != bundle.model_file)
          return Error(at + "/file",
                       "the first model must be model_file (" + bundle.model_file + ")");
        continue;
      }
      if (file.empty() || file.find('/') != std::string::npos || file == "..")
        return Error(at + "/file", "must be a file name inside the bundle");
      FOPS_ASSIGN_OR_RETURN(std::string text, read_file(file));
      if (Sha256Hex(text) != sha256) {
        return Error(at + "/sha256",
                     file + " does not match its recorded checksum (changed or corrupted)");
      }
      CombinedModel model;
      model.model_file = file;
      FOPS_ASSIGN_OR_RETURN(model.ensemble, ParseModelText(text, file));
      if (model.ensemble.feature_names != bundle.ensemble.feature_names) {
        return Error(at, file + " does not take the same features, in the same order, as " +
                             bundle.model_file);
      }
      bundle.others.push_back(std::move(model));
    }
    double total = 0;
    for (double w : bundle.weights) total += w;
    if (!(total > 0)) return Error("/combine/models", "the weights sum to 0");
    return Status::Ok();
  }

  Result<std::vector<FeatureSpec>> Features(const Json& features,
                                            const std::string& pointer) const {
    if (!features.is_array() || features.empty())
      return Error(pointer, "expected a non-empty array of features");
    std::vector<FeatureSpec> out;
    for (size_t i = 0; i < features.size(); ++i) {
      const std::string at = pointer + "/" + std::to_string(i);
      if (!features[i].is_object())
        return Error(at, "expected an object with \"name\" and \"type\"");
      FeatureSpec spec;
      FOPS_ASSIGN_OR_RETURN(spec.name, String(features[i], at, "name"));
      FOPS_ASSIGN_OR_RETURN(std::string type, String(features[i], at, "type"));
      if (type != "numeric" && type != "categorical") {
        return Error(at + "/type",
                     "\"" + type + "\" is not a feature type; accepted: numeric, categorical");
      }
      spec.categorical = type == "categorical";
      if (auto it = features[i].find("derived"); it != features[i].end()) {
        if (!it->is_string() || it->get<std::string>().empty())
          return Error(at + "/derived", "expected an expression (a non-empty string)");
        spec.derived = it->get<std::string>();
      }
      if (auto it = features[i].find("feature"); it != features[i].end()) {
        if (!it->is_string() || it->get<std::string>().find(':') == std::string::npos)
          return Error(at + "/feature", "expected a feature reference GROUP:FEATURE");
        spec.feature = it->get<std::string>();
      }
      if (auto it = features[i].find("categories"); it != features[i].end()) {
        FOPS_ASSIGN_OR_RETURN(spec.categories, Strings(*it, at + "/categories"));
      }
      out.push_back(std::move(spec));
    }
    return out;
  }
};

bool LooksLikeJson(std::string_view text) {
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    return c == '{';
  }
  return false;
}

/// The signature of a bare model: its feature names; categorical features (LightGBM's
/// feature_infos, XGBoost's feature_types) take codes, or pandas category names when saved.
InputSignature SignatureOf(const Ensemble& ensemble) {
  InputSignature signature;
  signature.dtype = ensemble.precision == Precision::kFloat32 ? "float32" : "float64";
  for (size_t f = 0; f < ensemble.num_features(); ++f) {
    FeatureSpec spec;
    spec.name = ensemble.feature_names[f];
    spec.categorical = ensemble.feature_is_categorical[f] != 0;
    spec.categories = ensemble.feature_categories[f];
    signature.features.push_back(std::move(spec));
  }
  return signature;
}

}  // namespace

Result<Ensemble> ParseModelText(std::string_view text, const std::string& source) {
  if (LooksLikeJson(text)) return LoadXgboostJson(text, source);
  return LoadLightgbmText(text, source);
}

std::string CategoriesSidecarPath(const std::string& model_path) {
  return model_path + ".categories.json";
}

std::string CategoriesSidecarJson(const std::vector<FeatureSpec>& features) {
  Json named = Json::object();
  for (const FeatureSpec& f : features) {
    if (f.categorical && !f.categories.empty()) named[f.name] = f.categories;
  }
  if (named.empty()) return "";
  return Json({{"format", "fraudops-categories/1"}, {"features", named}}).dump(2) + "\n";
}

Result<ModelBundle> LoadModelFile(const std::string& path) {
  FOPS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  ModelBundle bundle;
  FOPS_ASSIGN_OR_RETURN(bundle.ensemble, ParseModelText(text, path));
  bundle.source = path;
  bundle.model_file = fs::path(path).filename().string();
  bundle.algorithm = bundle.ensemble.source_format == "xgboost-json" ? "xgboost" : "lightgbm";
  bundle.input = SignatureOf(bundle.ensemble);
  // An XGBoost file keeps no category names; fraudops train writes them beside it.
  const std::string sidecar = CategoriesSidecarPath(path);
  if (bundle.algorithm == "xgboost" && fs::exists(sidecar)) {
    FOPS_ASSIGN_OR_RETURN(std::string names, ReadFile(sidecar));
    const Json document = Json::parse(names, nullptr, false);
    if (!document.is_object() || document.value("format", "") != "fraudops-categories/1" ||
        !document.contains("features") || !document["features"].is_object()) {
      return Status::DataError(sidecar +
                               ": not a category file ({\"format\": \"fraudops-categories/1\", "
                               "\"features\": {NAME: [CATEGORY, ...]}})");
    }
    for (const auto& item : document["features"].items()) {
      const std::string name = item.key();
      const Json& categories = item.value();
      auto spec = std::find_if(bundle.input.features.begin(), bundle.input.features.end(),
                               [&](const FeatureSpec& f) { return f.name == name; });
      if (spec == bundle.input.features.end()) {
        return Status::DataError(sidecar + ": /features/" + name +
                                 ": the model has no feature of that name");
      }
      // A feature the model splits as a number takes its categories' codes as numbers
      // (external-memory training, docs/external-memory.md).
      spec->categorical = true;
      if (!categories.is_array()) {
        return Status::DataError(sidecar + ": /features/" + name + ": expected a list of names");
      }
      spec->categories.clear();
      for (const Json& c : categories) {
        if (!c.is_string())
          return Status::DataError(sidecar + ": /features/" + name + ": expected strings");
        spec->categories.push_back(c.get<std::string>());
      }
    }
  }
  return bundle;
}

Result<ModelBundle> ParseBundle(
    std::string_view json, const std::string& source,
    const std::function<Result<std::string>(const std::string&)>& read_file) {
  BundleReader r{source};
  Json document = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return r.Error("", "not valid JSON (a bundle.json was expected)");
  if (!document.is_object()) return r.Error("", "expected an object");
  FOPS_ASSIGN_OR_RETURN(const Json* version, r.Get(document, "", "format_version"));
  if (!version->is_number_integer() || version->get<int64_t>() < 1 ||
      version->get<int64_t>() > kBundleFormatVersion) {
    return r.Error("/format_version",
                   version->dump() + " is not a bundle format this build reads; accepted: 1.." +
                       std::to_string(kBundleFormatVersion) + " (a newer fraudops wrote it?)");
  }
  ModelBundle bundle;
  bundle.source = source;
  bundle.format_version = version->get<int>();
  FOPS_ASSIGN_OR_RETURN(bundle.algorithm, r.String(document, "", "algorithm"));
  FOPS_ASSIGN_OR_RETURN(bundle.model_file, r.String(document, "", "model_file"));
  if (bundle.model_file.empty() || bundle.model_file.find('/') != std::string::npos ||
      bundle.model_file == "..") {
    return r.Error("/model_file", "must be a file name inside the bundle");
  }
  // Version 1 keeps the signature's features at the top level, later versions in "input".
  const std::string features_at = bundle.format_version == 1 ? "/features" : "/input/features";
  if (bundle.format_version == 1) {
    // Version 1: the signature is the training schema; lineage fields at the top level.
    FOPS_ASSIGN_OR_RETURN(const Json* features, r.Get(document, "", "features"));
    FOPS_ASSIGN_OR_RETURN(bundle.input.features, r.Features(*features, features_at));
    bundle.input.dtype = "float32";
    for (const char* key : {"source_run", "data_hash", "code_version"}) {
      if (auto it = document.find(key); it != document.end()) {
        bundle.lineage[std::string(key) == "source_run" ? "run_id" : key] = *it;
      }
    }
  } else {
    FOPS_ASSIGN_OR_RETURN(const Json* input, r.Get(document, "", "input"));
    if (!input->is_object()) return r.Error("/input", "expected an object");
    FOPS_ASSIGN_OR_RETURN(const Json* features, r.Get(*input, "/input", "features"));
    FOPS_ASSIGN_OR_RETURN(bundle.input.features, r.Features(*features, features_at));
    FOPS_ASSIGN_OR_RETURN(bundle.input.dtype, r.String(*input, "/input", "dtype"));
    if (bundle.input.dtype != "float32" && bundle.input.dtype != "float64") {
      return r.Error("/input/dtype",
                     "\"" + bundle.input.dtype + "\" is not accepted; accepted: float32, float64");
    }
    FOPS_ASSIGN_OR_RETURN(bundle.input.missing_policy,
                          r.String(*input, "/input", "missing_policy"));
    if (bundle.input.missing_policy != "missing") {
      return r.Error("/input/missing_policy",
                     "\"" + bundle.input.missing_policy + "\" is not accepted; accepted: missing");
    }
    if (auto it = input->find("missing_values"); it != input->end()) {
      FOPS_ASSIGN_OR_RETURN(bundle.input.missing_values, r.Strings(*it, "/input/missing_values"));
    }
    if (auto it = input->find("ignored"); it != input->end()) {
      FOPS_ASSIGN_OR_RETURN(bundle.input.ignored, r.Strings(*it, "/input/ignored"));
    }
    bool store_features = false;
    for (const FeatureSpec& spec : bundle.input.features) store_features |= !spec.feature.empty();
    if (auto it = input->find("feature_groups"); it != input->end()) {
      if (!it->is_array() || it->empty())
        return r.Error("/input/feature_groups", "expected a non-empty array of feature groups");
      for (size_t g = 0; g < it->size(); ++g) {
        if (!(*it)[g].is_object() || !(*it)[g].contains("name"))
          return r.Error("/input/feature_groups/" + std::to_string(g), "expected a feature group");
      }
      bundle.input.feature_groups = *it;
      FOPS_ASSIGN_OR_RETURN(bundle.input.feature_time,
                            r.String(*input, "/input", "feature_time", false));
    }
    if (store_features && bundle.input.feature_groups.empty()) {
      return r.Error("/input/feature_groups",
                     "features read from the feature store need the definitions of their groups");
    }
    if (auto it = document.find("lineage"); it != document.end()) {
      if (!it->is_object()) return r.Error("/lineage", "expected an object");
      bundle.lineage = *it;
    }
    FOPS_ASSIGN_OR_RETURN(bundle.baseline_file, r.String(document, "", "baseline_file", false));
  }
  if (auto deriver = DeriverOf(bundle.input, ""); !deriver.ok())
    return r.Error(features_at, deriver.status().message());
  if (auto it = document.find("threshold"); it != document.end() && !it->is_null()) {
    if (!it->is_number() || !(it->get<double>() >= 0 && it->get<double>() <= 1)) {
      return r.Error("/threshold", "expected a probability in [0, 1]");
    }
    bundle.threshold = it->get<double>();
  }
  if (auto label = document.find("label"); label != document.end()) {
    if (!label->is_object()) return r.Error("/label", "expected an object");
    FOPS_ASSIGN_OR_RETURN(bundle.label_name, r.String(*label, "/label", "name", false));
    if (auto values = label->find("values"); values != label->end()) {
      FOPS_ASSIGN_OR_RETURN(bundle.label_values, r.Strings(*values, "/label/values"));
    }
  }
  if (auto it = document.find("metrics"); it != document.end()) bundle.metrics = *it;
  if (auto it = document.find("calibration"); it != document.end()) {
    Result<ScoreCalibration> calibration = ScoreCalibration::FromJson(*it, "/calibration");
    if (!calibration.ok()) return Status::DataError(source + ": " + calibration.status().message());
    bundle.calibration = std::move(*calibration);
  }

  FOPS_ASSIGN_OR_RETURN(std::string model_text, read_file(bundle.model_file));
  if (auto sha = document.find("model_sha256"); sha != document.end()) {
    if (!sha->is_string()) return r.Error("/model_sha256", "expected a string");
    if (Sha256Hex(model_text) != sha->get<std::string>()) {
      return r.Error(
          "/model_sha256",
          bundle.model_file + " does not match its recorded checksum (changed or corrupted)");
    }
  }
  FOPS_ASSIGN_OR_RETURN(bundle.ensemble, ParseModelText(model_text, bundle.model_file));
  if (auto combine = document.find("combine"); combine != document.end()) {
    FOPS_RETURN_IF_ERROR(r.Combination(*combine, read_file, bundle));
  }
  // The signature must describe the model's columns, in order.
  if (bundle.input.features.size() != bundle.ensemble.num_features()) {
    return r.Error(features_at, "lists " + std::to_string(bundle.input.features.size()) +
                                    " features, but " + bundle.model_file + " has " +
                                    std::to_string(bundle.ensemble.num_features()));
  }
  for (size_t f = 0; f < bundle.input.features.size(); ++f) {
    if (bundle.input.features[f].name != bundle.ensemble.feature_names[f]) {
      return r.Error(features_at + "/" + std::to_string(f) + "/name",
                     "\"" + bundle.input.features[f].name +
                         "\" differs from the model's feature \"" +
                         bundle.ensemble.feature_names[f] + "\"");
    }
  }
  return bundle;
}

Result<ModelBundle> LoadBundle(const std::string& path) {
  fs::path dir = fs::is_directory(path) ? fs::path(path) : fs::path(path).parent_path();
  const std::string bundle_path = (dir / "bundle.json").string();
  FOPS_ASSIGN_OR_RETURN(std::string text, ReadFile(bundle_path));
  FOPS_ASSIGN_OR_RETURN(ModelBundle bundle,
                        ParseBundle(text, bundle_path, [&](const std::string& name) {
                          return ReadFile((dir / name).string());
                        }));
  const fs::path policy_path = dir / kPolicyFileName;
  std::error_code error;
  if (fs::exists(policy_path, error)) {
    FOPS_ASSIGN_OR_RETURN(std::string policy, ReadFile(policy_path.string()));
    FOPS_RETURN_IF_ERROR(SetPolicy(bundle, policy, policy_path.string()));
  }
  return bundle;
}

std::string_view CombineMethodName(CombineMethod method) {
  switch (method) {
    case CombineMethod::kMean:
      return "mean";
    case CombineMethod::kMax:
      return "max";
    case CombineMethod::kWeighted:
      return "weighted";
  }
  return "mean";
}

Result<CombineMethod> ParseCombineMethod(std::string_view name) {
  for (CombineMethod method :
       {CombineMethod::kMean, CombineMethod::kMax, CombineMethod::kWeighted}) {
    if (CombineMethodName(method) == name) return method;
  }
  return Status::InvalidArgument("\"" + std::string(name) +
                                 "\" is not a combination method; accepted: mean, max, weighted");
}

double ModelBundle::Combine(double first, const double* row) const {
  switch (combine) {
    case CombineMethod::kMax: {
      double best = first;
      for (const CombinedModel& other : others)
        best = std::max(best, other.ensemble.PredictProbability(row));
      return best;
    }
    case CombineMethod::kMean: {
      double sum = first;
      for (const CombinedModel& other : others) sum += other.ensemble.PredictProbability(row);
      return sum / static_cast<double>(others.size() + 1);
    }
    case CombineMethod::kWeighted: {
      double sum = weights[0] * first, total = weights[0];
      for (size_t i = 0; i < others.size(); ++i) {
        sum += weights[i + 1] * others[i].ensemble.PredictProbability(row);
        total += weights[i + 1];
      }
      return sum / total;
    }
  }
  return first;
}

size_t ModelBundle::MemoryBytes() const {
  size_t bytes = ensemble.MemoryBytes();
  for (const CombinedModel& other : others) bytes += other.ensemble.MemoryBytes();
  return bytes;
}

Status CheckSameInputs(const ModelBundle& first, const ModelBundle& other,
                       const std::string& other_name) {
  const auto& a = first.input.features;
  const auto& b = other.input.features;
  auto differ = [&](const std::string& what) {
    return Status::InvalidArgument(other_name + " does not take the same inputs as the first " +
                                   "model: " + what + "; a combination scores one row with each");
  };
  if (a.size() != b.size())
    return differ(std::to_string(b.size()) + " features, not " + std::to_string(a.size()));
  for (size_t f = 0; f < a.size(); ++f) {
    if (a[f].name != b[f].name)
      return differ("feature " + std::to_string(f) + " is " + b[f].name + ", not " + a[f].name);
    if (a[f].categorical != b[f].categorical || a[f].categories != b[f].categories)
      return differ("feature " + a[f].name + " is encoded differently");
    if (a[f].derived != b[f].derived)
      return differ("feature " + a[f].name + " is derived differently");
  }
  if (first.input.dtype != other.input.dtype) return differ("dtype " + other.input.dtype);
  if (first.combined() || other.combined()) return differ("a combination cannot be combined again");
  return Status::Ok();
}

nlohmann::json CombinedBundleJson(const nlohmann::json& first_json,
                                  const std::vector<CombinationInput>& models, CombineMethod method,
                                  double threshold, const nlohmann::json& lineage,
                                  std::vector<std::pair<std::string, std::string>>* files) {
  Json out = first_json;
  Json list = Json::array();
  for (size_t i = 0; i < models.size(); ++i) {
    const std::string& original = models[i].bundle->model_file;
    const std::string extension = fs::path(original).extension().string();
    const std::string name = "model-" + std::to_string(i) + extension;
    files->emplace_back(name, models[i].model_text);
    list.push_back({{"file", name},
                    {"sha256", Sha256Hex(models[i].model_text)},
                    {"weight", models[i].weight}});
  }
  std::string algorithms;
  for (const CombinationInput& model : models) {
    if (algorithms.find(model.bundle->algorithm) == std::string::npos)
      algorithms += (algorithms.empty() ? "" : "+") + model.bundle->algorithm;
  }
  out["format_version"] = 3;
  out.erase("calibration");  // fitted to the first model's scores, not the combination's
  out["algorithm"] = algorithms;
  out["model_file"] = list[0]["file"];
  out["model_sha256"] = list[0]["sha256"];
  out["combine"] = {{"method", CombineMethodName(method)}, {"models", list}};
  out["threshold"] = threshold;
  out["metrics"] = Json::object();
  out["lineage"] = lineage;
  return out;
}

Status SetPolicy(ModelBundle& bundle, std::string_view text, const std::string& source) {
  if (text.empty()) {
    bundle.policy.reset();
    bundle.policy_text.clear();
    return Status::Ok();
  }
  FOPS_ASSIGN_OR_RETURN(DecisionPolicy policy, DecisionPolicy::Parse(text, source));
  bundle.policy = std::make_shared<const DecisionPolicy>(std::move(policy));
  bundle.policy_text.assign(text);
  return Status::Ok();
}

Result<ModelBundle> LoadModel(const std::string& path) {
  std::error_code error;
  if (fs::is_directory(path, error) || fs::path(path).filename() == "bundle.json")
    return LoadBundle(path);
  if (!fs::exists(path, error)) {
    return Status::NotFound(path + ": no such model file or bundle directory");
  }
  return LoadModelFile(path);
}

Json MakeBundleJson(const Dataset& train, const BundleInfo& info) {
  Json features = train.SchemaJson()["features"];
  bool derived = false;
  for (const Json& feature : features) derived |= feature.contains("derived");
  Json input = {{"features", features},
                {"dtype", "float32"},
                {"missing_policy", "missing"},
                {"missing_values", info.missing_values}};
  if (!info.ignored_inputs.empty()) input["ignored"] = info.ignored_inputs;
  const bool store = !info.feature_groups.empty();
  if (store) {
    input["feature_groups"] = info.feature_groups;
    input["feature_time"] = info.feature_time;
  }
  Json out = {
      {"format_version", info.calibration ? 5
                         : store          ? 4
                         : derived        ? 3
                                          : 2},
      {"algorithm", info.algorithm},
      {"model_file", info.model_file},
      {"model_format", info.model_format},
      {"model_sha256", info.model_sha256},
      {"input", input},
      {"encoding",
       "numbers parsed as decimal and rounded to float32, as the training dataset stores them; "
       "categories "
       "mapped to their training codes (input.features[].categories), unseen categories and "
       "missing values "
       "passed as missing"},
      {"threshold", info.threshold},
      {"label", {{"name", train.label_name}, {"values", train.label_values}}},
      {"metrics", info.metrics},
      {"lineage", info.lineage},
      {"baseline_file", info.baseline_file}};
  if (info.calibration) out["calibration"] = info.calibration->ToJson();
  return out;
}

Result<FeatureDeriver> DeriverOf(const InputSignature& signature, const std::string& source) {
  std::vector<std::string> columns;
  std::vector<bool> categorical;
  std::vector<DerivedFeature> derived;
  bool store = false;
  for (const FeatureSpec& spec : signature.features) {
    if (spec.derived.empty() && !derived.empty()) {
      return Status::InvalidArgument((source.empty() ? "" : source + ": ") + "raw feature '" +
                                     spec.name +
                                     "' follows a derived one; derived features come last");
    }
    if (spec.feature.empty() && spec.derived.empty() && store) {
      return Status::InvalidArgument((source.empty() ? "" : source + ": ") + "raw feature '" +
                                     spec.name +
                                     "' follows a feature store one; those come after the "
                                     "features requests send");
    }
    store |= !spec.feature.empty();
    columns.push_back(spec.name);
    categorical.push_back(spec.categorical);
    if (!spec.derived.empty()) derived.push_back({spec.name, spec.derived});
  }
  return FeatureDeriver::Create(columns, categorical, derived, signature.dtype != "float64",
                                source);
}

FeatureEncoder::FeatureEncoder(const InputSignature& signature, std::string label)
    : ignored_(signature.ignored),
      label_(std::move(label)),
      float32_(signature.dtype != "float64") {
  if (auto deriver = DeriverOf(signature, "input signature"); deriver.ok())
    deriver_ = std::move(*deriver);  // a bundle's was checked when it was loaded
  client_inputs_ = signature.features.size();
  for (size_t f = 0; f < signature.features.size(); ++f) {
    const FeatureSpec& spec = signature.features[f];
    features_.push_back(&spec);
    const bool client = spec.derived.empty() && spec.feature.empty();
    if (!client) client_inputs_ = std::min(client_inputs_, f);
    store_features_ |= !spec.feature.empty();
    if (client) index_.emplace(spec.name, f);
    std::unordered_map<std::string, double> codes;
    for (size_t c = 0; c < spec.categories.size(); ++c)
      codes.emplace(spec.categories[c], static_cast<double>(c));
    codes_.push_back(std::move(codes));
  }
  missing_values_ = signature.missing_values;
}

int FeatureEncoder::Find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? -1 : static_cast<int>(it->second);
}

double FeatureEncoder::EncodeText(size_t feature, std::string_view text, bool* ok) const {
  *ok = true;
  const double missing = std::nan("");
  const FeatureSpec& spec = *features_[feature];
  if (spec.categorical && !spec.categories.empty()) {
    if (IsMissingMarker(text, missing_values_) || IsMissingMarker(Trim(text), missing_values_))
      return missing;
    auto it = codes_[feature].find(std::string(text));
    return it == codes_[feature].end() ? missing : it->second;  // unseen in training: missing
  }
  double value = 0;
  if (!ParseNumericCell(text, missing_values_, &value)) {  // the CSV reader's own cell parser
    *ok = false;
    return missing;
  }
  return Round(value);
}

double FeatureEncoder::EncodeNumber(size_t feature, double value, bool* ok) const {
  *ok = true;
  const FeatureSpec& spec = *features_[feature];
  if (spec.categorical && !spec.categories.empty()) {
    // A number for a named-category feature: its text form is the category.
    return EncodeText(feature, NumberText(value), ok);
  }
  return Round(value);
}

bool FeatureEncoder::EncodeJsonObject(const nlohmann::json& object, const std::string& where,
                                      double* row, std::string* error) const {
  for (size_t f = 0; f < input_size(); ++f) {
    const std::string& name = features_[f]->name;
    auto it = object.find(name);
    if (it == object.end()) {
      *error = where + ": /" + name + " is missing (send null for a missing value)";
      return false;
    }
    bool ok = false;
    row[f] = EncodeJson(f, *it, &ok);
    if (!ok) {
      *error = where + ": /" + name + ": " + it->dump().substr(0, 40) + " is not a " +
               (features_[f]->categorical ? "category" : "number");
      return false;
    }
  }
  return true;
}

PolicyInput PolicyInputOfJson(const nlohmann::json& value) {
  if (value.is_number()) return PolicyInput::Number(value.get<double>());
  if (value.is_string()) return PolicyInput::String(value.get<std::string>());
  if (value.is_boolean()) return PolicyInput::Bool(value.get<bool>());
  return PolicyInput();
}

double FeatureEncoder::EncodeJson(size_t feature, const nlohmann::json& value, bool* ok) const {
  *ok = true;
  if (value.is_null()) return std::nan("");
  if (value.is_number()) return EncodeNumber(feature, value.get<double>(), ok);
  if (value.is_string()) return EncodeText(feature, value.get_ref<const std::string&>(), ok);
  *ok = false;
  return std::nan("");
}

}  // namespace fraudops
