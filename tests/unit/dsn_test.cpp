#include "core/dsn.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

namespace pge {
namespace {

constexpr const char* kTcp =
    "keepalives=1 keepalives_idle=10 keepalives_interval=5 keepalives_count=3 "
    "tcp_user_timeout=30000";
constexpr const char* kTcpUri =
    "&keepalives=1&keepalives_idle=10&keepalives_interval=5&keepalives_count=3&tcp_user_timeout="
    "30000";

TEST(Dsn, ApplicationNameConnectTimeoutAndTcpLivenessAreAddedUnlessSet) {
  EXPECT_EQ(augment_dsn("host=x", Seconds{5}),
            std::string("host=x application_name=pg_evolution_exporter connect_timeout=5 ") + kTcp);
  EXPECT_EQ(augment_dsn(std::string("host=x application_name=mine connect_timeout=2 ") + kTcp,
                        Seconds{5}),
            std::string("host=x application_name=mine connect_timeout=2 ") + kTcp);
  EXPECT_EQ(augment_dsn("host=x keepalives_idle=60 tcp_user_timeout=0", Seconds{5}),
            "host=x keepalives_idle=60 tcp_user_timeout=0 application_name=pg_evolution_exporter "
            "connect_timeout=5 keepalives=1 keepalives_interval=5 keepalives_count=3");
  EXPECT_EQ(
      augment_dsn("postgresql://h/db", Seconds{3}),
      std::string("postgresql://h/db?application_name=pg_evolution_exporter&connect_timeout=3") +
          kTcpUri);
  EXPECT_EQ(
      augment_dsn("postgresql://h/db?sslmode=disable", Seconds{3}),
      std::string("postgresql://h/"
                  "db?sslmode=disable&application_name=pg_evolution_exporter&connect_timeout=3") +
          kTcpUri);
}

// What libpq reads, not what a pattern finds: spaces around '=', quotes, escapes, percent-escapes.
TEST(Dsn, PasswordIsReadAsLibpqReadsItInBothForms) {
  EXPECT_EQ(dsn_password("host=h password = hunter2 user=u"), "hunter2");
  EXPECT_EQ(dsn_password(R"(host=h password='p a\'ss\\w=rd' user=u)"), R"(p a'ss\w=rd)");
  EXPECT_EQ(dsn_password("postgresql://u:p%40ss%3Aw%2Fo%20rd@h/db"), "p@ss:w/o rd");
  EXPECT_EQ(dsn_password("postgresql://h/db?sslmode=disable&password=a%26b%3Dc"), "a&b=c");
  EXPECT_EQ(dsn_password("host=h user=u"), "");
  EXPECT_EQ(dsn_password("host='unterminated password=x"), "");
}

TEST(Dsn, PasswordAddedFromAFileReadsBackUnchangedInBothForms) {
  for (const std::string password : {"simple", "p@ss w'o\\rd", "&=?/#%:", "ünïcødé"}) {
    for (const std::string dsn :
         {"host=h user=u", "", "postgresql://u@h:5432/db", "postgresql://h/db?sslmode=disable"}) {
      const std::string with = dsn_with_password(dsn, password);
      EXPECT_EQ(dsn_password(with), password) << with;
      EXPECT_EQ(redact_dsn(with).find(password), std::string::npos) << with;
    }
  }
}

// The value libpq reads for `keyword` from `dsn` ("" when unset or unparseable).
std::string libpq_value(const std::string& dsn, const std::string& keyword) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (error) PQfreemem(error);
  std::string value;
  for (const PQconninfoOption* o = options; o && o->keyword; ++o) {
    if (keyword == o->keyword && o->val) value = o->val;
  }
  PQconninfoFree(options);
  return value;
}

// A discovered database's DSN: the parent's, pointed at the database, in either form, whatever the
// database is called; the password and the other keywords stay.
TEST(Dsn, DsnWithDbnameReplacesTheDatabaseInBothForms) {
  for (const std::string name : {"app_2", "my db", "o'neil\\x", "a=b", "caf\xc3\xa9/1?&"}) {
    for (const std::string dsn :
         {"host=h dbname=postgres user=u password=s3cret", "host=h user=u",
          "postgresql://u:s3cret@h:5432/postgres?sslmode=disable", "postgresql://u@h/postgres"}) {
      const std::string with = dsn_with_dbname(dsn, name);
      EXPECT_EQ(libpq_value(with, "dbname"), name) << with;
      EXPECT_EQ(libpq_value(with, "host"), "h") << with;
      EXPECT_EQ(libpq_value(with, "user"), "u") << with;
      EXPECT_EQ(dsn_password(with), dsn_password(dsn)) << with;
    }
  }
}

// Every keyword in libpq's order, the password by keyword: a user name that contains the password
// stays readable, and a string libpq rejects is not echoed at all.
TEST(Dsn, RedactedDsnShowsEveryKeywordButThePassword) {
  EXPECT_EQ(redact_dsn("host=x password=hunter2 user=u"), "user=u password=****** host=x");
  EXPECT_EQ(redact_dsn("host=x password='a b' user=u"), "user=u password=****** host=x");
  EXPECT_EQ(redact_dsn("postgresql://u:hunter2@h:5432/db"),
            "user=u password=****** dbname=db host=h port=5432");
  EXPECT_EQ(redact_dsn("postgresql://h/db?password=hunter2&sslmode=off"),
            "password=****** dbname=db host=h sslmode=off");
  EXPECT_EQ(redact_dsn("host=x user=u"), "user=u host=x");
  EXPECT_EQ(redact_dsn("user=hunter2x password=hunter2 application_name='my app'"),
            "user=hunter2x password=****** application_name='my app'");
  EXPECT_EQ(redact_dsn("host='unterminated password=hunter2"), "(a DSN libpq cannot parse)");
}

}  // namespace
}  // namespace pge
