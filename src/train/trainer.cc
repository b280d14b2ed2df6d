#include "train/trainer.h"

#include "core/strings.h"
#include "train/xgboost_trainer.h"

namespace fraudops {

namespace {

/// LightGBM is registered so the name is known and the message is clear; its native
/// trainer is the subject of its own issue.
class LgbmPendingTrainer : public Trainer {
 public:
  std::string name() const override { return "lgbm"; }
  Result<std::unique_ptr<TrainedModel>> Train(const TrainInput&, const Context&) const override {
    return Status::Unimplemented(
        "training algorithm 'lgbm' is not available yet: fraudops' native LightGBM-compatible "
        "trainer has not landed in this version; use 'xgboost' (train.algorithm, "
        "TRAINING_ALGORITHM or --algorithm)");
  }
  Result<std::unique_ptr<TrainedModel>> Load(std::string_view) const override {
    return Status::Unimplemented("cannot load an 'lgbm' model: the LightGBM-compatible engine has not landed yet");
  }
};

}  // namespace

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
  registry.Register(std::make_unique<LgbmPendingTrainer>());
}

}  // namespace fraudops
