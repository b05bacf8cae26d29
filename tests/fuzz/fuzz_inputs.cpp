// Bounded random-input fuzzing of every parser that reads outside input, run for a fixed time in CI
// (also under ASan+UBSan, PGE_SANITIZE): the TOML config loader, the web config loader, the cron
// parser, DSN redaction and the exposition builder fed hostile label values and help texts.
// Inputs are mutations (bit flips, byte insertions and deletions, splices, dictionary tokens) of
// seed files from the repository; each target checks a property, not just "did not crash":
//   - the loaders never throw and either load or report at least one error;
//   - a cron schedule that parses answers next_after() without failing;
//   - a DSN's password (a random token) never survives redact_dsn, whatever surrounds it;
//   - the exposition text parses back line by line and every label value and HELP text
//     round-trips through its escaping.
// A finding prints the input (hex) and exits 1. usage: fuzz_inputs SOURCE_DIR [--seconds=N]
// [--seed=N]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "collectors/cron_schedule.h"
#include "collectors/registry.h"
#include "core/config.h"
#include "core/dsn.h"
#include "exporter/render.h"
#include "exporter/web_config.h"

namespace {

using Rng = std::mt19937_64;
using Clock = std::chrono::steady_clock;

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> seeds_from(const std::string& dir, const std::string& ext) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ext) out.push_back(read(e.path()));
  }
  return out;
}

std::string hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

[[noreturn]] void finding(const char* target, const std::string& input, const std::string& what) {
  std::printf("FINDING in %s: %s\ninput (hex): %s\n", target, what.c_str(), hex(input).c_str());
  std::exit(1);
}

// One random mutation step of `s`; `dictionary` holds tokens that matter to the format.
void mutate(std::string& s, Rng& rng, const std::vector<std::string>& dictionary,
            const std::vector<std::string>& seeds) {
  const auto pos = [&] { return s.empty() ? 0 : static_cast<size_t>(rng() % (s.size() + 1)); };
  switch (rng() % 7) {
    case 0:
      if (!s.empty()) s[pos() % s.size()] ^= static_cast<char>(1u << (rng() % 8));
      break;
    case 1:
      s.insert(pos(), 1, static_cast<char>(rng()));
      break;
    case 2:
      if (!s.empty()) s.erase(pos() % s.size(), 1 + rng() % 16);
      break;
    case 3:
      s.insert(pos(), dictionary[rng() % dictionary.size()]);
      break;
    case 4: {  // splice in a piece of another seed
      const std::string& other = seeds[rng() % seeds.size()];
      if (!other.empty()) {
        const size_t from = rng() % other.size();
        s.insert(pos(), other.substr(from, 1 + rng() % 64));
      }
      break;
    }
    case 5: {  // duplicate a piece
      if (!s.empty()) {
        const size_t from = rng() % s.size();
        s.insert(pos(), s.substr(from, 1 + rng() % 32));
      }
      break;
    }
    default:
      s.insert(pos(), std::string(1 + rng() % 300, static_cast<char>(rng())));
  }
  if (s.size() > 64 * 1024) s.resize(64 * 1024);
}

// Runs `check` on mutated seeds until `seconds` pass; returns the number of inputs.
long run(const char* name, double seconds, Rng& rng, const std::vector<std::string>& seeds,
         const std::vector<std::string>& dictionary,
         const std::function<void(const std::string&)>& check) {
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  long n = 0;
  while (Clock::now() < end) {
    std::string input = seeds[rng() % seeds.size()];
    const int steps = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < steps; ++i) mutate(input, rng, dictionary, seeds);
    try {
      check(input);
    } catch (const std::exception& e) {
      finding(name, input, std::string("exception escaped: ") + e.what());
    }
    ++n;
  }
  std::printf("%-22s %9ld inputs in %.1f s, no finding\n", name, n, seconds);
  return n;
}

std::string random_token(Rng& rng, size_t n) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out = "Zq";
  for (size_t i = 0; i < n; ++i) out += a[rng() % 62];
  return out;
}

// A DSN with password `token` in one of the forms libpq accepts, with random other parameters.
std::string dsn_with_password(Rng& rng, const std::string& token, const std::string& noise) {
  const std::string extra =
      "host=db" + std::to_string(rng() % 9) + " dbname=app" + (rng() % 2 ? " sslmode=require" : "");
  switch (rng() % 6) {
    case 0:
      return extra + " password=" + token + " " + noise;
    case 1:
      return "password=" + token + " " + extra;
    case 2:
      return extra + " password = '" + token + " x\\'y' " + noise;
    case 3:
      return "postgresql://app:" + token + "@db:5432/app?sslmode=require";
    case 4:
      return "postgres://app@db/app?application_name=x&password=" + token + "&sslmode=disable";
    default:
      return extra + "  password='" + token + "'";
  }
}

// Parses one exposition line `name{l="v",...} value`, unescaping label values. False if malformed.
bool parse_sample(const std::string& line,
                  std::vector<std::pair<std::string, std::string>>& labels) {
  size_t i = line.find('{');
  if (i == std::string::npos) return line.find(' ') != std::string::npos;
  ++i;
  while (i < line.size() && line[i] != '}') {
    const size_t eq = line.find("=\"", i);
    if (eq == std::string::npos) return false;
    std::string name = line.substr(i, eq - i), value;
    i = eq + 2;
    for (; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\') {
        if (++i >= line.size()) return false;
        value += line[i] == 'n' ? '\n' : line[i];
      } else {
        value += line[i];
      }
    }
    if (i >= line.size()) return false;
    ++i;  // closing quote
    labels.emplace_back(name, value);
    if (i < line.size() && line[i] == ',') ++i;
  }
  return i < line.size() && line.compare(i, 2, "} ") == 0;
}

std::string unescape_help(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      ++i;
      out += s[i] == 'n' ? '\n' : s[i];
    } else {
      out += s[i];
    }
  }
  return out;
}

void check_exposition(const std::string& input) {
  // The input supplies a help text and label values (split at NUL); names stay valid, as the
  // collectors' tables guarantee, while values come from the database and may hold anything.
  std::vector<std::string> values{""};
  for (char c : input) {
    if (c == '\0')
      values.emplace_back();
    else
      values.back() += c;
  }
  const std::string help = values.front();
  pge::SnapshotBuilder b;
  for (size_t i = 0; i < values.size(); ++i) {
    b.gauge("fuzz_metric", help,
            {{"table", values[i]}, {"schema", values[(i + 1) % values.size()]}}, double(i));
  }
  auto snapshot = std::make_shared<const pge::Snapshot>(b.take());
  pge::SnapshotStore store;
  store.declare("t\"\\\n", {{"fuzz", 60}});
  pge::CollectorStatus status;
  status.ran = status.success = true;
  status.last_success_unix = status.last_run_unix = 1;
  status.series = values.size();
  store.put("t\"\\\n", "fuzz", snapshot, status);
  const std::string text = pge::render_text(store.view(1));
  std::istringstream lines(text);
  std::string line;
  size_t fuzz_samples = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("# HELP fuzz_metric ", 0) == 0) {
      if (unescape_help(line.substr(19)) != help)
        throw std::runtime_error("HELP text does not round-trip");
      continue;
    }
    if (line.rfind("# ", 0) == 0) continue;
    std::vector<std::pair<std::string, std::string>> labels;
    if (!parse_sample(line, labels)) throw std::runtime_error("malformed line: " + line);
    if (line.rfind("fuzz_metric{", 0) != 0) continue;
    ++fuzz_samples;
    bool found = false;
    for (const auto& [name, value] : labels) {
      if (name == "table") {
        for (const auto& v : values) found |= v == value;
      }
    }
    if (!found) throw std::runtime_error("a label value does not round-trip: " + line);
  }
  if (fuzz_samples == 0) throw std::runtime_error("no fuzz_metric series in the output");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fuzz_inputs SOURCE_DIR [--seconds=N] [--seed=N]\n");
    return 2;
  }
  const std::string src = argv[1];
  double seconds = 20;
  unsigned long long seed = std::random_device{}();
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--seconds=", 0) == 0)
      seconds = std::stod(a.substr(10));
    else if (a.rfind("--seed=", 0) == 0)
      seed = std::stoull(a.substr(7));
    else {
      std::fprintf(stderr, "fuzz_inputs: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  std::printf("seed %llu, %.0f s in all\n", seed, seconds);
  Rng rng(seed);
  const double each = seconds / 5;
  long total = 0;

  auto toml_seeds = seeds_from(src + "/tests/config", ".toml");
  toml_seeds.push_back(read(src + "/config/sharedminds.toml"));
  total +=
      run("TOML config", each, rng, toml_seeds, {"[[target]]", "[exporter]", "[collectors.tables]",
                                                 " = ",        "\"",         "'''",
                                                 "\"\"\"",     "\n",         "{",
                                                 "}",          "[",          "]",
                                                 "1e999",      "-0",         "nan",
                                                 "inf",        "\\u0000",    "\\",
                                                 "=",          ".",          "ms",
                                                 "h",          "\"1m30s\""},
          [](const std::string& in) {
            auto r = pge::load_config_text(in, "fuzz.toml", pge::known_collectors());
            if (!r.config && r.errors.empty()) throw std::runtime_error("refused without an error");
          });

  auto yaml_seeds = seeds_from(src + "/tests/web", ".yml");
  const std::string web_dir = src + "/tests/web";
  total += run("web config", each, rng, yaml_seeds,
               {"tls_server_config:\n",
                "basic_auth_users:\n",
                "  ",
                ": ",
                "- ",
                "&a ",
                "*a",
                "!!binary ",
                "{",
                "}",
                "[",
                "]",
                "\"",
                "'",
                "|",
                ">",
                "---\n",
                "...\n",
                "? ",
                "<<: *a",
                "%YAML 1.2\n",
                "~",
                "\t",
                "server.pem",
                "$2y$04$",
                "TLS13",
                "\n"},
               [&](const std::string& in) {
                 auto r = pge::load_web_config_text(in, "fuzz.yml", web_dir);
                 if (!r.config && r.errors.empty())
                   throw std::runtime_error("refused without an error");
               });

  std::vector<std::string> cron_seeds{
      "* * * * *",    "*/5 * * * *", "0 3 * * 0", "30 2 1,15 * *", "@hourly",
      "@daily",       "@reboot",     "5 seconds", "0 0 31 2 *",    "1-5/2 0-23 * jan-dec mon-fri",
      "59 23 29 2 *", "0 12 * * sun"};
  const auto now = std::chrono::system_clock::now();
  total += run(
      "cron parser", each, rng, cron_seeds,
      {"*", "/", "-", ",", " ", "60", "0", "31", "sun", "jan", "@", "seconds", "99999999999", "-1"},
      [&](const std::string& in) {
        std::string error;
        if (auto s = pge::CronSchedule::parse(in, &error)) {
          s->next_after(now);
        } else if (error.empty()) {
          throw std::runtime_error("refused without an error");
        }
      });

  std::vector<std::string> noise_seeds{
      "",        "sslmode=require", "options='-c x=y'", "user=password", "application_name='a b'",
      "password"};
  total += run("DSN redaction", each, rng, noise_seeds,
               {" ", "=", "'", "\\", "password", "@", ":", "/", "?", "&", "%40", "\t"},
               [&](const std::string& noise) {
                 const std::string token = random_token(rng, 12);
                 const std::string dsn = dsn_with_password(rng, token, noise);
                 if (pge::redact_dsn(dsn).find(token) != std::string::npos) {
                   finding("DSN redaction", dsn, "the password survived redaction");
                 }
               });

  std::vector<std::string> label_seeds{
      "public",    std::string("a\0b", 3),   "\"quoted\"", "back\\slash",
      "new\nline", "\xff\xfe invalid utf-8", "}{,=\"",     "#HELP"};
  total += run("exposition builder", each, rng, label_seeds,
               {"\\", "\"", "\n", "\r", "{", "}", ",", "=", "# HELP ", "\\n", std::string(1, '\0'),
                "\xc3\x28"},
               check_exposition);
  std::printf("total %ld inputs, no finding\n", total);
  return 0;
}
