#include "model/batch_scoring.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/files.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "data/record_stream.h"
#include "model/tree_shap.h"

namespace fraudops {

namespace fs = std::filesystem;

namespace {

Result<std::string> FormatOf(const std::string& explicit_format, const std::string& path,
                             const char* option) {
  if (!explicit_format.empty()) {
    if (explicit_format == "csv" || explicit_format == "jsonl") return explicit_format;
    return Status::InvalidArgument(std::string(option) + "-format \"" + explicit_format +
                                   "\"; accepted: csv, jsonl");
  }
  std::string extension = fs::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (extension == ".csv" || extension == ".tsv" || extension == ".txt") return std::string("csv");
  if (extension == ".jsonl" || extension == ".ndjson" || extension == ".json")
    return std::string("jsonl");
  return Status::InvalidArgument("cannot tell the format of " +
                                 (path == "-" ? std::string("standard ") + option : path) +
                                 " from its name; pass --" + option + "-format csv|jsonl");
}

void AppendNumber(std::string& out, double value) {
  if (std::isnan(value)) return;  // missing: an empty field
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, end);
}

void AppendCsvField(std::string& out, std::string_view text, char delimiter) {
  if (text.find_first_of(std::string{delimiter, '"', '\n', '\r'}) == std::string_view::npos) {
    out.append(text);
    return;
  }
  out += '"';
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

/// The first (lowest row) parse or encoding error of a chunk, reported from any thread.
class ErrorSlot {
 public:
  void Report(size_t row, std::string message) {
    std::lock_guard lock(mutex_);
    if (row < row_) {
      row_ = row;
      message_ = std::move(message);
    }
  }
  bool has_error() const { return row_ != SIZE_MAX; }
  const std::string& message() const { return message_; }

 private:
  std::mutex mutex_;
  size_t row_ = SIZE_MAX;
  std::string message_;
};

/// The output file, written to a temporary name and renamed into place on Commit.
class OutputFile {
 public:
  static Result<OutputFile> Open(const std::string& path) {
    OutputFile out;
    out.path_ = path;
    if (path == "-") {
      out.file_ = stdout;
      return out;
    }
    out.temp_ = TempPathFor(path);
    out.file_ = std::fopen(out.temp_.c_str(), "wb");
    if (out.file_ == nullptr)
      return Status::IoError(path + ": cannot write: " + std::strerror(errno));
    return out;
  }
  OutputFile() = default;
  OutputFile(OutputFile&& other) noexcept { *this = std::move(other); }
  OutputFile& operator=(OutputFile&& other) noexcept {
    std::swap(file_, other.file_);
    std::swap(path_, other.path_);
    std::swap(temp_, other.temp_);
    return *this;
  }
  ~OutputFile() {
    if (file_ != nullptr && file_ != stdout) {
      std::fclose(file_);
      std::remove(temp_.c_str());
    }
  }
  Status Write(std::string_view bytes) {
    if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
      return Status::IoError(path_ + ": write failed: " + std::strerror(errno));
    }
    return Status::Ok();
  }
  Status Commit() {
    if (file_ == stdout) {
      std::fflush(stdout);
      file_ = nullptr;
      return Status::Ok();
    }
    const bool flushed = std::fflush(file_) == 0;
    std::fclose(file_);
    file_ = nullptr;
    if (!flushed) {
      std::remove(temp_.c_str());
      return Status::IoError(path_ + ": cannot finish writing: " + std::strerror(errno));
    }
    return CommitTempFile(temp_, path_);  // fsync, then rename into place
  }

 private:
  std::FILE* file_ = nullptr;
  std::string path_, temp_;
};

/// Everything fixed for one scoring job.
struct Job {
  Job(const ModelBundle& b, const BatchScoringOptions& o, const Context& c)
      : bundle(b), options(o), context(c), encoder(b.input) {}
  const ModelBundle& bundle;
  const BatchScoringOptions& options;
  const Context& context;
  FeatureEncoder encoder;
  std::optional<TreeShap> shap;
  std::optional<double> threshold;
  bool csv_in = true, csv_out = true;
  char delimiter = ',';
  std::vector<std::string> header;     ///< CSV input columns
  std::vector<size_t> feature_column;  ///< CSV: input column of each model feature
  std::vector<size_t> keep_column;     ///< CSV: input column of each kept column
  /// The input fields kept per row: the policy's (first), then enrichment's.
  std::vector<std::string> field_names;
  std::vector<int> enrichment_slots;  ///< slot in field_names of each enrichment field
  std::vector<bool> keep_text;        ///< per field: an entity key, kept as its text
  std::vector<int> policy_column;     ///< CSV: input column of each field (-1: none, score)
  std::string positive = "1", negative = "0";
};

/// Parses and encodes row `r` of `chunk` into `row`, and collects its kept columns as
/// CSV-ready text or JSON values and its policy fields' values. False (with `error`) when
/// the row is malformed.
bool EncodeRow(const Job& job, const RecordChunk& chunk, size_t r, double* row,
               std::vector<std::string>& kept, std::vector<PolicyInput>& policy_in,
               std::vector<std::string_view>& fields, std::string& scratch, std::string* error) {
  const FeatureEncoder& encoder = job.encoder;
  const std::string& path = job.options.input;
  const std::string where = path + ":" + std::to_string(chunk.line[r]);
  if (job.csv_in) {
    SplitCsvRecord(chunk.record(r), job.delimiter, fields);
    if (fields.size() != job.header.size()) {
      *error = where + ": has " + std::to_string(fields.size()) + " fields, the header " +
               std::to_string(job.header.size());
      return false;
    }
    for (size_t f = 0; f < encoder.input_size(); ++f) {
      const size_t c = job.feature_column[f];
      std::string_view text = UnquoteCsvField(fields[c], scratch);
      bool ok = false;
      row[f] = encoder.EncodeText(f, text, &ok);
      if (!ok) {
        *error = where + ": column " + std::to_string(c + 1) + " (" + job.header[c] + "): \"" +
                 std::string(text.substr(0, 40)) + "\" is not a number";
        return false;
      }
    }
    for (size_t k = 0; k < job.keep_column.size(); ++k) {
      std::string_view text = UnquoteCsvField(fields[job.keep_column[k]], scratch);
      if (job.csv_out)
        kept[k].assign(text);
      else
        kept[k] = nlohmann::json(std::string(text)).dump();  // JSON output: a string value
    }
    for (size_t p = 0; p < job.policy_column.size(); ++p) {  // every kept field
      if (job.policy_column[p] >= 0) {
        std::string_view text =
            UnquoteCsvField(fields[static_cast<size_t>(job.policy_column[p])], scratch);
        policy_in[p] = job.keep_text[p] ? PolicyInput::String(text) : PolicyInput::OfText(text);
      }
    }
    return true;
  }
  auto object = nlohmann::json::parse(chunk.record(r), nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded() || !object.is_object()) {
    *error =
        where + ": not a JSON object (each line of a JSON Lines file holds one row as an object)";
    return false;
  }
  if (!encoder.EncodeJsonObject(object, where, row, error)) return false;
  for (size_t k = 0; k < job.options.keep.size(); ++k) {
    auto it = object.find(job.options.keep[k]);
    if (it == object.end()) {
      *error = where + ": /" + job.options.keep[k] + " (a --keep column) is missing";
      return false;
    }
    kept[k] = job.csv_out ? (it->is_string() ? it->get<std::string>() : it->dump()) : it->dump();
  }
  const std::vector<std::string>& names = job.field_names;
  for (size_t p = 0; p < names.size(); ++p) {
    auto it = object.find(names[p]);
    if (names[p] != "score" && it != object.end()) policy_in[p] = PolicyInputOfJson(*it);
  }
  return true;
}

/// The number a reason code shows for a value: a float32 model's in its shortest float form
/// (what was sent: "-3.3", not -3.299999952316284).
double DisplayNumber(const FeatureEncoder& encoder, double value) {
  return encoder.float32() ? ShortestFloatAsDouble(static_cast<float>(value)) : value;
}

/// The text a reason code shows for a value: the category name when known.
std::string DisplayValue(const FeatureEncoder& encoder, const FeatureSpec& spec, double value) {
  if (std::isnan(value)) return "";
  if (spec.categorical && value >= 0 && static_cast<size_t>(value) < spec.categories.size()) {
    return spec.categories[static_cast<size_t>(value)];
  }
  std::string out;
  AppendNumber(out, DisplayNumber(encoder, value));
  return out;
}

/// Formats output rows [begin, end) of a chunk.
void FormatRows(const Job& job, size_t begin, size_t end, const std::vector<double>& matrix,
                const std::vector<double>& margins,
                const std::vector<std::vector<std::string>>& kept,
                const std::vector<std::vector<PolicyInput>>& policy_in, std::string& out,
                size_t* positives) {
  const DecisionPolicy* policy = job.options.policy;
  std::vector<PolicyValue> values;
  const size_t width = job.encoder.size();
  const size_t explain = job.options.explain;
  std::vector<double> contributions;
  if (explain > 0) {  // the block's rows at once: each tree's tables stay in cache
    TreeShap::Workspace workspace;
    contributions.resize((end - begin) * (width + 1));
    job.shap->Contributions(matrix.data() + begin * width, end - begin, contributions.data(),
                            workspace);
  }
  for (size_t r = begin; r < end; ++r) {
    double margin = margins[r];
    double score = job.bundle.ensemble.ApplyLink(margin);
    if (job.bundle.combined()) {  // the combination's probability, and its log-odds
      score = job.bundle.Combine(score, matrix.data() + r * width);
      margin = std::log(score / (1 - score));
    }
    score = job.bundle.Calibrated(score);  // the margin stays the model's (reasons explain it)
    const bool positive = job.threshold && score >= *job.threshold;
    *positives += positive;
    PolicyDecision decided;
    if (policy) {
      values.clear();
      const std::vector<std::string>& names = policy->fields();
      for (size_t p = 0; p < names.size(); ++p) {
        values.push_back(names[p] == "score" ? PolicyValue::Number(score) : policy_in[r][p].View());
      }
      decided = policy->Evaluate(values);
    }
    std::vector<ReasonCode> reasons;
    if (explain > 0) {
      reasons =
          TreeShap::TopReasons(matrix.data() + r * width,
                               contributions.data() + (r - begin) * (width + 1), width, explain);
    }
    if (job.csv_out) {
      for (const std::string& value : kept[r]) {
        AppendCsvField(out, value, ',');
        out += ',';
      }
      AppendNumber(out, score);
      out += ',';
      AppendNumber(out, margin);
      if (job.threshold) {
        out += ',';
        AppendCsvField(out, positive ? job.positive : job.negative, ',');
      }
      for (size_t k = 0; k < explain; ++k) {
        out += ',';
        if (k < reasons.size()) {
          const FeatureSpec& spec = job.encoder.feature(reasons[k].feature);
          AppendCsvField(out, spec.name, ',');
          out += ',';
          AppendCsvField(out, DisplayValue(job.encoder, spec, reasons[k].value), ',');
          out += ',';
          AppendNumber(out, reasons[k].contribution);
        } else {
          out += ",,";
        }
      }
      if (policy) {
        out += ',';
        AppendCsvField(out, std::string(decided.decision), ',');
        out += ',';
        AppendCsvField(out, std::string(decided.rule), ',');
      }
      out += '\n';
    } else {
      out += '{';
      for (size_t k = 0; k < job.options.keep.size(); ++k) {
        out += nlohmann::json(job.options.keep[k]).dump();
        out += ':';
        out += kept[r][k];
        out += ',';
      }
      out += "\"score\":";
      AppendNumber(out, score);
      out += ",\"margin\":";
      AppendNumber(out, margin);
      if (job.threshold) {
        out += ",\"label\":";
        out += nlohmann::json(positive ? job.positive : job.negative).dump();
      }
      if (explain > 0) {
        out += ",\"reasons\":[";
        for (size_t k = 0; k < reasons.size(); ++k) {
          const FeatureSpec& spec = job.encoder.feature(reasons[k].feature);
          nlohmann::json value =
              std::isnan(reasons[k].value) ? nlohmann::json(nullptr)
              : spec.categorical && !spec.categories.empty()
                  ? nlohmann::json(DisplayValue(job.encoder, spec, reasons[k].value))
                  : nlohmann::json(DisplayNumber(job.encoder, reasons[k].value));
          out += (k ? "," : "");
          out += "{\"feature\":" + nlohmann::json(spec.name).dump() + ",\"value\":" + value.dump() +
                 ",\"contribution\":";
          AppendNumber(out, reasons[k].contribution);
          out += '}';
        }
        out += ']';
      }
      if (policy) {
        out += ",\"decision\":" + nlohmann::json(decided.decision).dump() +
               ",\"rule\":" + nlohmann::json(decided.rule).dump();
      }
      out += "}\n";
    }
  }
}

Status ReadCsvHeader(Job& job, RecordReader& reader) {
  RecordChunk first;
  FOPS_ASSIGN_OR_RETURN(bool any, reader.Next(first, 1));
  if (!any)
    return Status::DataError(job.options.input +
                             ": the file is empty (a CSV header line was expected)");
  job.delimiter = DetectCsvDelimiter(first.record(0));
  std::vector<std::string_view> fields;
  SplitCsvRecord(first.record(0), job.delimiter, fields);
  std::string scratch;
  for (std::string_view field : fields)
    job.header.emplace_back(Trim(UnquoteCsvField(field, scratch)));
  auto column_of = [&](const std::string& name) -> int {
    for (size_t c = 0; c < job.header.size(); ++c) {
      if (job.header[c] == name) return static_cast<int>(c);
    }
    return -1;
  };
  std::vector<std::string> absent;
  for (size_t f = 0; f < job.encoder.input_size(); ++f) {  // derived features are computed
    const int c = column_of(job.encoder.feature(f).name);
    if (c < 0) absent.push_back(job.encoder.feature(f).name);
    job.feature_column.push_back(static_cast<size_t>(std::max(c, 0)));
  }
  if (!absent.empty()) {
    std::string message = job.options.input + ":1: the header lacks " +
                          std::to_string(absent.size()) +
                          " feature column(s) the model needs: " + Join(absent, ", ");
    if (absent.size() == 1) message += DidYouMean(absent[0], job.header);  // a renamed column
    return Status::DataError(message);
  }
  for (const std::string& name : job.options.keep) {
    const int c = column_of(name);
    if (c < 0) {
      return Status::InvalidArgument("--keep " + name + ": " + job.options.input +
                                     " has no such column" + DidYouMean(name, job.header));
    }
    job.keep_column.push_back(static_cast<size_t>(c));
  }
  const size_t policy_fields = job.options.policy ? job.options.policy->fields().size() : 0;
  for (size_t p = 0; p < job.field_names.size(); ++p) {
    const std::string& name = job.field_names[p];
    const int c = name == "score" ? -1 : column_of(name);
    const bool time_field = job.options.enrichment && p >= policy_fields &&
                            name == job.options.enrichment->fields.back() &&
                            !job.bundle.input.feature_time.empty() &&
                            name == job.bundle.input.feature_time;
    if (name != "score" && c < 0 && !time_field) {  // without the time, rows score as of now
      return Status::InvalidArgument(
          (p < policy_fields ? "the decision policy reads '"
                             : "the model reads feature store features by '") +
          name + "', which is not a column of " + job.options.input + DidYouMean(name, job.header));
    }
    job.policy_column.push_back(c);
  }
  return Status::Ok();
}

std::string OutputHeader(const Job& job) {
  std::string out;
  for (const std::string& name : job.options.keep) {
    AppendCsvField(out, name, ',');
    out += ',';
  }
  out += "score,margin";
  if (job.threshold) out += ",label";
  for (size_t k = 1; k <= job.options.explain; ++k) {
    const std::string n = std::to_string(k);
    out += ",reason_" + n + ",reason_" + n + "_value,reason_" + n + "_contribution";
  }
  if (job.options.policy) out += ",decision,rule";
  out += '\n';
  return out;
}

}  // namespace

Result<BatchScoringResult> ScoreFile(const ModelBundle& bundle, const BatchScoringOptions& options,
                                     const Context& context) {
  const auto start = std::chrono::steady_clock::now();
  Job job(bundle, options, context);
  FOPS_ASSIGN_OR_RETURN(std::string in_format,
                        FormatOf(options.input_format, options.input, "input"));
  // Standard output without --output-format: the input's format (a pipe has no extension).
  FOPS_ASSIGN_OR_RETURN(std::string out_format,
                        options.output == "-" && options.output_format.empty()
                            ? Result<std::string>(in_format)
                            : FormatOf(options.output_format, options.output, "output"));
  job.csv_in = in_format == "csv";
  job.csv_out = out_format == "csv";
  job.threshold = options.threshold ? options.threshold : bundle.threshold;
  if (bundle.label_values.size() == 2) {
    job.negative = bundle.label_values[0];
    job.positive = bundle.label_values[1];
  }
  if (options.explain > 0) {
    if (bundle.combined()) {
      return Status::InvalidArgument(
          "--explain: a combination of models cannot explain its score; explain each model");
    }
    FOPS_ASSIGN_OR_RETURN(TreeShap shap, TreeShap::Create(bundle.ensemble));
    job.shap.emplace(std::move(shap));
  }
  const size_t width = job.encoder.size();
  if (width != bundle.ensemble.num_features())
    return Status::Internal("signature and model disagree");
  if (options.policy) job.field_names = options.policy->fields();
  if (job.encoder.has_store_features()) {
    if (options.enrichment == nullptr) {
      return Status::InvalidArgument(
          "the model reads features from the feature store; batch scoring needs the workspace's "
          "feature store to read them from");
    }
    for (const std::string& field : options.enrichment->fields) {
      auto it = std::find(job.field_names.begin(), job.field_names.end(), field);
      job.enrichment_slots.push_back(static_cast<int>(it - job.field_names.begin()));
      if (it == job.field_names.end()) job.field_names.push_back(field);
    }
  }
  job.keep_text.assign(job.field_names.size(), false);
  for (size_t i = 0; i < job.enrichment_slots.size(); ++i) {  // keys: not the time (last)
    if (i + 1 < job.enrichment_slots.size() || bundle.input.feature_time.empty())
      job.keep_text[static_cast<size_t>(job.enrichment_slots[i])] = true;
  }

  FOPS_ASSIGN_OR_RETURN(auto reader, RecordReader::Open(options.input, job.csv_in));
  if (job.csv_in) FOPS_RETURN_IF_ERROR(ReadCsvHeader(job, *reader));
  FOPS_ASSIGN_OR_RETURN(OutputFile output, OutputFile::Open(options.output));
  if (job.csv_out) FOPS_RETURN_IF_ERROR(output.Write(OutputHeader(job)));

  auto for_each_block = [&](size_t blocks, const std::function<void(size_t)>& body) {
    if (context.pool != nullptr) {
      context.pool->ParallelFor(blocks, body);
    } else {
      for (size_t b = 0; b < blocks; ++b) body(b);
    }
  };
  BatchScoringResult result;
  RecordChunk chunk;
  std::vector<double> matrix;
  std::vector<std::vector<std::string>> kept;
  std::vector<std::vector<PolicyInput>> policy_in;
  const size_t policy_fields = job.field_names.size();  // the policy's and enrichment's
  const bool enrich = !job.enrichment_slots.empty();
  std::vector<PolicyInput> flat_fields;
  constexpr size_t kBlock = 1024;
  std::vector<std::string> formatted;
  std::vector<size_t> positives;
  while (true) {
    FOPS_ASSIGN_OR_RETURN(bool more, reader->Next(chunk, std::max<size_t>(1, options.chunk_rows)));
    if (!more) break;
    const size_t rows = chunk.size();
    const size_t blocks = (rows + kBlock - 1) / kBlock;
    matrix.assign(rows * width, 0.0);
    kept.resize(rows);
    policy_in.resize(rows);
    ErrorSlot errors;
    auto encode = [&](size_t block) {
      std::vector<std::string_view> fields;
      std::string scratch, error;
      for (size_t r = block * kBlock; r < std::min(rows, (block + 1) * kBlock); ++r) {
        kept[r].resize(options.keep.size());
        policy_in[r].assign(policy_fields, PolicyInput());
        if (!EncodeRow(job, chunk, r, matrix.data() + r * width, kept[r], policy_in[r], fields,
                       scratch, &error)) {
          errors.Report(r, error);
          return;
        }
        if (!enrich) job.encoder.Derive(matrix.data() + r * width);
      }
    };
    for_each_block(blocks, encode);
    if (errors.has_error()) return Status::DataError(errors.message());
    if (enrich) {  // the store's features, then what derives from them
      flat_fields.clear();
      for (size_t r = 0; r < rows; ++r)
        flat_fields.insert(flat_fields.end(), policy_in[r].begin(), policy_in[r].end());
      FOPS_RETURN_IF_ERROR(options.enrichment->fill(flat_fields, policy_fields,
                                                    job.enrichment_slots, rows, matrix.data()));
      for (size_t r = 0; r < rows; ++r) job.encoder.Derive(matrix.data() + r * width);
    }

    std::vector<double> margins =
        bundle.ensemble.PredictMargins(std::span<const double>(matrix), context);
    formatted.assign(blocks, std::string());
    positives.assign(blocks, 0);
    auto format = [&](size_t block) {
      FormatRows(job, block * kBlock, std::min(rows, (block + 1) * kBlock), matrix, margins, kept,
                 policy_in, formatted[block], &positives[block]);
    };
    for_each_block(blocks, format);
    for (size_t b = 0; b < blocks; ++b) {
      FOPS_RETURN_IF_ERROR(output.Write(formatted[b]));
      result.positives += positives[b];
    }
    result.rows += rows;
  }
  FOPS_RETURN_IF_ERROR(output.Commit());
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace fraudops
