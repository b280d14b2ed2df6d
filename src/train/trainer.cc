#include "train/trainer.h"

#include <algorithm>

#include "core/strings.h"
#include "model/bundle.h"
#include "train/lgbm_trainer.h"
#include "train/xgboost_trainer.h"

namespace fraudops {

Result<std::shared_ptr<const Ensemble>> TrainedModel::Engine() const {
  MutexLock lock(&engine_mutex_);
  if (!engine_) {
    FOPS_ASSIGN_OR_RETURN(std::string serialized, Serialize());
    FOPS_ASSIGN_OR_RETURN(Ensemble parsed, ParseModelText(serialized, FileName()));
    engine_ = std::make_shared<const Ensemble>(std::move(parsed));
  }
  return engine_;
}

Result<std::vector<float>> TrainedModel::PredictProbability(const Dataset& dataset,
                                                            const Context& context) const {
  FOPS_ASSIGN_OR_RETURN(const std::shared_ptr<const Ensemble> engine, Engine());
  if (engine->num_features() != dataset.num_features()) {
    return Status::InvalidArgument("the model has " + std::to_string(engine->num_features()) +
                                   " features, the dataset " +
                                   std::to_string(dataset.num_features()));
  }
  std::vector<double> margins =
      engine->PredictMargins(std::span<const float>(dataset.RowMajor()), context);
  std::vector<float> out(margins.size());
  for (size_t r = 0; r < margins.size(); ++r)
    out[r] = static_cast<float>(engine->ApplyLink(margins[r]));
  return out;
}

double BoostingTrialCost(double rounds, double patience, double learning_rate, double levels) {
  double expected = rounds;
  if (patience > 0 && learning_rate > 0) expected = std::min(rounds, patience + 12 / learning_rate);
  return std::max(1.0, expected) * (1 + std::max(0.0, levels) / 4);
}

double NumberOr(const nlohmann::json& params, const std::string& name, double otherwise) {
  const auto found = params.find(name);
  return found != params.end() && found->is_number() ? found->get<double>() : otherwise;
}

void TrainerRegistry::Register(std::unique_ptr<Trainer> trainer) {
  std::string key = trainer->name();
  trainers_[key] = std::move(trainer);
}

Result<const Trainer*> TrainerRegistry::Find(const std::string& name) const {
  auto it = trainers_.find(name);
  if (it == trainers_.end()) {
    std::vector<std::string> names = Names();
    return Status::InvalidArgument("unknown training algorithm '" + name + "'" +
                                   DidYouMean(name, names) + "; valid: " + Join(names, ", "));
  }
  return static_cast<const Trainer*>(it->second.get());
}

std::vector<std::string> TrainerRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, trainer] : trainers_) names.push_back(name);
  return names;
}

void RegisterBuiltinTrainers(TrainerRegistry& registry) {
  registry.Register(std::make_unique<XgboostTrainer>());
  registry.Register(std::make_unique<LgbmTrainer>());
}

}  // namespace fraudops
