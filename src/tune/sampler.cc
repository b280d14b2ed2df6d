#include "tune/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "core/numbers.h"
#include "core/strings.h"

namespace fraudops {

namespace {

uint64_t SplitMix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// The trial's random point: its own draw, or the draw of trials 0 … cheap_first − 1 that is
/// its number's in the order of cost.
nlohmann::json RandomDraw(const SampleRequest& request) {
  if (request.number >= request.cheap_first || !request.cost) {
    std::mt19937_64 rng(TrialSeed(request.seed, request.number));
    return request.space->SampleRandom(rng);
  }
  std::vector<std::pair<double, nlohmann::json>> draws;
  for (int64_t n = 0; n < request.cheap_first; ++n) {
    std::mt19937_64 rng(TrialSeed(request.seed, n));
    nlohmann::json point = request.space->SampleRandom(rng);
    draws.emplace_back(request.cost(point), std::move(point));
  }
  std::stable_sort(draws.begin(), draws.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return std::move(draws[static_cast<size_t>(request.number)].second);
}

class RandomSampler : public Sampler {
 public:
  std::string name() const override { return "random"; }
  int RandomTrials() const override { return std::numeric_limits<int>::max(); }
  nlohmann::json Suggest(const SampleRequest& request) const override {
    return RandomDraw(request);
  }
};

double NormalCdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

/// A mixture of Gaussians truncated to [low, high], one at each observation plus a wide prior
/// at the middle (weight 1 each); widths by the distance to the neighbours, clipped.
class ParzenEstimator {
 public:
  ParzenEstimator(std::vector<double> observations, double low, double high)
      : low_(low), high_(high) {
    std::sort(observations.begin(), observations.end());
    const double range = high - low;
    const double middle = 0.5 * (low + high);
    // The prior among the sorted points, so it is a neighbour like the others.
    observations.insert(std::upper_bound(observations.begin(), observations.end(), middle), middle);
    const size_t n = observations.size();
    const double min_sigma = range / std::min(100.0, 1.0 + static_cast<double>(n));
    for (size_t i = 0; i < n; ++i) {
      const double left = i == 0 ? observations[i] - low : observations[i] - observations[i - 1];
      const double right =
          i + 1 == n ? high - observations[i] : observations[i + 1] - observations[i];
      double sigma = std::clamp(std::max(left, right), min_sigma, range);
      mu_.push_back(observations[i]);
      sigma_.push_back(sigma);
    }
    // The prior keeps its full width.
    for (size_t i = 0; i < n; ++i) {
      if (mu_[i] == middle) {
        sigma_[i] = range;
        break;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      mass_.push_back(std::max(
          1e-12, NormalCdf((high_ - mu_[i]) / sigma_[i]) - NormalCdf((low_ - mu_[i]) / sigma_[i])));
    }
  }

  double Sample(std::mt19937_64& rng) const {
    std::uniform_int_distribution<size_t> component(0, mu_.size() - 1);
    const size_t k = component(rng);
    std::normal_distribution<double> normal(mu_[k], sigma_[k]);
    for (int attempt = 0; attempt < 100; ++attempt) {
      const double x = normal(rng);
      if (x >= low_ && x <= high_) return x;
    }
    return std::clamp(mu_[k], low_, high_);
  }

  double LogDensity(double x) const {
    double sum = 0;
    for (size_t i = 0; i < mu_.size(); ++i) {
      const double z = (x - mu_[i]) / sigma_[i];
      sum += std::exp(-0.5 * z * z) / (sigma_[i] * mass_[i]);
    }
    return std::log(std::max(sum / static_cast<double>(mu_.size()), 1e-300));
  }

 private:
  double low_, high_;
  std::vector<double> mu_, sigma_, mass_;
};

class TpeSampler : public Sampler {
 public:
  std::string name() const override { return "tpe"; }
  int RandomTrials() const override { return kTpeStartupTrials; }

  nlohmann::json Suggest(const SampleRequest& request) const override {
    struct Ranked {
      int group;  // 0 complete, 1 pruned, 2 running (the constant liar: worst of all)
      double key1, key2;
      const TrialRecord* trial;
    };
    std::vector<Ranked> ranked;
    int finished = 0;
    for (const TrialRecord& trial : request.trials) {
      if (trial.number == request.number) continue;
      if (trial.state == TrialState::kComplete && trial.value) {
        ranked.push_back({0, Loss(*trial.value, request.maximize), 0, &trial});
        ++finished;
      } else if (trial.state == TrialState::kPruned) {
        // Pruned later is better; then by the best value it reached.
        const nlohmann::json& curve = trial.detail.value("curve", nlohmann::json::array());
        double last_step = curve.empty() ? 0 : curve.back()[0].get<double>();
        double best = kInf;
        for (const nlohmann::json& point : curve)
          best = std::min(best, Loss(point[1].get<double>(), request.maximize));
        ranked.push_back({1, -last_step, best, &trial});
        ++finished;
      } else if (trial.state == TrialState::kRunning) {
        ranked.push_back({2, 0, 0, &trial});
      }
    }
    if (finished < kTpeStartupTrials) return RandomDraw(request);
    std::mt19937_64 rng(TrialSeed(request.seed, request.number));
    std::stable_sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
      if (a.group != b.group) return a.group < b.group;
      if (a.key1 != b.key1) return a.key1 < b.key1;
      return a.key2 < b.key2;
    });
    // The good share, as Optuna's default: 10 % of the trials, at most 25.
    const size_t below_count = std::clamp<size_t>(
        static_cast<size_t>(std::ceil(0.1 * static_cast<double>(ranked.size()))), 1, 25);
    nlohmann::json params = nlohmann::json::object();
    for (const Dimension& d : request.space->dimensions()) {
      if (!request.space->Active(d, params)) continue;
      std::vector<nlohmann::json> below, above;
      for (size_t i = 0; i < ranked.size(); ++i) {
        const nlohmann::json& p = ranked[i].trial->params;
        if (!p.contains(d.name) || !d.Contains(p.at(d.name))) continue;
        (i < below_count ? below : above).push_back(p.at(d.name));
      }
      params[d.name] = d.Numeric() ? SampleNumeric(d, below, above, rng)
                                   : SampleCategorical(d, below, above, rng);
    }
    return params;
  }

 private:
  static nlohmann::json SampleNumeric(const Dimension& d, const std::vector<nlohmann::json>& below,
                                      const std::vector<nlohmann::json>& above,
                                      std::mt19937_64& rng) {
    const auto [low, high] = d.InternalBounds();
    auto internal = [&](const std::vector<nlohmann::json>& values) {
      std::vector<double> out;
      for (const nlohmann::json& v : values) out.push_back(d.ToInternal(v.get<double>()));
      return out;
    };
    const ParzenEstimator good(internal(below), low, high), bad(internal(above), low, high);
    double best_x = good.Sample(rng), best_score = -kInf;
    for (int c = 0; c < kTpeCandidates; ++c) {
      const double x = c == 0 ? best_x : good.Sample(rng);
      const double score = good.LogDensity(x) - bad.LogDensity(x);
      if (score > best_score) {
        best_score = score;
        best_x = x;
      }
    }
    return d.FromInternal(best_x);
  }

  static nlohmann::json SampleCategorical(const Dimension& d,
                                          const std::vector<nlohmann::json>& below,
                                          const std::vector<nlohmann::json>& above,
                                          std::mt19937_64& rng) {
    const size_t k = d.choices.size();
    std::vector<double> good(k, 1.0), bad(k, 1.0);  // a prior of one each
    for (const nlohmann::json& v : below) good[static_cast<size_t>(d.ChoiceIndex(v))] += 1;
    for (const nlohmann::json& v : above) bad[static_cast<size_t>(d.ChoiceIndex(v))] += 1;
    const double good_total = static_cast<double>(below.size() + k);
    const double bad_total = static_cast<double>(above.size() + k);
    std::discrete_distribution<size_t> draw(good.begin(), good.end());
    size_t best = draw(rng);
    double best_score = -kInf;
    for (int c = 0; c < kTpeCandidates; ++c) {
      const size_t i = c == 0 ? best : draw(rng);
      const double score = std::log(good[i] / good_total) - std::log(bad[i] / bad_total);
      if (score > best_score) {
        best_score = score;
        best = i;
      }
    }
    return d.choices[best];
  }
};

}  // namespace

uint64_t TrialSeed(uint64_t seed, int64_t number) {
  return SplitMix(SplitMix(seed) ^ static_cast<uint64_t>(number + 1));
}

SamplerRegistry::SamplerRegistry() {
  auto add = [this](std::unique_ptr<Sampler> sampler) {
    std::string name = sampler->name();
    samplers_[name] = std::move(sampler);
  };
  add(std::make_unique<RandomSampler>());
  add(std::make_unique<TpeSampler>());
}

Result<const Sampler*> SamplerRegistry::Find(const std::string& name) const {
  auto it = samplers_.find(name);
  if (it == samplers_.end()) {
    std::vector<std::string> names = Names();
    return Status::InvalidArgument("sampler '" + name + "' is not known; accepted: " +
                                   Join(names, ", ") + DidYouMean(name, names));
  }
  return it->second.get();
}

std::vector<std::string> SamplerRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, sampler] : samplers_) names.push_back(name);
  return names;
}

}  // namespace fraudops
