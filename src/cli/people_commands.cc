#include "cli/people_commands.h"

#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/common.h"
#include "cli/exit_codes.h"
#include "cli/remote.h"
#include "core/files.h"
#include "core/strings.h"
#include "store/identity.h"
#include "store/serving_store.h"

namespace fraudops {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

struct PeopleArgs {
  std::string config_path, home;
  bool json = false;
  std::string user, name, url;
  std::vector<std::string> roles;
  bool password_stdin = false, prompt_password = false;
  bool disable = false, enable = false;
  double days = 0;
};

/// A password from the first line of stdin (`from_stdin`) or typed at the terminal without
/// echo; never from the command line, where other users of the machine could read it.
Result<std::string> ReadPassword(bool from_stdin, const std::string& prompt) {
  std::string password;
  if (from_stdin) {
    if (!std::getline(std::cin, password))
      return Status::InvalidArgument("--password-stdin: no password on standard input");
  } else {
    if (!isatty(STDIN_FILENO)) {
      return Status::InvalidArgument(
          "no terminal to type the password at; pipe it with --password-stdin");
    }
    std::fprintf(stderr, "%s", prompt.c_str());
    termios old{};
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::getline(std::cin, password);
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  return password;
}

/// Users as a table: `users` an array, or one user.
void PrintUsers(const Json& users) {
  std::printf("%-24s %-40s %-10s %s\n", "NAME", "ROLES", "STATE", "SIGN-IN");
  for (const Json& user : users.is_array() ? users : Json::array({users})) {
    std::printf("%-24s %-40s %-10s %s\n", user.value("name", "").c_str(),
                Join(user.value("roles", std::vector<std::string>{}), ",").c_str(),
                user.contains("disabled_at") ? "disabled" : "active",
                user.value("has_password", false) ? "password" : "no password");
  }
}

/// Runs `local` against the workspace's store, or `remote` through the server in shared mode.
/// `bootstrap`: a shared registry without users yet takes its first admin directly (whoever
/// holds the database credentials), since nobody could sign in to add one.
template <class Local, class Remote>
int Governed(const PeopleArgs& args, Local local, Remote remote, bool bootstrap = false) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  if (bootstrap && SharedMode(stores->config)) {
    auto users = ServingStore(*stores->metadata).ListUsers();
    if (!users.ok()) return Fail(users.status());
    if (users->empty()) {
      if (std::find(args.roles.begin(), args.roles.end(), "admin") == args.roles.end()) {
        return Fail(Status::PermissionDenied(
            "this shared registry has no users yet: the first one must hold the admin role "
            "(fraudops users add NAME --role admin --prompt-password), then sign in"));
      }
      Result<Json> out = local(*stores);
      if (!out.ok()) return Fail(out.status());
      if (args.json) PrintJson(*out);
      return args.json ? kExitOk : -1;
    }
  }
  auto client = GovernedRemote(stores->config);
  if (!client.ok()) return Fail(client.status());
  Result<Json> out = *client ? remote(**client) : local(*stores);
  if (!out.ok()) return Fail(out.status());
  if (args.json) {
    PrintJson(*out);
    return kExitOk;
  }
  return -1;  // the caller prints `out` its own way
}

int UsersAdd(const PeopleArgs& args) {
  std::string hash, password;
  if (args.password_stdin || args.prompt_password) {
    auto read = ReadPassword(args.password_stdin, "password for " + args.user + ": ");
    if (!read.ok()) return Fail(read.status());
    password = *read;
    if (Status strong = CheckPasswordStrength(password); !strong.ok()) return Fail(strong);
  }
  Json out;
  int code = Governed(
      args,
      [&](Stores& stores) -> Result<Json> {
        if (!password.empty()) {
          FOPS_ASSIGN_OR_RETURN(hash, HashPassword(password));
        }
        ServingStore serving(*stores.metadata);
        FOPS_RETURN_IF_ERROR(serving.CreateUser(args.user, args.roles, hash, CurrentActor()));
        FOPS_ASSIGN_OR_RETURN(auto user, serving.FindUser(args.user));
        return out = user->ToJson();
      },
      [&](const RemoteAdmin& remote) -> Result<Json> {
        Json body = {{"name", args.user}, {"roles", args.roles}};
        if (!password.empty()) body["password"] = password;
        FOPS_ASSIGN_OR_RETURN(out, remote.Call("POST", "/v1/admin/users", body));
        return out;
      },
      /*bootstrap=*/true);
  if (code != -1) return code;
  PrintUsers(out);
  return kExitOk;
}

int UsersList(const PeopleArgs& args) {
  Json out;
  int code = Governed(
      args,
      [&](Stores& stores) -> Result<Json> {
        FOPS_ASSIGN_OR_RETURN(auto users, ServingStore(*stores.metadata).ListUsers());
        out = Json::array();
        for (const auto& u : users) out.push_back(u.ToJson());
        return out;
      },
      [&](const RemoteAdmin& remote) -> Result<Json> {
        FOPS_ASSIGN_OR_RETURN(Json answer, remote.Call("GET", "/v1/admin/users"));
        return out = answer["users"];
      });
  if (code != -1) return code;
  PrintUsers(out);
  return kExitOk;
}

int UsersSet(const PeopleArgs& args) {
  if (args.disable && args.enable) return Fail(Status::InvalidArgument("--disable or --enable"));
  ServingStore::UserChange change;
  if (!args.roles.empty()) change.roles = args.roles;
  if (args.disable || args.enable) change.disabled = args.disable;
  std::string password;
  if (args.password_stdin || args.prompt_password) {
    auto read = ReadPassword(args.password_stdin, "new password for " + args.user + ": ");
    if (!read.ok()) return Fail(read.status());
    password = *read;
    if (Status strong = CheckPasswordStrength(password); !strong.ok()) return Fail(strong);
  }
  if (!change.roles && !change.disabled && password.empty()) {
    return Fail(Status::InvalidArgument(
        "users set needs --role, --disable, --enable, --password-stdin or --prompt-password"));
  }
  Json out;
  int code = Governed(
      args,
      [&](Stores& stores) -> Result<Json> {
        if (!password.empty()) {
          FOPS_ASSIGN_OR_RETURN(change.password_hash, HashPassword(password));
        }
        ServingStore serving(*stores.metadata);
        FOPS_RETURN_IF_ERROR(serving.ChangeUser(args.user, change, CurrentActor()));
        FOPS_ASSIGN_OR_RETURN(auto user, serving.FindUser(args.user));
        return out = user->ToJson();
      },
      [&](const RemoteAdmin& remote) -> Result<Json> {
        Json body = Json::object();
        if (change.roles) body["roles"] = *change.roles;
        if (change.disabled) body["disabled"] = *change.disabled;
        if (!password.empty()) body["password"] = password;
        FOPS_ASSIGN_OR_RETURN(
            out, remote.Call("PATCH", "/v1/admin/users/" + PathSegment(args.user), body));
        return out;
      });
  if (code != -1) return code;
  PrintUsers(out);
  return kExitOk;
}

int UsersToken(const PeopleArgs& args) {
  Json out;
  int code = Governed(
      args,
      [&](Stores& stores) -> Result<Json> {
        const double days = args.days > 0 ? args.days : stores.config.api.token_days;
        FOPS_ASSIGN_OR_RETURN(
            CreatedKey created,
            ServingStore(*stores.metadata)
                .CreateUserToken(args.user, args.name,
                                 std::chrono::seconds(static_cast<int64_t>(days * 86400)),
                                 CurrentActor()));
        out = created.record.ToJson();
        out["key"] = created.key;
        return out;
      },
      [&](const RemoteAdmin& remote) -> Result<Json> {
        Json body = {{"name", args.name}};
        if (args.days > 0) body["days"] = args.days;
        FOPS_ASSIGN_OR_RETURN(
            out,
            remote.Call("POST", "/v1/admin/users/" + PathSegment(args.user) + "/tokens", body));
        return out;
      });
  if (code != -1) return code;
  std::printf("%s\n", out.value("key", "").c_str());
  std::fprintf(stderr,
               "personal access token %s of %s, valid until %s. Shown once: only its salted "
               "hash is stored.\n",
               out.value("id", "").c_str(), args.user.c_str(), out.value("expires_at", "").c_str());
  return kExitOk;
}

int Login(const PeopleArgs& args) {
  std::string url = args.url;
  if (url.empty()) {
    const char* env = std::getenv("FRAUDOPS_URL");
    url = env ? env : "";
  }
  if (url.empty())
    return Fail(Status::InvalidArgument("login needs --url (the server), or FRAUDOPS_URL"));
  while (!url.empty() && url.back() == '/') url.pop_back();
  {  // global.ca_file (the file's, or FRAUDOPS_GLOBAL_CA_FILE) for an HTTPS server
    LoadOptions options;
    options.config_path = args.config_path;
    auto config = LoadCheckedConfig(options);
    if (!config.ok()) return Fail(config.status());
  }
  std::string user = args.user;
  if (user.empty()) {
    std::fprintf(stderr, "user: ");
    std::getline(std::cin, user);
  }
  auto password = ReadPassword(args.password_stdin, "password for " + user + ": ");
  if (!password.ok()) return Fail(password.status());
  RemoteAdmin anonymous{url, ""};
  auto answer = anonymous.Call("POST", "/v1/login",
                               {{"user", user},
                                {"password", *password},
                                {"token_name", "fraudops login on " + CurrentActor()}});
  if (!answer.ok()) return Fail(answer.status());
  const std::string path = CredentialsPath();
  Json saved = {{"url", url},
                {"user", answer->value("user", user)},
                {"token", answer->value("key", "")},
                {"expires_at", answer->value("expires_at", "")}};
  if (Status made = MakeDirectories(fs::path(path).parent_path().string()); !made.ok())
    return Fail(made);
  // Readable by this user only, written whole (a temporary file renamed into place).
  const mode_t old_mask = umask(077);
  Status written = WriteFileAtomic(path, saved.dump(2) + "\n");
  umask(old_mask);
  if (!written.ok()) return Fail(written);
  std::printf("signed in to %s as %s (%s) until %s; the token is in %s\n", url.c_str(),
              saved["user"].get<std::string>().c_str(),
              Join(answer->value("roles", std::vector<std::string>{}), ",").c_str(),
              saved["expires_at"].get<std::string>().c_str(), path.c_str());
  return kExitOk;
}

int Logout(const PeopleArgs&) {
  const std::string path = CredentialsPath();
  std::error_code error;
  const bool removed = fs::remove(path, error);
  std::printf("%s\n", removed ? ("removed " + path).c_str() : "not signed in");
  return kExitOk;
}

int WhoAmI(const PeopleArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  auto client = GovernedRemote(stores->config);
  if (!client.ok()) return Fail(client.status());
  Json out;
  if (*client) {
    auto answer = (*client)->Call("GET", "/v1/admin/whoami");
    if (!answer.ok()) return Fail(answer.status());
    out = *answer;
    out["server"] = (*client)->url;
  } else {
    out = {{"actor", CurrentActor()},
           {"kind", "local"},
           {"note", "a local workspace: its owner acts directly on its store"}};
  }
  if (args.json) {
    PrintJson(out);
  } else {
    std::printf("%s", out.value("actor", "").c_str());
    if (out.contains("roles"))
      std::printf(" (%s)", Join(out["roles"].get<std::vector<std::string>>(), ",").c_str());
    if (out.contains("server")) std::printf(" at %s", out["server"].get<std::string>().c_str());
    std::printf("\n");
  }
  return kExitOk;
}

}  // namespace

std::function<int()> AddPeopleCommands(CLI::App& app) {
  auto args = std::make_shared<PeopleArgs>();
  auto common = [&](CLI::App* command, bool json = true) {
    command->add_option("--config", args->config_path, "Configuration file");
    command->add_option("--home", args->home, "Workspace directory (overrides global.home)");
    if (json) command->add_flag("--json", args->json, "Print JSON");
  };
  const std::string roles = Join(RoleNames(), ", ");
  auto* users = app.add_subcommand(
      "users", "People and their roles (docs/governance.md); through the server in shared mode.");
  users->require_subcommand(1);
  auto* add = users->add_subcommand("add", "Add a user with roles.");
  common(add);
  add->add_option("NAME", args->user, "User name (as the identity provider and runs name them)")
      ->required();
  add->add_option("--role", args->roles, roles + " (repeat)")->required();
  add->add_flag("--password-stdin", args->password_stdin,
                "Read a password from standard input (without one the user signs in by token "
                "or OIDC)");
  add->add_flag("--prompt-password", args->prompt_password, "Type a password at the terminal");
  auto* list = users->add_subcommand("list", "Users, their roles and state.");
  common(list);
  auto* set = users->add_subcommand("set", "Change a user's roles, password, or state.");
  common(set);
  set->add_option("NAME", args->user, "User name")->required();
  set->add_option("--role", args->roles, "The roles the user now holds (replaces them; repeat)");
  set->add_flag("--disable", args->disable, "Disable the user: their tokens stop working");
  set->add_flag("--enable", args->enable, "Enable the user again");
  set->add_flag("--password-stdin", args->password_stdin,
                "Read a new password from standard input");
  set->add_flag("--prompt-password", args->prompt_password, "Type a new password");
  auto* token = users->add_subcommand(
      "token", "Make a personal access token for a user (printed once; for scripts and CI).");
  common(token);
  token->add_option("NAME", args->user, "User name")->required();
  token->add_option("--name", args->name, "What the token is for")->required();
  token->add_option("--days", args->days, "How long it lasts (default: api.token_days)");

  auto* login = app.add_subcommand(
      "login", "Sign in to a fraudops server; the token is kept for the governed commands.");
  login->add_option("--url", args->url, "The server, e.g. https://fraudops.bank.internal");
  login->add_option("--user", args->user, "User name (asked when not given)");
  login->add_flag("--password-stdin", args->password_stdin,
                  "Read the password from standard input");
  login->add_option("--config", args->config_path,
                    "Configuration file (its global.ca_file: the CAs the server's certificate "
                    "may chain to)");
  auto* logout = app.add_subcommand("logout", "Forget the token fraudops login saved.");
  auto* whoami = app.add_subcommand("whoami", "Who the governed commands act as.");
  common(whoami);

  return [=]() -> int {
    if (*add) return UsersAdd(*args);
    if (*list) return UsersList(*args);
    if (*set) return UsersSet(*args);
    if (*token) return UsersToken(*args);
    if (*login) return Login(*args);
    if (*logout) return Logout(*args);
    if (*whoami) return WhoAmI(*args);
    return -1;
  };
}

}  // namespace fraudops
