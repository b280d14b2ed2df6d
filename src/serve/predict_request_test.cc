#include "serve/predict_request.h"

#include <gtest/gtest.h>

#include <cmath>

namespace fraudops {
namespace {

/// amount (numeric), merchant (categorical: shop, fuel), hour (numeric).
FeatureEncoder Encoder() {
  static const InputSignature signature = [] {
    InputSignature s;
    s.features = {{"amount", false, {}, {}},
                  {"merchant", true, {"shop", "fuel"}, {}},
                  {"hour", false, {}, {}}};
    return s;
  }();
  return FeatureEncoder(signature, "is_fraud");
}

struct Parsed {
  bool ok;
  ParsedRows rows;
  RequestError error;
};

Parsed Predict(std::string body, std::string_view content_type = "application/json",
               size_t max_rows = 10) {
  Parsed p;
  p.ok = ParsePredictBody(body, content_type, Encoder(), max_rows, &p.rows, &p.error);
  return p;
}

Parsed Infer(std::string body, size_t max_rows = 10) {
  Parsed p;
  p.ok = ParseInferBody(body, Encoder(), max_rows, &p.rows, &p.error);
  return p;
}

TEST(PredictRequestTest, OneTransactionInAnyOrderWithMissingValues) {
  Parsed p = Predict(R"({"amount": 12.5, "merchant": "fuel", "hour": 23})");
  ASSERT_TRUE(p.ok) << p.error.message;
  EXPECT_FALSE(p.rows.batch);
  ASSERT_EQ(p.rows.rows, 1u);
  EXPECT_EQ(p.rows.values, (std::vector<double>{12.5, 1, 23}));
  Parsed reordered = Predict(
      R"({"hour": "23", "merchant": "fuel", "amount": 12.5})");  // a numeric string is a number
  ASSERT_TRUE(reordered.ok) << reordered.error.message;
  EXPECT_EQ(reordered.rows.values, p.rows.values);
  // Inputs are rounded to float as training stored them.
  Parsed rounded = Predict(R"({"amount": 0.1, "merchant": "shop", "hour": 1})");
  ASSERT_TRUE(rounded.ok);
  EXPECT_EQ(rounded.rows.values[0], static_cast<double>(0.1f));
  // null, "NaN", an unseen category: missing, for the trees' default directions.
  Parsed missing = Predict(R"({"amount": null, "merchant": "travel", "hour": "NaN"})");
  ASSERT_TRUE(missing.ok) << missing.error.message;
  for (double v : missing.rows.values) EXPECT_TRUE(std::isnan(v));
}

TEST(PredictRequestTest, BatchesOfObjectsArraysAndCsv) {
  Parsed objects = Predict(R"({"instances": [{"amount": 1, "merchant": "shop", "hour": 2},
                                             {"amount": 3, "merchant": "fuel", "hour": 4}]})");
  ASSERT_TRUE(objects.ok) << objects.error.message;
  EXPECT_TRUE(objects.rows.batch);
  EXPECT_EQ(objects.rows.values, (std::vector<double>{1, 0, 2, 3, 1, 4}));
  Parsed arrays = Predict(R"({"instances": [[1, "shop", 2], [3, "fuel", 4]]})");
  ASSERT_TRUE(arrays.ok) << arrays.error.message;
  EXPECT_EQ(arrays.rows.values, objects.rows.values);
  Parsed csv = Predict("hour,amount,merchant\n2,1,shop\n4,3,\"fuel\"\n", "text/csv; charset=utf-8");
  ASSERT_TRUE(csv.ok) << csv.error.message;
  EXPECT_EQ(csv.rows.values, objects.rows.values);
  Parsed short_row = Predict(R"({"instances": [[1, "shop"]]})");
  EXPECT_FALSE(short_row.ok);
  EXPECT_EQ(short_row.error.status, 400);
  EXPECT_NE(short_row.error.message.find("instance 0 has 2 values; the model takes 3"),
            std::string::npos);
  Parsed ragged = Predict("amount,merchant,hour\n1,shop\n", "text/csv");
  EXPECT_FALSE(ragged.ok);
  EXPECT_NE(ragged.error.message.find("CSV line 2 has 2 fields; the header has 3"),
            std::string::npos)
      << ragged.error.message;
}

TEST(PredictRequestTest, MalformedJsonSaysWhereAndFeatureProblemsAreListedTogether) {
  Parsed broken = Predict(R"({"amount": 1, "merchant": shop})");
  EXPECT_FALSE(broken.ok);
  EXPECT_EQ(broken.error.status, 400);
  EXPECT_EQ(broken.error.code, "malformed_json");
  EXPECT_EQ(broken.error.details["offset"], 27);  // the 's' of shop, counted from 1
  EXPECT_EQ(Predict("").error.status, 400);
  EXPECT_EQ(Predict("[1, 2]").error.status, 400);

  Parsed wrong = Predict(R"({"instances": [{"amount": true, "merchant": "shop", "hour": 1},
                                           {"amount": 1, "merchnat": "shop", "hour": 1, "hour": 2}]})");
  ASSERT_FALSE(wrong.ok);
  EXPECT_EQ(wrong.error.status, 422);
  EXPECT_EQ(wrong.error.code, "invalid_features");
  const auto& d = wrong.error.details;
  EXPECT_EQ(d["mistyped"][0]["feature"], "amount");
  EXPECT_EQ(d["mistyped"][0]["row"], 0);
  EXPECT_EQ(d["mistyped"][0]["got"], "boolean");
  EXPECT_EQ(d["missing"][0]["feature"], "merchant");
  EXPECT_EQ(d["missing"][0]["row"], 1);
  EXPECT_EQ(d["extra"][0]["feature"], "merchnat");
  EXPECT_EQ(d["duplicate"][0]["feature"], "hour");
  EXPECT_NE(d["hints"]["merchnat"].get<std::string>().find("'merchant'"), std::string::npos);
  EXPECT_NE(wrong.error.message.find("unknown merchnat (did you mean 'merchant'?)"),
            std::string::npos)
      << wrong.error.message;
  // The label sent with the features (rows copied from a training file): named as such.
  Parsed labelled = Predict(R"({"amount": 1, "merchant": "shop", "hour": 1, "is_fraud": 0})");
  ASSERT_FALSE(labelled.ok);
  EXPECT_NE(labelled.error.message.find("unknown is_fraud (the label: a score does not take it; "
                                        "send it to the endpoint's /feedback once known)"),
            std::string::npos)
      << labelled.error.message;
  // Missing features are listed in the order of the model's input signature (amount,
  // merchant, hour), not by name.
  Parsed missing = Predict(R"({"amount": 1})");
  ASSERT_FALSE(missing.ok);
  EXPECT_NE(missing.error.message.find("missing merchant, hour"), std::string::npos)
      << missing.error.message;
  EXPECT_EQ(missing.error.details["missing"][0]["feature"], "merchant");
  EXPECT_EQ(missing.error.details["missing"][1]["feature"], "hour");
  EXPECT_EQ(Predict(R"({"amount": "12,5", "merchant": "shop", "hour": 1})")
                .error.details["mistyped"][0]["got"],
            "\"12,5\"");

  Parsed too_many = Predict(R"({"instances": [[1, "shop", 2], [1, "shop", 2], [1, "shop", 2]]})",
                            "application/json", 2);
  EXPECT_EQ(too_many.error.status, 413);
  EXPECT_EQ(too_many.error.code, "too_many_rows");
  EXPECT_EQ(
      Predict("amount,merchant,hour\n1,shop,2\n1,shop,2\n1,shop,2\n", "text/csv", 2).error.status,
      413);
}

TEST(PredictRequestTest, OpenInferenceProtocolTensors) {
  Parsed matrix =
      Infer(R"({"id": "r1", "inputs": [{"name": "input-0", "shape": [2, 3], "datatype": "BYTES",
                                                     "data": [[1, "shop", 2], [3, "fuel", 4]]}]})");
  ASSERT_TRUE(matrix.ok) << matrix.error.message;
  EXPECT_EQ(matrix.rows.id, "r1");
  EXPECT_EQ(matrix.rows.values, (std::vector<double>{1, 0, 2, 3, 1, 4}));
  Parsed flat = Infer(R"({"inputs": [{"name": "x", "shape": [2, 3], "datatype": "BYTES",
                                      "data": [1, "shop", 2, 3, "fuel", 4]}]})");
  ASSERT_TRUE(flat.ok) << flat.error.message;
  EXPECT_EQ(flat.rows.values, matrix.rows.values);
  Parsed columns =
      Infer(R"({"inputs": [{"name": "hour", "shape": [2], "datatype": "FP64", "data": [2, 4]},
                                        {"name": "merchant", "shape": [2, 1], "datatype": "BYTES", "data": [["shop"], ["fuel"]]},
                                        {"name": "amount", "shape": [2], "datatype": "FP64", "data": [1, 3]}]})");
  ASSERT_TRUE(columns.ok) << columns.error.message;
  EXPECT_EQ(columns.rows.values, matrix.rows.values);

  EXPECT_NE(
      Infer(R"({"inputs": [{"name": "x", "shape": [2, 4], "data": [1, 2, 3, 4, 5, 6, 7, 8]}]})")
          .error.message.find("4 features per row; the model takes 3"),
      std::string::npos);
  EXPECT_NE(Infer(R"({"inputs": [{"name": "x", "shape": [2, 3], "data": [1, 2, 3]}]})")
                .error.message.find("has 3 values; shape 2 x 3 needs 6"),
            std::string::npos);
  EXPECT_EQ(Infer(R"({"inputs": [{"name": "x", "shape": [11, 3], "data": []}]})").error.status,
            413);
  Parsed uneven = Infer(R"({"inputs": [{"name": "hour", "shape": [2], "data": [2, 4]},
                                       {"name": "merchant", "shape": [1], "data": ["shop"]},
                                       {"name": "amount", "shape": [2], "data": [1, 3]}]})");
  EXPECT_NE(uneven.error.message.find("has 1 rows; the first tensor has 2"), std::string::npos)
      << uneven.error.message;
  Parsed missing = Infer(
      R"({"inputs": [{"name": "hour", "shape": [1], "data": [2]}, {"name": "amount", "shape": [1], "data": [1]}]})");
  EXPECT_EQ(missing.error.status, 422);
  EXPECT_EQ(missing.error.details["missing"][0]["feature"], "merchant");
  EXPECT_EQ(Infer(R"({"inputs": []})").error.status, 400);
  EXPECT_EQ(Infer(R"({"inputs": [{"name": "x", "shape": [1, 3], "data": [1, 2}]})").error.code,
            "malformed_json");
}

TEST(PredictRequestTest, JsonSyntaxErrorOffsets) {
  size_t offset = 0;
  std::string message;
  EXPECT_FALSE(FindJsonSyntaxError(R"({"a": [1, 2, {"b": null}]})", &offset, &message));
  ASSERT_TRUE(FindJsonSyntaxError(R"({"a": 1,})", &offset, &message));
  EXPECT_EQ(offset, 9u);  // positions count from 1: the closing brace
  EXPECT_FALSE(message.empty());
  ASSERT_TRUE(FindJsonSyntaxError("{\"a\": 1} trailing", &offset, &message));
  EXPECT_EQ(offset, 12u);  // "tr" could start true; the 'a' cannot
}

}  // namespace
}  // namespace fraudops
