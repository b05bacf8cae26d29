#include "collectors/run_once.h"

namespace pge {

namespace {

using Clock = std::chrono::steady_clock;

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// Runs the collector in its transaction; every exception becomes a RunError.
std::variant<Snapshot, RunError> collect_in_transaction(Collector& collector, Database& db,
                                                        const RunRequest& request,
                                                        CollectContext& ctx) {
  try {
    Snapshot snapshot;
    const TransactionLimits limits{request.settings.timeout, request.lock_timeout,
                                   !collector.writes()};
    db.run(limits, [&](Session& session) { snapshot = collector.collect(session, ctx); });
    add_labels(snapshot, target_labels(request.target));
    return snapshot;
  } catch (const ConnectionLost& e) {
    return RunError{std::string("connection lost: ") + e.what(), "", true};
  } catch (const QueryError& e) {
    return RunError{first_line(e.what()), e.sqlstate()};
  } catch (const std::exception& e) {
    return RunError{e.what(), ""};
  } catch (...) {
    return RunError{"unknown exception (not derived from std::exception)", ""};
  }
}

}  // namespace

Labels target_labels(const Target& target) {
  Labels labels{{"target", target.name}};
  for (const auto& [k, v] : target.labels) labels.emplace_back(k, v);
  return labels;
}

RunResult run_once(Collector& collector, Database& db, const RunRequest& request) {
  CollectContext ctx{request.target, request.settings, std::chrono::system_clock::now()};
  ctx.cut = request.cut;
  RunResult result;
  try {
    if (collector.idle(ctx)) {
      result.ran = false;
      return result;
    }
  } catch (...) {
    // idle() only looks at the collector's own state; should it fail, running is the safe answer.
  }
  const auto started = Clock::now();
  result.outcome = collect_in_transaction(collector, db, request, ctx);
  result.duration = Clock::now() - started;
  result.lock_skips = ctx.lock_skips;
  result.relations_skipped = ctx.relations_skipped;
  return result;
}

}  // namespace pge
