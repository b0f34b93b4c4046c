#pragma once
// The report for machines (`--json`): one JSON object, durations in
// milliseconds as numbers, every operation (not only the first rows).

#include <ostream>

#include "report/report_model.hpp"

namespace agent_run::report {

void render_json(const Report& report, std::ostream& out);

}  // namespace agent_run::report
