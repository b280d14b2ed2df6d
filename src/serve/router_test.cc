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

TEST(RouterTest, MatchesPlaceholdersAndTellsUnknownPathsFromWrongMethods) {
  const Router router = Routes();
  auto message = Message(boost::beast::http::verb::get, "/v1/endpoints/fraud?x=1");
  HttpRequest request(message);
  HttpResponse response;
  RouteMatch match;
  const Route* route = router.Dispatch(request, response, match);
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->pattern, "/v1/endpoints/{endpoint}");
  EXPECT_EQ(response.body, "fraud");

  auto wrong = Message(boost::beast::http::verb::delete_, "/v1/endpoints/fraud");
  HttpRequest wrong_request(wrong);
  HttpResponse refused;
  RouteMatch none;
  EXPECT_EQ(router.Dispatch(wrong_request, refused, none), nullptr);
  EXPECT_EQ(refused.status, 405);
  EXPECT_EQ(Json::parse(refused.body)["error"]["code"], "method_not_allowed");

  auto unknown = Message(boost::beast::http::verb::get, "/v1/nothing/here/at/all");
  HttpRequest unknown_request(unknown);
  HttpResponse missing;
  RouteMatch nothing;
  EXPECT_EQ(router.Dispatch(unknown_request, missing, nothing), nullptr);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Json::parse(missing.body)["error"]["code"], "not_found");

  // Under /v2 the Open Inference Protocol's error shape.
  auto oip = Message(boost::beast::http::verb::get, "/v2/unknown");
  HttpRequest oip_request(oip);
  HttpResponse oip_missing;
  RouteMatch oip_none;
  router.Dispatch(oip_request, oip_missing, oip_none);
  EXPECT_TRUE(Json::parse(oip_missing.body)["error"].is_string()) << oip_missing.body;
}

TEST(RouterTest, AHandlerThatThrowsAnswers500OrForAWrongJsonType400InItsStyle) {
  const Router router = Routes();
  auto boom = Message(boost::beast::http::verb::post, "/v1/endpoints/fraud/explode");
  HttpRequest request(boom);
  HttpResponse response;
  RouteMatch match;
  ASSERT_NE(router.Dispatch(request, response, match), nullptr);
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(Json::parse(response.body)["error"]["message"], "boom");

  auto typed =
      Message(boost::beast::http::verb::post, "/v2/models/fraud/infer", R"({"inputs": 3})");
  HttpRequest typed_request(typed);
  HttpResponse typed_response;
  RouteMatch typed_match;
  const Route* route = router.Dispatch(typed_request, typed_response, typed_match);
  ASSERT_NE(route, nullptr);
  EXPECT_TRUE(route->counts_itself);
  EXPECT_EQ(typed_response.status, 400);
  EXPECT_TRUE(Json::parse(typed_response.body)["error"].is_string()) << typed_response.body;
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
