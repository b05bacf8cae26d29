// docs/config.md stays in step with the code: every collector and option in the registry, and every
// key of the example configurations (SharedMinds, a discovered cluster), is documented.
#include <gtest/gtest.h>
#include <toml++/toml.h>

#include <fstream>
#include <sstream>
#include <variant>

#include "collectors/registry.h"
#include "exporter/flags.h"
#include "exporter/web_config.h"
#include "tests/support/test_support.h"

namespace pge {
namespace {

std::string read_doc(const std::string& name) {
  std::ifstream in(test::source_dir() + "/docs/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void collect_keys(const toml::table& table, const std::string& prefix,
                  std::vector<std::string>& out) {
  for (auto&& [k, node] : table) {
    const std::string path =
        prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const toml::table* t = node.as_table(); t && path.find("labels") == std::string::npos) {
      if (prefix == "collectors") {
        collect_keys(*t, "collectors.NAME", out);
      } else {
        collect_keys(*t, path, out);
      }
    } else if (const toml::array* a = node.as_array(); a && a->is_array_of_tables()) {
      for (const auto& item : *a) collect_keys(*item.as_table(), path, out);
    } else {
      out.push_back(path);
    }
  }
}

TEST(Docs, EveryCollectorAndOptionIsInTheConfigReference) {
  const std::string doc = read_doc("config.md");
  for (const auto& info : collector_registry()) {
    EXPECT_NE(doc.find("`collectors." + info.name + "`"), std::string::npos) << info.name;
    for (const auto& opt : info.code.options) {
      EXPECT_NE(doc.find("`collectors." + info.name + "." + opt.name + "`"), std::string::npos)
          << info.name << "." << opt.name;
    }
  }
}

// An option's default as the reference's Default column writes it: 300, 0.005, false, `cron.job`.
std::string documented_default(const OptionSpec& opt) {
  if (const auto* text = std::get_if<std::string>(&opt.default_value)) return "`" + *text + "`";
  if (const auto* flag = std::get_if<bool>(&opt.default_value)) return *flag ? "true" : "false";
  std::ostringstream number;
  number << std::get<double>(opt.default_value);
  return number.str();
}

std::string trimmed(const std::string& text) {
  const auto first = text.find_first_not_of(' ');
  return first == std::string::npos ? ""
                                    : text.substr(first, text.find_last_not_of(' ') - first + 1);
}

// The cells of the table row that documents `key` (none when there is no such row).
std::vector<std::string> row_cells(const std::string& doc, const std::string& key) {
  std::istringstream lines(doc);
  std::vector<std::string> cells;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("|", 0) != 0 || line.find("`" + key + "`") == std::string::npos) continue;
    std::istringstream row(line.substr(1));
    for (std::string cell; std::getline(row, cell, '|');) {
      cells.push_back(trimmed(cell));
    }
    break;
  }
  return cells;
}

// The default a collector declares with its option is the one the reference gives.
TEST(Docs, EveryCollectorOptionDefaultIsTheDocumentedOne) {
  const std::string doc = read_doc("config.md");
  int options = 0;
  for (const auto& info : collector_registry()) {
    for (const auto& opt : info.code.options) {
      const std::string key = "collectors." + info.name + "." + opt.name;
      const auto cells = row_cells(doc, key);
      ASSERT_GE(cells.size(), 3u) << key << " has no row of key | type | default | meaning";
      EXPECT_EQ(cells[2], documented_default(opt)) << key;
      ++options;
    }
  }
  EXPECT_GE(options, 10);
}

// The keys of an example configuration in config/.
std::vector<std::string> example_keys(const std::string& file) {
  toml::table root = toml::parse_file(test::source_dir() + "/config/" + file);
  std::vector<std::string> keys;
  collect_keys(root, "", keys);
  return keys;
}

TEST(Docs, EveryKeyOfTheExampleConfigurationsIsInTheConfigReference) {
  const std::string doc = read_doc("config.md");
  std::vector<std::string> keys = example_keys("sharedminds.toml");
  EXPECT_GT(keys.size(), 20u);
  const std::vector<std::string> cluster = example_keys("cluster.toml");
  EXPECT_GE(cluster.size(), 5u);
  keys.insert(keys.end(), cluster.begin(), cluster.end());
  for (const auto& key : keys) {
    if (key.rfind("collectors.NAME.", 0) == 0) {
      const std::string leaf = key.substr(16);
      const bool common = leaf == "enabled" || leaf == "interval" || leaf == "timeout";
      EXPECT_TRUE(common || doc.find("." + leaf + "`") != std::string::npos) << key;
      continue;
    }
    EXPECT_NE(doc.find("`" + key + "`"), std::string::npos) << key << " is not documented";
  }
}

TEST(Docs, EveryWebConfigKeyIsInTheConfigReference) {
  const std::string doc = read_doc("config.md");
  const auto keys = web_config_keys();
  EXPECT_GT(keys.size(), 15u);
  for (const auto& key : keys) {
    EXPECT_NE(doc.find("`" + key + "`"), std::string::npos) << key << " is not documented";
  }
}

// Every flag that --help prints, with its environment variable, has a row in the reference.
TEST(Docs, EveryCommandLineFlagAndVariableIsInTheConfigReference) {
  const std::string doc = read_doc("config.md");
  const char* argv[] = {"pg_evolution_exporter", "--help"};
  const FlagsOutcome help = parse_flags(2, argv);
  ASSERT_EQ(help.exit_status, 0);
  std::istringstream lines(help.message);
  int flags = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto dash = line.find("--");
    if (dash == std::string::npos || line.find_first_not_of(' ') != dash) continue;
    std::string flag = line.substr(dash, line.find_first_of(" ,", dash) - dash);
    if (flag.rfind("--collector.", 0) == 0) {
      EXPECT_NE(doc.find("`collectors." + flag.substr(12) + "`"), std::string::npos) << flag;
      flag = "--collector.<name>";
    } else {
      EXPECT_NE(doc.find("`" + flag), std::string::npos) << flag << " is not documented";
      if (flag != "--help" && flag != "--version") {
        EXPECT_NE(doc.find("`" + env_name_of(flag) + "`"), std::string::npos) << env_name_of(flag);
      }
    }
    ++flags;
  }
  EXPECT_GE(flags, 7 + static_cast<int>(collector_registry().size()));
  EXPECT_NE(doc.find("`--collector.<name>` / `--no-collector.<name>`"), std::string::npos);
  EXPECT_NE(doc.find("`DATA_SOURCE_PASS_FILE`"), std::string::npos);
}

}  // namespace
}  // namespace pge
