#include <gtest/gtest.h>

#include <chrono>

#include "core/log.h"

namespace pge::log {
namespace {

// 2026-01-02T03:04:05.678Z
const auto kTs = std::chrono::system_clock::time_point(std::chrono::milliseconds(1767323045678));

TEST(LogFormat, LogfmtQuotesOnlyValuesThatNeedIt) {
  EXPECT_EQ(format_line(Format::kLogfmt, kTs, Level::kInfo, "connected",
                        {{"target", "sharedminds"}, {"server_version", 150004}, {"empty", ""}}),
            "ts=2026-01-02T03:04:05.678Z level=info msg=connected target=sharedminds "
            "server_version=150004 empty=\"\"");
}

TEST(LogFormat, LogfmtKeepsAMultiLineLibpqErrorOnOneLine) {
  const std::string libpq =
      "connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n"
      "\tIs the server running on that host and accepting TCP/IP connections?\n";
  const std::string line = format_line(Format::kLogfmt, kTs, Level::kWarn, "database unavailable",
                                       {{"target", "a b"}, {"err", libpq}});
  EXPECT_EQ(line,
            "ts=2026-01-02T03:04:05.678Z level=warn msg=\"database unavailable\" target=\"a b\" "
            "err=\"connection to server at \\\"127.0.0.1\\\", port 1 failed: Connection refused\\n"
            "\\tIs the server running on that host and accepting TCP/IP connections?\\n\"");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(LogFormat, LogfmtQuotesEqualsSignsBackslashesAndControlCharacters) {
  EXPECT_EQ(format_line(Format::kLogfmt, kTs, Level::kError, "x",
                        {{"dsn", "host=h password=******"}, {"path", "C:\\x"}, {"bell", "\a"}}),
            "ts=2026-01-02T03:04:05.678Z level=error msg=x dsn=\"host=h password=******\" "
            "path=\"C:\\\\x\" bell=\"\\u0007\"");
}

TEST(LogFormat, JsonEscapesEveryValueAndReplacesInvalidUtf8) {
  EXPECT_EQ(format_line(Format::kJson, kTs, Level::kDebug, "collector ran",
                        {{"err", "line 1\n\"quoted\" \\ é"},
                         {"bytes", std::string("a\xff"
                                               "b")},
                         {"ok", true}}),
            "{\"ts\":\"2026-01-02T03:04:05.678Z\",\"level\":\"debug\",\"msg\":\"collector ran\","
            "\"err\":\"line 1\\n\\\"quoted\\\" \\\\ é\",\"bytes\":\"a\xEF\xBF\xBD"
            "b\",\"ok\":\"true\"}");
}

TEST(LogFormat, LevelNamesAreDebugInfoWarnError) {
  EXPECT_EQ(level_name(Level::kWarn), "warn");
  EXPECT_EQ(level_name(Level::kError), "error");
  EXPECT_EQ(parse_level("warn"), Level::kWarn);
  EXPECT_FALSE(parse_level("warning").has_value());
  EXPECT_FALSE(parse_level("WARN").has_value());
  EXPECT_FALSE(parse_level("critical").has_value());
  EXPECT_FALSE(parse_level("trace").has_value());
  EXPECT_EQ(parse_format("json"), Format::kJson);
  EXPECT_FALSE(parse_format("text").has_value());
}

}  // namespace
}  // namespace pge::log
