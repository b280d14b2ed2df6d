#include "serve/router.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace fraudops {
namespace {

using Json = nlohmann::json;

/// A Beast request message for `method` and `target`.
HttpRequest::Message Message(boost::beast::http::verb method, const std::string& target,
                             std::string body = "") {
  HttpRequest::Message message{method, target, 11};
  message.body() = std::move(body);
  return message;
}

Router Routes() {
  Router router;
  router.Add("GET", "/v1/endpoints/{endpoint}",
             [](const HttpRequest&, HttpResponse& response, const RouteMatch& m) {
               response.body = std::string(m.params[0]);
             });
  router.Add("POST", "/v1/endpoints/{endpoint}/explode",
             [](const HttpRequest&, HttpResponse&, const RouteMatch&) {
               throw std::runtime_error("boom");
             });
  router.Add(
      "POST", "/v2/models/{model}/infer",
      [](const HttpRequest& request, HttpResponse&, const RouteMatch&) {
        (void)Json::parse(request.body()).at("inputs").get<std::string>();  // a wrong type throws
      },
      {.errors = ErrorStyle::kOpenInference, .counts_itself = true});
  return router;
}

/// What dispatching one request did: the route it matched (null: none) and the response.
struct Dispatched {
  const Route* route = nullptr;
  HttpResponse response;
};

Dispatched Dispatch(const Router& router, boost::beast::http::verb method,
                    const std::string& target, std::string body = "") {
  auto message = Message(method, target, std::move(body));
  HttpRequest request(message);
  Dispatched out;
  RouteMatch match;
  out.route = router.Dispatch(request, out.response, match);
  return out;
}

TEST(RouterTest, MatchesPlaceholdersAndTellsUnknownPathsFromWrongMethods) {
  using boost::beast::http::verb;
  const Router router = Routes();
  const Dispatched found = Dispatch(router, verb::get, "/v1/endpoints/fraud?x=1");
  ASSERT_NE(found.route, nullptr);
  EXPECT_EQ(found.route->pattern, "/v1/endpoints/{endpoint}");
  EXPECT_EQ(found.response.body, "fraud");

  const Dispatched refused = Dispatch(router, verb::delete_, "/v1/endpoints/fraud");
  EXPECT_EQ(refused.route, nullptr);
  EXPECT_EQ(refused.response.status, 405);
  EXPECT_EQ(Json::parse(refused.response.body)["error"]["code"], "method_not_allowed");

  const Dispatched missing = Dispatch(router, verb::get, "/v1/nothing/here/at/all");
  EXPECT_EQ(missing.route, nullptr);
  EXPECT_EQ(missing.response.status, 404);
  EXPECT_EQ(Json::parse(missing.response.body)["error"]["code"], "not_found");

  // Under /v2 the Open Inference Protocol's error shape.
  const Dispatched oip_missing = Dispatch(router, verb::get, "/v2/unknown");
  EXPECT_TRUE(Json::parse(oip_missing.response.body)["error"].is_string())
      << oip_missing.response.body;
}

TEST(RouterTest, AHandlerThatThrowsAnswers500OrForAWrongJsonType400InItsStyle) {
  using boost::beast::http::verb;
  const Router router = Routes();
  const Dispatched boom = Dispatch(router, verb::post, "/v1/endpoints/fraud/explode");
  ASSERT_NE(boom.route, nullptr);
  EXPECT_EQ(boom.response.status, 500);
  EXPECT_EQ(Json::parse(boom.response.body)["error"]["message"], "boom");

  const Dispatched typed =
      Dispatch(router, verb::post, "/v2/models/fraud/infer", R"({"inputs": 3})");
  ASSERT_NE(typed.route, nullptr);
  EXPECT_TRUE(typed.route->counts_itself);
  EXPECT_EQ(typed.response.status, 400);
  EXPECT_TRUE(Json::parse(typed.response.body)["error"].is_string()) << typed.response.body;
}

TEST(HttpErrorTest, EveryStatusCodeMapsOnceAndTheBodyNamesIt) {
  EXPECT_EQ(HttpStatusFor(Status::InvalidArgument("x")), 400);
  EXPECT_EQ(HttpStatusFor(Status::DataError("x")), 422);
  EXPECT_EQ(HttpStatusFor(Status::NotFound("x")), 404);
  EXPECT_EQ(HttpStatusFor(Status::Conflict("x")), 409);
  EXPECT_EQ(HttpStatusFor(Status::Unimplemented("x")), 501);
  EXPECT_EQ(HttpStatusFor(Status::IoError("x")), 500);
  EXPECT_EQ(HttpStatusFor(Status::Internal("x")), 500);
  HttpResponse response;
  WriteStatus(response, ErrorStyle::kV1, Status::Conflict("endpoint changed"));
  const Json body = Json::parse(response.body);
  EXPECT_EQ(response.status, 409);
  EXPECT_EQ(body["error"]["status"], 409);
  EXPECT_EQ(body["error"]["code"], "conflict");
  EXPECT_EQ(body["error"]["message"], "endpoint changed");
  // The HTTP server's own refusals use the same writer: a code for 413 and 431 too.
  EXPECT_STREQ(ErrorCodeFor(413), "too_large");
  EXPECT_STREQ(ErrorCodeFor(431), "headers_too_large");
}

}  // namespace
}  // namespace fraudops
