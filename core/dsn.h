// Connection strings (DSNs) in both forms libpq accepts: key=value ("host=h password='a b'") and
// URI
// ("postgresql://u:p%40ss@h/db?sslmode=require"). They are read with libpq's own parser
// (PQconninfoParse), so the exporter sees a DSN exactly as the connection will, quoting and
// percent-escapes included. Pure functions; any thread may call them.
#pragma once

#include <string>

#include "core/duration.h"

namespace pge {

// The password a DSN sets, decoded ("" when it sets none or libpq cannot parse it): what error
// messages are scrubbed of.
std::string dsn_password(const std::string& dsn);
// The DSN for logs: every keyword it sets, in key=value form and libpq's keyword order, with the
// password as ******; a DSN libpq cannot parse is not shown at all (it may hold a password).
std::string redact_dsn(const std::string& dsn);
// The DSN with application_name, connect_timeout, TCP keepalives and tcp_user_timeout added unless
// the user set them (a peer that vanished without a reset is then noticed by the kernel).
std::string augment_dsn(const std::string& dsn, Seconds connect_timeout);
// The DSN with `password` added (percent-encoded in a URI, quoted in key=value form); for
// DATA_SOURCE_PASS_FILE, whose DSN carries no password of its own.
std::string dsn_with_password(const std::string& dsn, const std::string& password);
// The DSN with its database replaced by `dbname` (appended: libpq keeps the last value it reads),
// in the DSN's own form; for the databases a target discovers.
std::string dsn_with_dbname(const std::string& dsn, const std::string& dbname);

}  // namespace pge
