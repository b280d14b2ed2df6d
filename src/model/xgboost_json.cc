#include "model/xgboost_json.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/strings.h"

namespace fraudops {

namespace {

using Json = nlohmann::json;

/// Walks the document with JSON pointers in every error.
struct Reader {
  const std::string& source;

  Status Error(const std::string& pointer, const std::string& what) const {
    return Status::DataError(source + ": " + pointer + ": " + what);
  }

  Result<const Json*> Member(const Json& object, const std::string& pointer,
                             const char* name) const {
    if (!object.is_object()) return Error(pointer, "expected an object");
    auto it = object.find(name);
    if (it == object.end()) return Error(pointer, std::string("missing \"") + name + "\"");
    return &*it;
  }

  Result<const Json*> Array(const Json& object, const std::string& pointer, const char* name,
                            size_t size) const {
    FOPS_ASSIGN_OR_RETURN(const Json* array, Member(object, pointer, name));
    if (!array->is_array()) return Error(pointer + "/" + name, "expected an array");
    if (array->size() != size) {
      return Error(pointer + "/" + name, "has " + std::to_string(array->size()) +
                                             " entries, expected " + std::to_string(size) +
                                             " (tree_param/num_nodes)");
    }
    return array;
  }

  /// XGBoost writes parameters as strings ("5E-1"); accept numbers too.
  Result<double> Number(const Json& value, const std::string& pointer) const {
    if (value.is_number()) return value.get<double>();
    if (value.is_string()) {
      if (auto parsed = ParseDouble(value.get<std::string>())) return *parsed;
    }
    return Error(pointer, "expected a number, got " + value.dump().substr(0, 40));
  }
};

/// libxgboost writes NaN (and could write ±Infinity) as bare tokens, which JSON does not
/// allow: they become null outside strings (a categorical split's unused condition is NaN).
std::string NonFiniteToNull(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size())
        out += text[++i];
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    bool replaced = false;
    for (std::string_view token : {"NaN", "-Infinity", "Infinity"}) {
      if (text.substr(i, token.size()) == token) {
        out += "null";
        i += token.size() - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += c;
  }
  return out;
}

}  // namespace

Result<Ensemble> LoadXgboostJson(std::string_view text, const std::string& source) {
  Json document = Json::parse(NonFiniteToNull(text), nullptr, /*allow_exceptions=*/false);
  Reader r{source};
  if (document.is_discarded())
    return r.Error("", "not valid JSON (an XGBoost JSON model was expected)");
  FOPS_ASSIGN_OR_RETURN(const Json* learner, r.Member(document, "", "learner"));
  FOPS_ASSIGN_OR_RETURN(const Json* booster, r.Member(*learner, "/learner", "gradient_booster"));
  FOPS_ASSIGN_OR_RETURN(const Json* booster_name,
                        r.Member(*booster, "/learner/gradient_booster", "name"));
  if (*booster_name != "gbtree") {
    return r.Error("/learner/gradient_booster/name",
                   "booster " + booster_name->dump() + " is not supported; accepted: \"gbtree\"");
  }
  FOPS_ASSIGN_OR_RETURN(const Json* params, r.Member(*learner, "/learner", "learner_model_param"));
  FOPS_ASSIGN_OR_RETURN(const Json* base_score_text,
                        r.Member(*params, "/learner/learner_model_param", "base_score"));
  FOPS_ASSIGN_OR_RETURN(double base_score,
                        r.Number(*base_score_text, "/learner/learner_model_param/base_score"));
  int num_features = 0;
  if (auto it = params->find("num_feature"); it != params->end()) {
    FOPS_ASSIGN_OR_RETURN(double count, r.Number(*it, "/learner/learner_model_param/num_feature"));
    num_features = static_cast<int>(count);
  }
  if (auto it = params->find("num_class"); it != params->end()) {
    FOPS_ASSIGN_OR_RETURN(double classes, r.Number(*it, "/learner/learner_model_param/num_class"));
    if (classes > 1)
      return r.Error("/learner/learner_model_param/num_class",
                     "multi-class models are not supported");
  }

  // The objective decides the link and how base_score becomes a margin.
  FOPS_ASSIGN_OR_RETURN(const Json* objective, r.Member(*learner, "/learner", "objective"));
  FOPS_ASSIGN_OR_RETURN(const Json* objective_name,
                        r.Member(*objective, "/learner/objective", "name"));
  std::string name = objective_name->is_string() ? objective_name->get<std::string>() : "";
  Link link;
  double base_margin;
  if (name == "binary:logistic" || name == "reg:logistic") {
    if (!(base_score > 0 && base_score < 1)) {
      return r.Error("/learner/learner_model_param/base_score", "must be in (0, 1) for " + name);
    }
    link = Link::kSigmoid;
    base_margin = std::log(base_score / (1 - base_score));
  } else if (name == "binary:logitraw" || name == "reg:squarederror") {
    link = name == "binary:logitraw" ? Link::kSigmoid : Link::kIdentity;
    base_margin = base_score;
  } else {
    return r.Error("/learner/objective/name",
                   "objective " + objective_name->dump() +
                       " is not supported; accepted: binary:logistic, binary:logitraw, "
                       "reg:logistic, reg:squarederror");
  }

  std::vector<std::string> names;
  if (auto it = learner->find("feature_names");
      it != learner->end() && it->is_array() && !it->empty()) {
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string())
        return r.Error("/learner/feature_names/" + std::to_string(i), "expected a string");
      names.push_back((*it)[i].get<std::string>());
    }
    num_features = std::max(num_features, static_cast<int>(names.size()));
  }
  for (int f = static_cast<int>(names.size()); f < num_features; ++f)
    names.push_back("f" + std::to_string(f));

  FOPS_ASSIGN_OR_RETURN(const Json* model,
                        r.Member(*booster, "/learner/gradient_booster", "model"));
  FOPS_ASSIGN_OR_RETURN(const Json* trees,
                        r.Member(*model, "/learner/gradient_booster/model", "trees"));
  if (!trees->is_array())
    return r.Error("/learner/gradient_booster/model/trees", "expected an array");
  EnsembleBuilder builder(names);
  for (size_t t = 0; t < trees->size(); ++t) {
    const std::string at = "/learner/gradient_booster/model/trees/" + std::to_string(t);
    const Json& tree = (*trees)[t];
    FOPS_ASSIGN_OR_RETURN(const Json* tree_param, r.Member(tree, at, "tree_param"));
    FOPS_ASSIGN_OR_RETURN(const Json* num_nodes_text,
                          r.Member(*tree_param, at + "/tree_param", "num_nodes"));
    FOPS_ASSIGN_OR_RETURN(double num_nodes,
                          r.Number(*num_nodes_text, at + "/tree_param/num_nodes"));
    if (!(num_nodes >= 1 && num_nodes <= 1e8))
      return r.Error(at + "/tree_param/num_nodes", "must be 1..1e8");
    const auto nodes = static_cast<size_t>(num_nodes);
    FOPS_ASSIGN_OR_RETURN(const Json* left, r.Array(tree, at, "left_children", nodes));
    FOPS_ASSIGN_OR_RETURN(const Json* right, r.Array(tree, at, "right_children", nodes));
    FOPS_ASSIGN_OR_RETURN(const Json* indices, r.Array(tree, at, "split_indices", nodes));
    FOPS_ASSIGN_OR_RETURN(const Json* conditions, r.Array(tree, at, "split_conditions", nodes));
    FOPS_ASSIGN_OR_RETURN(const Json* defaults, r.Array(tree, at, "default_left", nodes));
    const Json* hessians = nullptr;  // the cover TreeSHAP weighs paths by
    if (tree.contains("sum_hessian")) {
      FOPS_ASSIGN_OR_RETURN(hessians, r.Array(tree, at, "sum_hessian", nodes));
    }
    const Json* types = nullptr;
    if (tree.contains("split_type")) {
      FOPS_ASSIGN_OR_RETURN(types, r.Array(tree, at, "split_type", nodes));
    }
    // Categorical splits: categories_nodes[i] uses categories[segments[i] .. + sizes[i]].
    std::vector<std::vector<uint32_t>> node_categories(nodes);
    if (auto cat_nodes = tree.find("categories_nodes");
        cat_nodes != tree.end() && !cat_nodes->empty()) {
      FOPS_ASSIGN_OR_RETURN(const Json* segments,
                            r.Array(tree, at, "categories_segments", cat_nodes->size()));
      FOPS_ASSIGN_OR_RETURN(const Json* sizes,
                            r.Array(tree, at, "categories_sizes", cat_nodes->size()));
      FOPS_ASSIGN_OR_RETURN(const Json* categories, r.Member(tree, at, "categories"));
      for (size_t i = 0; i < cat_nodes->size(); ++i) {
        const Json &node = (*cat_nodes)[i], &begin = (*segments)[i], &size = (*sizes)[i];
        if (!node.is_number_unsigned() || node.get<size_t>() >= nodes ||
            !begin.is_number_unsigned() || !size.is_number_unsigned() ||
            begin.get<size_t>() + size.get<size_t>() > categories->size()) {
          return r.Error(at + "/categories_nodes/" + std::to_string(i),
                         "a categorical split out of range");
        }
        for (size_t c = begin.get<size_t>(); c < begin.get<size_t>() + size.get<size_t>(); ++c) {
          if (!(*categories)[c].is_number_unsigned())
            return r.Error(at + "/categories/" + std::to_string(c), "expected a category code");
          node_categories[node.get<size_t>()].push_back((*categories)[c].get<uint32_t>());
        }
      }
    }
    builder.StartTree(nodes);
    for (size_t n = 0; n < nodes; ++n) {
      const std::string node_at = "/" + std::to_string(n);
      const Json &l = (*left)[n], &rr = (*right)[n], &index = (*indices)[n],
                 &condition = (*conditions)[n];
      if (!l.is_number_integer() || !rr.is_number_integer())
        return r.Error(at + "/left_children" + node_at, "expected integers for the children");
      bool categorical = types && (*types)[n].is_number() && (*types)[n].get<int>() == 1;
      if (!condition.is_number() && !categorical)
        return r.Error(at + "/split_conditions" + node_at, "expected a number");
      const double cover =
          hessians && (*hessians)[n].is_number() ? (*hessians)[n].get<double>() : 0.0;
      if (l.get<int64_t>() == -1) {
        // A leaf keeps its value in split_conditions.
        builder.SetLeaf(n, condition.get<float>(), static_cast<int32_t>(n), cover);
        continue;
      }
      if (!index.is_number_unsigned() || index.get<uint64_t>() >= names.size()) {
        return r.Error(at + "/split_indices" + node_at,
                       "feature " + index.dump() + " is out of range; the model has " +
                           std::to_string(names.size()) + " features");
      }
      auto feature = static_cast<int32_t>(index.get<uint64_t>());
      bool default_left = (*defaults)[n].is_number() && (*defaults)[n].get<double>() != 0;
      auto child = [](const Json& j) {
        return static_cast<int32_t>(std::clamp<int64_t>(j.get<int64_t>(), -2, INT32_MAX));
      };
      if (categorical) {
        builder.SetCategoricalSplit(n, feature, node_categories[n], /*listed_go_left=*/false,
                                    default_left, child(l), child(rr), cover);
      } else {
        // libxgboost tests float(x) < t; stored as x <= the float below t.
        builder.SetSplit(n, feature, FloatBelow(condition.get<float>()), MissingType::kNan,
                         default_left, child(l), child(rr), cover);
      }
    }
    FOPS_RETURN_IF_ERROR(builder.EndTree(source + ": " + at));
  }
  FOPS_ASSIGN_OR_RETURN(Ensemble ensemble,
                        builder.Finish(base_margin, link, Precision::kFloat32, "xgboost-json"));
  if (auto it = learner->find("feature_types"); it != learner->end() && it->is_array()) {
    for (size_t i = 0; i < it->size() && i < ensemble.num_features(); ++i) {
      ensemble.feature_is_categorical[i] = (*it)[i] == "c" ? 1 : 0;
    }
  }
  return ensemble;
}

}  // namespace fraudops
