#pragma once
/// The `lgbm` algorithm: fraudops' native LightGBM-compatible gradient boosting. Histogram
/// trees grown leaf-wise (train/lgbm_learner.h) on LightGBM's bins (train/lgbm_bins.h), with
/// LightGBM's parameters (train/lgbm_params.h), objectives `binary` and `regression`,
/// bagging, balanced bagging and GOSS, feature_fraction per tree and per node, early stopping
/// on validation metrics, and the model written in LightGBM's text format v4 — a file
/// LightGBM loads and scores the same, and that the engine scores bit for bit like LightGBM.
/// The same seed gives the same model for any number of threads.

#include <string>
#include <vector>

#include "core/status.h"
#include "train/lgbm_params.h"
#include "train/trainer.h"

namespace fraudops {

class LgbmTrainer : public Trainer {
 public:
  std::string name() const override { return "lgbm"; }
  Result<std::unique_ptr<TrainedModel>> Train(const TrainInput& input,
                                              const Context& context) const override;
  Result<std::unique_ptr<TrainedModel>> Load(std::string_view serialized) const override;
  const std::vector<ParamSpec>& Params() const override { return LgbmParamSpecs(); }
  double TrialCost(const nlohmann::json& params) const override;
  /// Keeps the bins of the training and validation rows between trainings on them.
  std::unique_ptr<TrainCache> MakeCache() const override;
  TuningNames Tuning() const override {
    return {"num_iterations",
            "early_stopping_round",
            "learning_rate",
            "metric",
            {{"roc_auc", "auc"}, {"pr_auc", "average_precision"}, {"log_loss", "binary_logloss"}},
            {{"is_provide_training_metric", false}}};
  }
};

/// The raw scores an `lgbm` model's boosting loop ended with on its training rows (what the
/// engine must reproduce from the written file), or null when early stopping cut trees or
/// `model` is not an lgbm model trained in this process.
const std::vector<double>* LgbmTrainingScores(const TrainedModel& model);

/// Total gain per feature of a LightGBM text model, read from its trees' split_feature and
/// split_gain lines, in feature_names order.
Result<std::vector<std::pair<std::string, double>>> LightgbmFeatureGains(std::string_view text);

}  // namespace fraudops
