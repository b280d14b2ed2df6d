// Tuning's search-space files (src/tune/search_space.h, docs/tuning.md): any JSON is a space
// or an InvalidArgument naming where ("fuzz …"). A parsed space round-trips through its own
// declaration, and every point the random and TPE samplers draw from it — TPE after finished
// and running trials — lies inside it.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "train/lgbm_params.h"
#include "train/xgboost_trainer.h"
#include "tune/sampler.h"
#include "tune/search_space.h"

namespace {

void Check(const nlohmann::json& spec, const std::vector<fraudops::ParamSpec>& params,
           const std::string& family, const std::string& metric) {
  auto space = fraudops::SearchSpace::Parse(spec, params, family, "fuzz", {metric});
  if (!space.ok()) {
    if (space.status().code() != fraudops::StatusCode::kInvalidArgument ||
        space.status().message().rfind("fuzz", 0) != 0) {
      std::abort();
    }
    return;
  }
  auto again = fraudops::SearchSpace::Parse(space->ToJson(), params, family, "fuzz", {metric});
  if (!again.ok() || again->ToJson() != space->ToJson()) std::abort();
  static const fraudops::SamplerRegistry kSamplers;
  std::vector<fraudops::TrialRecord> trials;
  for (int64_t number = 0; number < 14; ++number) {
    const fraudops::Sampler& sampler = **kSamplers.Find(number % 2 ? "tpe" : "random");
    // The first 10 draws cheapest first by a stand-in cost (the trainers' own is numbers).
    fraudops::SampleRequest request{
        &*space,
        trials,
        number % 3 == 0,
        7,
        number,
        /*cheap_first=*/10,
        [](const nlohmann::json& point) { return static_cast<double>(point.dump().size()); }};
    fraudops::TrialRecord trial;
    trial.number = number;
    trial.params = sampler.Suggest(request);
    if (!space->Contains(trial.params)) std::abort();
    trial.state =
        number % 4 == 3 ? fraudops::TrialState::kRunning : fraudops::TrialState::kComplete;
    trial.value = static_cast<double>((number * 37) % 11);
    trials.push_back(std::move(trial));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const nlohmann::json spec = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (spec.is_discarded()) return 0;
  Check(spec, fraudops::XgboostParamSpecs(), "xgboost", "eval_metric");
  Check(spec, fraudops::LgbmParamSpecs(), "lgbm", "metric");
  return 0;
}
