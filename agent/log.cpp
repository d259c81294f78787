#include "log.h"

#include <cstdarg>
#include <cstdio>
#include <ctime>

namespace mv::agent {

void logLine(const char* format, ...) {
  char line[512];
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  tm utc{};
  gmtime_r(&now.tv_sec, &utc);
  int n = static_cast<int>(strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &utc));
  n += snprintf(line + n, sizeof(line) - n, ".%03ldZ medivote-agent: ", now.tv_nsec / 1000000);
  va_list args;
  va_start(args, format);
  vsnprintf(line + n, sizeof(line) - n, format, args);
  va_end(args);
  fprintf(stderr, "%s\n", line);
  fflush(stderr);
}

}  // namespace mv::agent
