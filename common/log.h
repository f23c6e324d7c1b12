/* SPDX-License-Identifier: MIT */
/* Edge-code logging: "<ident>: <level> <message>" on stderr, or timestamped lines in a file. */
#pragma once

#include <stdbool.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* -EINVAL for an unknown name ("error", "warn", "info", "debug"). */
int log_level_from_string(const char *s, enum log_level *ret);
const char *log_level_to_string(enum log_level l);
/* file NULL or "": stderr. Returns -errno when the file cannot be opened (then stderr is used). */
int log_open(const char *ident, const char *file, enum log_level level);
void log_close(void);
/* True when lines go to a log file (not stderr). */
bool log_to_file(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
