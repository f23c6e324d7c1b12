/* SPDX-License-Identifier: MIT */
/* Edge-code logging: "<ident>: <level> <message>" on stderr, or timestamped lines in a file.
 * Every line is one line: control characters and bytes that are not UTF-8 in a message are written
 * as \xNN. Fields that come from outside go through LOG_Q() so they cannot forge other fields. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* -EINVAL for an unknown name ("error", "warn", "info", "debug"). */
int log_level_from_string(const char *s, enum log_level *ret);
const char *log_level_to_string(enum log_level l);
/* file NULL or "": stderr. Returns -errno when the file cannot be opened (then stderr is used). */
int log_open(const char *ident, const char *file, enum log_level level);
void log_close(void);
/* The open log_open uses, for a file named in an untrusted config: never through a symlink
 * (-ELOOP), never anything but a regular file with one name (-EBADFD, -EMLINK; a device is refused
 * before it is opened, a FIFO without blocking). */
int log_open_file(const char *file, int *ret_fd);
/* s as a quoted field: "..." with '"', '\\', control characters and bytes that are not UTF-8
 * escaped (\" \\ \n \r \t \xNN); cut with "..." to fit size. Returns buf. */
const char *log_quote(char *buf, size_t size, const char *s);
#define LOG_QUOTE_MAX 512
/* A quoted field for one log call (the buffer lives until the end of the enclosing block). */
#define LOG_Q(s) log_quote((char[LOG_QUOTE_MAX]){ 0 }, LOG_QUOTE_MAX, (s))
/* True when lines go to a log file (not stderr). */
bool log_to_file(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "<ident>: <message>" on stderr whatever the log destination, escaped like every log line. */
void log_stderr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
