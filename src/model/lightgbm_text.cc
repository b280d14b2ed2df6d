#include "model/lightgbm_text.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "core/strings.h"

namespace fraudops {

namespace {

/// One `key=value` line with its line number.
struct Entry {
  std::string_view value;
  size_t line = 0;
};

class Reader {
 public:
  Reader(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  Status Error(size_t line, const std::string& what) const {
    return Status::DataError(source_ + ":" + std::to_string(line) + ": " + what);
  }

  /// The next line without its end (CRLF accepted); false at the end of the text.
  bool NextLine(std::string_view& line) {
    if (position_ >= text_.size()) return false;
    size_t end = text_.find('\n', position_);
    if (end == std::string_view::npos) end = text_.size();
    line = text_.substr(position_, end - position_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    position_ = end + 1;
    ++line_;
    return true;
  }
  size_t line() const { return line_; }

  /// Reads `key=value` lines into `out` until a blank line or the end; a "Tree=" or "end of
  /// trees" line that starts the next section is left unread. A line without '=' is an error.
  Status ReadSection(std::map<std::string, Entry, std::less<>>& out) {
    std::string_view line;
    size_t saved_position = position_, saved_line = line_;
    while (NextLine(line)) {
      if (line.empty()) {
        if (out.empty()) continue;  // blank lines before the section
        return Status::Ok();
      }
      if (line.starts_with("Tree=") && !out.empty()) {
        position_ = saved_position;
        line_ = saved_line;
        return Status::Ok();
      }
      if (line == "end of trees") {
        if (!out.empty()) {
          position_ = saved_position;
          line_ = saved_line;
        } else {
          out.emplace("end of trees", Entry{line, line_});
        }
        return Status::Ok();
      }
      size_t eq = line.find('=');
      if (eq == std::string_view::npos) {
        return Error(line_, "expected key=value, got \"" + std::string(line.substr(0, 60)) + "\"");
      }
      out.insert_or_assign(std::string(line.substr(0, eq)), Entry{line.substr(eq + 1), line_});
      saved_position = position_;
      saved_line = line_;
    }
    return Status::Ok();
  }

  std::string_view Rest() const {
    return position_ < text_.size() ? text_.substr(position_) : std::string_view();
  }

 private:
  std::string_view text_;
  const std::string& source_;
  size_t position_ = 0, line_ = 0;
};

using Section = std::map<std::string, Entry, std::less<>>;

template <typename T>
Result<std::vector<T>> ParseArray(const Reader& reader, const Section& section,
                                  const std::string& key, size_t expected, size_t section_line) {
  auto it = section.find(key);
  if (it == section.end()) {
    if (expected == 0) return std::vector<T>{};
    return reader.Error(section_line, "missing \"" + key + "=\"");
  }
  std::vector<T> out;
  out.reserve(expected);
  std::string_view rest = it->second.value;
  while (!rest.empty()) {
    size_t space = rest.find(' ');
    std::string_view token = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    if (token.empty()) continue;
    if constexpr (std::is_floating_point_v<T>) {
      auto value = ParseDouble(token);
      if (!value) {
        return reader.Error(it->second.line,
                            key + ": \"" + std::string(token.substr(0, 40)) + "\" is not a number");
      }
      out.push_back(*value);
    } else {
      T value{};
      auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
      if (ec != std::errc() || end != token.data() + token.size()) {
        return reader.Error(it->second.line, key + ": \"" + std::string(token.substr(0, 40)) +
                                                 "\" is not an integer");
      }
      out.push_back(value);
    }
  }
  if (out.size() != expected) {
    return reader.Error(it->second.line, key + " has " + std::to_string(out.size()) +
                                             " values, expected " + std::to_string(expected));
  }
  return out;
}

Result<int64_t> ParseCount(const Reader& reader, const Section& section, const std::string& key,
                           size_t section_line, int64_t low, int64_t high) {
  auto it = section.find(key);
  if (it == section.end()) return reader.Error(section_line, "missing \"" + key + "=\"");
  auto value = ParseInt(it->second.value);
  if (!value || *value < low || *value > high) {
    return reader.Error(it->second.line, key + "=" + std::string(it->second.value.substr(0, 40)) +
                                             " is not an integer in " + std::to_string(low) + ".." +
                                             std::to_string(high));
  }
  return static_cast<int64_t>(*value);
}

/// One `Tree=` section into the builder. Internal node i is node i, leaf l is node
/// (num_leaves - 1) + l; LightGBM writes a child as i ≥ 0 (internal) or ~l (leaf).
Status ReadTree(const Reader& reader, const Section& tree, size_t line, size_t features,
                EnsembleBuilder& builder) {
  FOPS_ASSIGN_OR_RETURN(int64_t leaves, ParseCount(reader, tree, "num_leaves", line, 1, 1 << 24));
  if (auto linear = tree.find("is_linear"); linear != tree.end() && linear->second.value != "0") {
    return reader.Error(linear->second.line, "linear trees (linear_tree=true) are not supported");
  }
  const auto num_leaves = static_cast<size_t>(leaves), internal = num_leaves - 1;
  FOPS_ASSIGN_OR_RETURN(auto leaf_value,
                        ParseArray<double>(reader, tree, "leaf_value", num_leaves, line));
  // Counts weigh TreeSHAP's paths; a model saved without them still predicts.
  std::vector<double> leaf_count(num_leaves, 0), internal_count(internal, 0);
  if (tree.contains("leaf_count")) {
    FOPS_ASSIGN_OR_RETURN(leaf_count,
                          ParseArray<double>(reader, tree, "leaf_count", num_leaves, line));
  }
  if (internal > 0 && tree.contains("internal_count")) {
    FOPS_ASSIGN_OR_RETURN(internal_count,
                          ParseArray<double>(reader, tree, "internal_count", internal, line));
  }
  builder.StartTree(internal + num_leaves);
  for (size_t l = 0; l < num_leaves; ++l) {
    builder.SetLeaf(internal + l, leaf_value[l], static_cast<int32_t>(l), leaf_count[l]);
  }
  if (internal == 0) return Status::Ok();

  FOPS_ASSIGN_OR_RETURN(auto split_feature,
                        ParseArray<int64_t>(reader, tree, "split_feature", internal, line));
  FOPS_ASSIGN_OR_RETURN(auto threshold,
                        ParseArray<double>(reader, tree, "threshold", internal, line));
  FOPS_ASSIGN_OR_RETURN(auto decision_type,
                        ParseArray<int64_t>(reader, tree, "decision_type", internal, line));
  FOPS_ASSIGN_OR_RETURN(auto left_child,
                        ParseArray<int64_t>(reader, tree, "left_child", internal, line));
  FOPS_ASSIGN_OR_RETURN(auto right_child,
                        ParseArray<int64_t>(reader, tree, "right_child", internal, line));
  int64_t num_cat = 0;
  if (tree.contains("num_cat")) {
    FOPS_ASSIGN_OR_RETURN(
        num_cat, ParseCount(reader, tree, "num_cat", line, 0, static_cast<int64_t>(internal)));
  }
  std::vector<int64_t> cat_boundaries;
  std::vector<uint32_t> cat_threshold;
  if (num_cat > 0) {
    FOPS_ASSIGN_OR_RETURN(cat_boundaries,
                          ParseArray<int64_t>(reader, tree, "cat_boundaries",
                                              static_cast<size_t>(num_cat) + 1, line));
    auto words = tree.find("cat_threshold");
    const int64_t total = cat_boundaries.back();
    if (cat_boundaries.front() != 0 || total < 0 || total > (1 << 24) ||
        !std::is_sorted(cat_boundaries.begin(), cat_boundaries.end())) {
      return reader.Error(tree.at("cat_boundaries").line, "cat_boundaries must rise from 0");
    }
    FOPS_ASSIGN_OR_RETURN(
        cat_threshold,
        ParseArray<uint32_t>(reader, tree, "cat_threshold", static_cast<size_t>(total),
                             words == tree.end() ? line : words->second.line));
  }

  auto child = [&](int64_t c) -> int32_t {
    if (c >= 0) return c < static_cast<int64_t>(internal) ? static_cast<int32_t>(c) : -1;
    const int64_t leaf = ~c;
    return leaf < static_cast<int64_t>(num_leaves)
               ? static_cast<int32_t>(internal + static_cast<size_t>(leaf))
               : -1;
  };
  const size_t decision_line = tree.at("decision_type").line;
  for (size_t i = 0; i < internal; ++i) {
    const int64_t type = decision_type[i];
    if (type < 0 || type > 15 || ((type >> 2) & 3) == 3) {
      return reader.Error(decision_line,
                          "decision_type " + std::to_string(type) + " (node " + std::to_string(i) +
                              ") is not valid; bit 0 categorical, bit 1 default left, bits 2-3 "
                              "missing type 0..2");
    }
    if (split_feature[i] < 0 || split_feature[i] >= static_cast<int64_t>(features)) {
      return reader.Error(tree.at("split_feature").line,
                          "node " + std::to_string(i) + " splits on feature " +
                              std::to_string(split_feature[i]) + ", but the model has " +
                              std::to_string(features) + " features");
    }
    const int32_t left = child(left_child[i]), right = child(right_child[i]);
    if (left < 0 || right < 0) {
      return reader.Error(tree.at("left_child").line,
                          "node " + std::to_string(i) + " has a child out of range");
    }
    const auto feature = static_cast<int32_t>(split_feature[i]);
    const bool default_left = (type & 2) != 0;
    const double cover = internal_count[i];
    if (type & 1) {
      const double index = threshold[i];
      if (!(index >= 0 && index < static_cast<double>(num_cat)) || index != std::floor(index)) {
        return reader.Error(tree.at("threshold").line,
                            "node " + std::to_string(i) + ": categorical threshold " +
                                std::to_string(index) +
                                " is not a split index below num_cat=" + std::to_string(num_cat));
      }
      const auto k = static_cast<size_t>(index);
      std::vector<uint32_t> categories;
      for (auto w = static_cast<size_t>(cat_boundaries[k]);
           w < static_cast<size_t>(cat_boundaries[k + 1]); ++w) {
        for (uint32_t bit = 0; bit < 32; ++bit) {
          if ((cat_threshold[w] >> bit) & 1u) {
            categories.push_back(
                static_cast<uint32_t>(w - static_cast<size_t>(cat_boundaries[k])) * 32 + bit);
          }
        }
      }
      // LightGBM sends listed categories left and NaN or negative codes right.
      builder.SetCategoricalSplit(i, feature, std::move(categories), /*listed_go_left=*/true,
                                  /*default_left=*/false, left, right, cover);
    } else {
      const auto missing = static_cast<MissingType>((type >> 2) & 3);
      builder.SetSplit(i, feature, threshold[i], missing, default_left, left, right, cover);
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Ensemble> LoadLightgbmText(std::string_view text, const std::string& source) {
  Reader reader(text, source);
  std::string_view first;
  while (reader.NextLine(first) && first.empty()) {
  }
  if (first != "tree") {
    return reader.Error(reader.line(),
                        "not a LightGBM text model (the first line should be \"tree\")");
  }
  Section header;
  FOPS_RETURN_IF_ERROR(reader.ReadSection(header));
  const size_t header_line = reader.line();
  if (auto version = header.find("version");
      version == header.end() || (version->second.value != "v3" && version->second.value != "v4")) {
    return reader.Error(version == header.end() ? header_line : version->second.line,
                        "model version is not supported; accepted: version=v3, version=v4");
  }
  FOPS_ASSIGN_OR_RETURN(int64_t classes,
                        ParseCount(reader, header, "num_class", header_line, 1, 1 << 20));
  if (classes != 1)
    return reader.Error(header.at("num_class").line, "multi-class models are not supported");
  if (header.contains("average_output")) {
    return reader.Error(header.at("average_output").line,
                        "random-forest models (average_output) are not supported");
  }
  FOPS_ASSIGN_OR_RETURN(int64_t max_feature, ParseCount(reader, header, "max_feature_idx",
                                                        header_line, 0, (1 << 24) - 2));
  const auto features = static_cast<size_t>(max_feature) + 1;

  // The objective decides the link.
  auto objective = header.find("objective");
  if (objective == header.end()) return reader.Error(header_line, "missing \"objective=\"");
  std::vector<std::string> words = Split(objective->second.value, ' ');
  const std::string name = words.empty() ? "" : words[0];
  Link link;
  double scale = 1.0;
  if (name == "binary") {
    link = Link::kSigmoid;
    for (const std::string& word : words) {
      if (word.starts_with("sigmoid:")) {
        auto value = ParseDouble(std::string_view(word).substr(8));
        if (!value || !(*value > 0))
          return reader.Error(objective->second.line, "sigmoid must be a positive number");
        scale = *value;
      }
    }
  } else if (name == "cross_entropy" || name == "xentropy") {
    link = Link::kSigmoid;
  } else if (name == "regression" || name == "regression_l1" || name == "huber" || name == "fair" ||
             name == "quantile" || name == "mape") {
    link = Link::kIdentity;
  } else if (name == "poisson" || name == "gamma" || name == "tweedie") {
    link = Link::kExp;
  } else {
    return reader.Error(objective->second.line,
                        "objective \"" + name +
                            "\" is not supported; accepted: binary, cross_entropy, regression, "
                            "regression_l1, huber, fair, quantile, mape, poisson, gamma, tweedie");
  }

  std::vector<std::string> names;
  if (auto it = header.find("feature_names"); it != header.end())
    names = Split(it->second.value, ' ');
  if (names.size() != features) {
    return reader.Error(
        header.contains("feature_names") ? header.at("feature_names").line : header_line,
        "feature_names lists " + std::to_string(names.size()) + " names, expected " +
            std::to_string(features) + " (max_feature_idx + 1)");
  }
  std::vector<uint8_t> categorical(features, 0);
  if (auto it = header.find("feature_infos"); it != header.end()) {
    std::vector<std::string> infos = Split(it->second.value, ' ');
    if (infos.size() != features) {
      return reader.Error(it->second.line, "feature_infos has " + std::to_string(infos.size()) +
                                               " entries, expected " + std::to_string(features));
    }
    // "[min:max]" numerical, "none" unused, "a:b:c" the categories a categorical feature saw.
    for (size_t f = 0; f < features; ++f)
      categorical[f] = !infos[f].starts_with('[') && infos[f] != "none";
  }

  EnsembleBuilder builder(names);
  size_t trees = 0;
  bool ended = false;
  while (!ended) {
    Section tree;
    FOPS_RETURN_IF_ERROR(reader.ReadSection(tree));
    if (tree.empty()) break;
    if (tree.contains("end of trees")) {
      ended = true;
      break;
    }
    auto title = tree.find("Tree");
    if (title == tree.end())
      return reader.Error(tree.begin()->second.line, "expected a \"Tree=N\" section");
    if (title->second.value != std::to_string(trees)) {
      return reader.Error(title->second.line,
                          "Tree=" + std::string(title->second.value.substr(0, 20)) +
                              " out of order; expected Tree=" + std::to_string(trees));
    }
    FOPS_RETURN_IF_ERROR(ReadTree(reader, tree, title->second.line, features, builder));
    FOPS_RETURN_IF_ERROR(builder.EndTree(source + ": Tree=" + std::to_string(trees)));
    ++trees;
  }
  if (!ended)
    return reader.Error(reader.line(), "the model ends before \"end of trees\" (truncated?)");
  if (trees == 0) return reader.Error(reader.line(), "the model has no trees");

  FOPS_ASSIGN_OR_RETURN(Ensemble ensemble,
                        builder.Finish(0.0, link, Precision::kFloat64, "lightgbm-text"));
  ensemble.link_scale = scale;
  ensemble.feature_is_categorical = categorical;

  // The Python package appends the pandas category names of the categorical features, in
  // feature order: "pandas_categorical:[["a", "b"], …]" (or null).
  std::string_view line;
  Reader tail(reader.Rest(), source);
  while (tail.NextLine(line)) {
    if (!line.starts_with("pandas_categorical:")) continue;
    auto lists = nlohmann::json::parse(line.substr(19), nullptr, /*allow_exceptions=*/false);
    if (lists.is_discarded() || !(lists.is_null() || lists.is_array())) {
      return reader.Error(reader.line() + tail.line(), "pandas_categorical is not a JSON array");
    }
    size_t k = 0;
    for (size_t f = 0; f < features && lists.is_array() && k < lists.size(); ++f) {
      if (!categorical[f]) continue;
      if (lists[k].is_array()) {
        for (const auto& level : lists[k]) {
          ensemble.feature_categories[f].push_back(level.is_string() ? level.get<std::string>()
                                                                     : level.dump());
        }
      }
      ++k;
    }
  }
  return ensemble;
}

}  // namespace fraudops

namespace fraudops {

namespace {

/// LightGBM writes thresholds, leaf values and weights with 17 significant digits, gains and
/// internal values with the stream default of 6.
template <typename T>
void AppendList(std::string& out, const char* key, const std::vector<T>& values, bool precise) {
  out += key;
  out += '=';
  char text[40];
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ' ';
    if constexpr (std::is_floating_point_v<T>) {
      std::snprintf(text, sizeof text, precise ? "%.17g" : "%g", static_cast<double>(values[i]));
      out += text;
    } else {
      out += std::to_string(values[i]);
    }
  }
  out += '\n';
}

std::string TreeText(const LightgbmTextTree& tree) {
  std::string out;
  out += "num_leaves=" + std::to_string(tree.num_leaves) + "\n";
  out += "num_cat=" + std::to_string(tree.category_bitsets.size()) + "\n";
  AppendList(out, "split_feature", tree.split_feature, false);
  AppendList(out, "split_gain", tree.split_gain, false);
  AppendList(out, "threshold", tree.threshold, true);
  AppendList(out, "decision_type", tree.decision_type, false);
  AppendList(out, "left_child", tree.left_child, false);
  AppendList(out, "right_child", tree.right_child, false);
  AppendList(out, "leaf_value", tree.leaf_value, true);
  AppendList(out, "leaf_weight", tree.leaf_weight, true);
  AppendList(out, "leaf_count", tree.leaf_count, false);
  AppendList(out, "internal_value", tree.internal_value, false);
  AppendList(out, "internal_weight", tree.internal_weight, false);
  AppendList(out, "internal_count", tree.internal_count, false);
  if (!tree.category_bitsets.empty()) {
    std::vector<int> boundaries = {0};
    std::vector<uint32_t> words;
    for (const std::vector<uint32_t>& bitset : tree.category_bitsets) {
      words.insert(words.end(), bitset.begin(), bitset.end());
      boundaries.push_back(static_cast<int>(words.size()));
    }
    AppendList(out, "cat_boundaries", boundaries, false);
    AppendList(out, "cat_threshold", words, false);
  }
  out += "is_linear=0\n";
  char shrinkage[40];
  std::snprintf(shrinkage, sizeof shrinkage, "%g", tree.shrinkage);
  out += std::string("shrinkage=") + shrinkage + "\n\n";
  return out;
}

}  // namespace

std::string WriteLightgbmText(const LightgbmTextModel& model) {
  std::vector<std::string> trees;
  std::vector<size_t> sizes;
  std::vector<int64_t> splits(model.feature_names.size(), 0);
  for (size_t t = 0; t < model.trees.size(); ++t) {
    trees.push_back("Tree=" + std::to_string(t) + "\n" + TreeText(model.trees[t]) + "\n");
    sizes.push_back(trees.back().size());
    for (int feature : model.trees[t].split_feature) ++splits[static_cast<size_t>(feature)];
  }
  std::string out = "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\n";
  out += "label_index=" + std::to_string(model.label_index) + "\n";
  out +=
      "max_feature_idx=" + std::to_string(static_cast<int>(model.feature_names.size()) - 1) + "\n";
  out += "objective=" + model.objective + "\n";
  out += "feature_names=" + Join(model.feature_names, " ") + "\n";
  out += "feature_infos=" + Join(model.feature_infos, " ") + "\n";
  AppendList(out, "tree_sizes", sizes, false);
  out += "\n";
  for (const std::string& tree : trees) out += tree;
  out += "end of trees\n\nfeature_importances:\n";
  std::vector<size_t> order;
  for (size_t f = 0; f < splits.size(); ++f) {
    if (splits[f] > 0) order.push_back(f);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return splits[a] > splits[b]; });
  for (size_t f : order) out += model.feature_names[f] + "=" + std::to_string(splits[f]) + "\n";
  out += "\nparameters:\n";
  for (const auto& [name, value] : model.parameters) out += "[" + name + ": " + value + "]\n";
  out += "\nend of parameters\n";
  if (!model.pandas_categorical.empty())
    out += "\npandas_categorical:" + nlohmann::json(model.pandas_categorical).dump() + "\n";
  return out;
}

}  // namespace fraudops
