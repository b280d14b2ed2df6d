#pragma once
/// The `xgboost` algorithm through libxgboost's C API: `hist` by default, all cores unless
/// nthread is set, early stopping on the validation set's last eval_metric,
/// scale_pos_weight from the class balance unless set, per-round metrics recorded, the model
/// kept up to its best round and saved as XGBoost JSON.

#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "data/dataset_file.h"
#include "train/params.h"
#include "train/trainer.h"

namespace fraudops {

/// Turns a libxgboost return code into a Status carrying XGBGetLastError() (the one place
/// where library errors are translated).
Status XgbCheck(int return_code, const char* call);

/// The XGBoost parameters fraudops accepts (docs/hyperparameters.md is generated from it).
const std::vector<ParamSpec>& XgboostParamSpecs();

class XgboostTrainer : public Trainer {
 public:
  std::string name() const override { return "xgboost"; }
  Result<std::unique_ptr<TrainedModel>> Train(const TrainInput& input,
                                              const Context& context) const override;
  Result<std::unique_ptr<TrainedModel>> Load(std::string_view serialized) const override;
  const std::vector<ParamSpec>& Params() const override { return XgboostParamSpecs(); }
  std::unique_ptr<TrainCache> MakeCache() const override;
  double TrialCost(const nlohmann::json& params) const override;
  TuningNames Tuning() const override {
    return {"num_round",
            "early_stopping_rounds",
            "eta",
            "eval_metric",
            {{"roc_auc", "auc"}, {"pr_auc", "aucpr"}, {"log_loss", "logloss"}},
            {{"train_metrics_every", 100000}}};
  }
};

/// Helpers shared with the training-overhead benchmark: a DMatrix from a dataset, owned.
class XgbMatrix {
 public:
  XgbMatrix();
  ~XgbMatrix();
  XgbMatrix(const XgbMatrix&) = delete;
  XgbMatrix& operator=(const XgbMatrix&) = delete;
  XgbMatrix(XgbMatrix&& other) noexcept;
  XgbMatrix& operator=(XgbMatrix&& other) noexcept;

  /// Builds the matrix with labels, feature names and types (categorical as 'c').
  static Result<XgbMatrix> FromDataset(const Dataset& dataset, int threads);
  /// An external-memory matrix (XGDMatrixCreateFromCallback): `file`'s rows handed to
  /// libxgboost `batch_rows` at a time, which keeps its pages in files named
  /// `cache_prefix`*; only a batch and libxgboost's per-row state stay in memory.
  static Result<XgbMatrix> FromDatasetFile(const DatasetFileView& file,
                                           const std::string& cache_prefix, size_t batch_rows,
                                           int threads);
  void* handle() const { return handle_; }
  /// External memory: the first failed read of the file (which ended that pass), else OK.
  Status status() const;

 private:
  struct Batches;
  void* handle_ = nullptr;
  void* proxy_ = nullptr;             ///< external memory: the proxy batches are set on
  std::unique_ptr<Batches> batches_;  ///< external memory: the iterator libxgboost calls
};

/// The xgboost trainer's cache: the DMatrix of each dataset it trained on (and with it
/// libxgboost's quantile sketch of the rows), built once. Keyed by the addresses of the dataset
/// and of its row weights: both must outlive the cache and not change.
class XgbTrainCache : public TrainCache {
 public:
  /// `weights`: one per row, or empty.
  Result<const XgbMatrix*> Matrix(const Dataset& dataset, std::span<const float> weights,
                                  int threads);

 private:
  std::map<std::pair<const Dataset*, const float*>, XgbMatrix> matrices_;
};

}  // namespace fraudops
